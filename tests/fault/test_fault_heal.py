"""Scenario 2: a chunk server dies for good and the cluster heals itself.

Five chunk servers, three replicas, meta with a short --down-after and
--out-after and chunk servers that recover without a rate limit. After a
dataset is acknowledged, one node is SIGKILLed and nobody touches the
cluster again: meta marks it DOWN, then OUT, gives every PG it was in a
new member, and the survivors backfill those members until every PG has
three healthy members, none recovering, no bytes left. The scenario
records how long that took (from the kill, and from the moment the node
was OUT), then proves the healing was real: every acknowledged file reads
back bit-exact, every member of every chain holds every chunk byte for
byte, and the OUT node is in no chain. Finally the dead node comes back on
its old disk (it is a new, empty member now): the cluster stays healthy
and everything still reads back.

CAIRN_FAULT_HEAL_BYTES sets the dataset size (default 192 MiB);
CAIRN_FAULT_SEED the random choices (victim, file sizes).
"""

import os
import time

from faultlib import MIB, Dataset, scenario_rng, wait_for, wait_seconds

DATA_BYTES = int(os.environ.get("CAIRN_FAULT_HEAL_BYTES", str(192 * MIB)))
DOWN_AFTER, OUT_AFTER = 2, 4
HEAL_TIMEOUT = 240  # from the kill; the dataset heals in well under a minute


def test_dead_node_heals_unattended(cluster_factory):
    rng = scenario_rng()
    cluster = cluster_factory(5, client_hosts=2,
                              meta_args=["--down-after", str(DOWN_AFTER),
                                         "--out-after", str(OUT_AFTER)],
                              chunk_args=["--recovery-rate", "0"])
    writer, reader = cluster.clients
    ds = Dataset(cluster.net.tmp / "src")

    # Half the data in 8 MiB chunks (the default), half in 1 MiB chunks,
    # so the dataset reaches most PGs and the victim's share is spread
    # over many chains.
    writer.ok("mkdir", "-p", "/big", "/small")
    writer.ok("policy", "set", "--chunk-size", "1M", "/small")
    written, i = 0, 0
    while written < DATA_BYTES:
        size = min(DATA_BYTES - written, rng.randint(4 * MIB, 40 * MIB) + rng.randrange(MIB))
        remote = f"/{'small' if i % 2 else 'big'}/f{i:02d}"
        r = ds.put(writer, ds.source(f"f{i:02d}", size), remote)
        assert r.ok, r
        written += size
        i += 1
    st = cluster.wait_pgs_healthy(timeout=30)
    assert all(n["state"] == "up" for n in st["nodes"])

    victim = rng.choice(cluster.chunks)
    victim_id = victim.node_id
    held = sum(1 for pg in st["pgs"] if victim_id in pg["chain"])
    used = cluster.disk_bytes(victim)
    print(f"{len(ds.acked)} files, {written / MIB:.0f} MiB acknowledged; victim {victim} "
          f"(node {victim_id}) in {held} chains, {used / MIB:.0f} MiB of chunks on its disk")

    seen = {"down": None, "out": None, "recovering": 0, "min_healthy": 3,
            "bytes_left": 0}

    def record(st):
        now = time.monotonic() - t0
        state = {n["id"]: n["state"] for n in st["nodes"]}[victim_id]
        for s in ("down", "out"):
            if state == s and seen[s] is None:
                seen[s] = now
        if state == "out" and seen["down"] is None:
            seen["down"] = now  # passed through DOWN between two samples
        rec = st["recovery"]
        seen["recovering"] = max(seen["recovering"], rec["pgs_by_state"]["recovering"])
        seen["bytes_left"] = max(seen["bytes_left"], rec["bytes_left"])
        seen["min_healthy"] = min(seen["min_healthy"], cluster.min_healthy(st))

    t0 = time.monotonic()
    victim.crash()
    # Nobody intervenes from here on: only status is read.
    wait_for(lambda: record(cluster.status()) or seen["out"] is not None,
             timeout=DOWN_AFTER + OUT_AFTER + 30, interval=0.2, what=f"{victim} out")
    # A write while the cluster heals: it must end up on every member,
    # recovering ones included.
    during = ds.source("during", 6 * MIB + 4321)
    r = ds.put(writer, during, "/small/during")
    assert r.ok, r
    st = cluster.wait_pgs_healthy(timeout=HEAL_TIMEOUT - (time.monotonic() - t0),
                                  interval=0.2, on_sample=record)
    healed = time.monotonic() - t0
    print(f"node {victim_id} DOWN after {seen['down']:.1f}s, OUT after {seen['out']:.1f}s; "
          f"every PG healthy {healed:.1f}s after the kill ({healed - seen['out']:.1f}s of "
          f"recovery); at most {seen['recovering']} PGs recovering, "
          f"{seen['bytes_left'] / MIB:.0f} MiB left at the peak, "
          f"fewest healthy members of a PG {seen['min_healthy']}")

    # The victim is OUT and in no chain; every chain is full again, and
    # the survivors hold its share (it was in chains, recovery copied).
    states = {n["id"]: n["state"] for n in st["nodes"]}
    assert states[victim_id] == "out", states
    assert all(s == "up" for n, s in states.items() if n != victim_id), states
    assert not any(victim_id in pg["chain"] for pg in st["pgs"])
    assert all(len(pg["chain"]) == 3 and len(set(pg["chain"])) == 3 for pg in st["pgs"])
    assert held > 0 and seen["min_healthy"] == 2, seen

    for remote in sorted(ds.acked):
        ds.check_replicas(cluster, reader, remote)
    acked, _ = ds.verify(reader)
    print(f"{acked} acknowledged files on every member of their chains and bit-exact")

    # The dead node comes back on its old disk: an empty new member to
    # meta, it gets PGs only by moves; meanwhile no PG loses a copy.
    victim.start()
    cluster.wait_node_state(victim, "up", timeout=30)
    dips = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = cluster.status()
        if cluster.min_healthy(st) < 3:
            dips.append(cluster.pg_problems(st))
        wait_seconds(0.5)
    assert not dips, dips[0]
    # PGs may be moving onto it now: it holds what it has claimed, the
    # other members hold everything.
    for remote in sorted(ds.acked):
        ds.check_replicas(cluster, reader, remote,
                          required=lambda pg, chain: [n for n in chain if n != victim_id])
    ds.verify(writer)
