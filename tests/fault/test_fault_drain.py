"""Scenario 4: drain one of five chunk servers while a client writes and
another reads, then remove it.

`cairn admin drain NODE` gives every chain holding the node a replacement
that copies the PG, and the node leaves each chain once its replacement is
healthy (docs/cluster.md, "Recovery"). The scenario proves:

- a drain never takes a PG below R = 3 healthy members: admin status,
  sampled all along the drain, never shows a PG with fewer;
- the drain completes by itself (bounded): the node is in no chain, every
  chain has three members, every PG is healthy, status reports 0 PGs left;
- clients do not notice: every put during the drain is acknowledged, every
  read of an acknowledged file (another client host, files picked at
  random, over and over) returns the acknowledged bytes, none fails;
- `cairn admin remove` is refused, changing nothing, while the node is UP
  (not drained), while it is still a member of a chain (drain under way),
  and for an unknown node; after the drain and the node's stop (DOWN, so
  a drain is refused now) it is accepted and the node is forgotten;
  started again on its old disk, the removed node stays unregistered;
- at the end every chunk of every acknowledged file is on every member of
  its chain byte for byte, and every acknowledged file reads back bit-exact.
"""

import time

from faultlib import MIB, Dataset, ReadStream, WriteStream, scenario_rng, wait_seconds
from faultlib.servers import CHUNK_HTTP

CHUNK = 1 * MIB  # small chunks: every file spreads over several PGs
PGS = 64
R = 3
# Backfill paced slowly, so the drain lasts several seconds of writes,
# reads and status samples (`admin status` takes a second per sample while
# anything copies: it measures the rate).
RECOVERY_RATE = "1MiB"
DRAIN_TIMEOUT = 120


def refused(client, cmd, *args, message):
    """`admin CMD ARGS` exits 1 with `message` in its error."""
    r = client.run("admin", cmd, *args, timeout=20)
    assert r.returncode == 1 and message in r.stderr, f"expected a refusal ({message}):\n{r!r}"
    return r


def test_drain_under_load_then_remove(cluster_factory):
    rng = scenario_rng()
    cluster = cluster_factory(5, client_hosts=2,
                              meta_args=["--down-after", "2", "--pg-count", str(PGS)],
                              chunk_args=["--recovery-rate", RECOVERY_RATE])
    writer, reader = cluster.clients
    ds = Dataset(cluster.net.tmp / "src")
    writer.ok("mkdir", "/d")
    writer.ok("policy", "set", "/d", "--chunk-size", str(CHUNK))

    # Data for the drain to copy (about 40 chunks of 1 MiB over 64 PGs).
    writer.ok("mkdir", "/d/pre")
    for i in range(12):
        r = ds.put(writer, ds.source(f"pre{i}", rng.randint(1, 6 * MIB)), f"/d/pre/f{i:02d}")
        assert r.ok, r
    victim = rng.choice(cluster.chunks)
    nid = victim.node_id
    other = rng.choice([c for c in cluster.chunks if c is not victim]).node_id

    # Refusals change nothing: remove of an UP node, of unknown nodes, a
    # drain of an unknown node.
    before = cluster.status()
    refused(writer, "remove", nid, message="is up: drain it first")
    refused(writer, "remove", other, message="is up: drain it first")
    refused(writer, "remove", 9999, message="not registered")
    refused(writer, "drain", 9999, message="not registered")
    after = cluster.status()
    assert after["epoch"] == before["epoch"], "a refused call changed the map"
    assert {n["id"]: n["state"] for n in after["nodes"]} == \
        {c.node_id: "up" for c in cluster.chunks}
    held = sum(nid in pg["chain"] for pg in after["pgs"])
    assert held > 0, f"node {nid} holds no PG: nothing to drain"

    stream = WriteStream(ds, writer, "/d/w", sizes=(1, 3 * MIB), seed=rng.random(),
                         put_timeout=100)
    reads = ReadStream(ds, reader, seed=rng.random())
    stream.start()
    reads.start()
    try:
        wait_seconds(2.0, [stream])

        stream.phase = reads.phase = "draining"
        t0 = time.monotonic()
        writer.ok("admin", "drain", nid)
        writer.ok("admin", "drain", nid)  # idempotent
        st = cluster.status()
        assert {n["id"]: n["state"] for n in st["nodes"]}[nid] == "draining", st["nodes"]
        if any(nid in pg["chain"] for pg in st["pgs"]):
            refused(writer, "remove", nid, message="still a member")
            assert any(n["id"] == nid and n["state"] == "draining"
                       for n in cluster.status()["nodes"]), "a refused remove changed the node"

        # Sample status until the drain is complete; no sample may show a
        # PG with fewer than R healthy members.
        samples, copying, low = 0, 0, []
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            stream.raise_errors()
            reads.raise_errors()
            st = cluster.status()
            samples += 1
            rec = st["recovery"]
            for pg in rec["pgs"]:
                if pg["healthy"] < R:
                    low.append((round(time.monotonic() - t0, 1), pg))
            copying += rec["pgs_by_state"]["recovering"] > 0
            left = {d["node"]: d["pgs_left"] for d in rec["draining"]}
            if (left.get(nid) == 0 and rec["pgs_by_state"]["healthy"] == PGS
                    and all(nid not in pg["chain"] and len(pg["chain"]) == R
                            for pg in st["pgs"])):
                break
            assert time.monotonic() < deadline, (f"drain of node {nid} not complete after "
                                                 f"{DRAIN_TIMEOUT}s: {rec['pgs_by_state']}, "
                                                 f"left {left}")
            time.sleep(0.25)
        drained_after = time.monotonic() - t0
        assert not low, f"PGs below {R} healthy members during the drain: {low[:10]}"
        assert copying >= 2, f"{copying} status samples saw PGs copying: the drain was not observed"
        states = {n["id"]: n["state"] for n in st["nodes"]}
        assert states[nid] == "draining" and all(
            s == "up" for n, s in states.items() if n != nid), states
        text = writer.ok("admin", "status").stdout.decode()
        assert f"node {nid} draining: 0 placement groups left" in text, text
        wait_seconds(2.0, [stream])
    finally:
        stream.stop()
        reads.stop()
    stream.raise_errors()
    reads.raise_errors()
    summary = stream.summary()
    print(f"node {nid} held {held}/{PGS} PGs, drained in {drained_after:.1f}s "
          f"({samples} status samples, {copying} while copying); puts by phase "
          f"(acknowledged, failed, first error): {summary}; reads {reads.count()} "
          f"({reads.count('draining')} during the drain)")
    assert stream.acked("draining"), f"no put acknowledged during the drain: {summary}"
    assert reads.count("draining") >= 3, "too few reads during the drain"
    failed = [(remote, r.stderr.strip()) for remote, r in stream.failed()]
    assert not failed, f"puts failed during the drain: {failed}"
    assert not reads.problems, f"reads failed or differed: {reads.problems[:10]}"

    # Every acknowledged chunk is on each member of its chain; the drained
    # node is in none.
    for remote in sorted(ds.acked):
        info = ds.check_replicas(cluster, reader, remote)
        assert all(n["id"] != nid for c in info["chunks"] for n in c["nodes"]), info

    # Stopped, the drained node goes DOWN; holding nothing the cluster
    # needs, it may be removed, and is forgotten.
    assert victim.stop() == 0
    cluster.wait_node_state(victim, "down", timeout=20)
    epoch = cluster.status()["epoch"]
    refused(writer, "drain", nid, message="only an up node can be drained")
    assert cluster.status()["epoch"] == epoch
    writer.ok("admin", "remove", nid)
    st = cluster.status()
    assert st["epoch"] == epoch + 1, (epoch, st["epoch"])
    assert sorted(n["id"] for n in st["nodes"]) == sorted(
        c.node_id for c in cluster.chunks if c is not victim)
    assert all(n["state"] == "up" for n in st["nodes"]), st["nodes"]
    assert st["recovery"]["pgs_by_state"]["healthy"] == PGS
    refused(writer, "remove", nid, message="not registered")

    # Started again on its disk (which still holds the drained chunks), the
    # removed node is refused by meta and does not come back under a new
    # id: it stays unregistered (/readyz 503) and the map does not change.
    victim.start(wait=False)
    wait_seconds(4.0)
    assert victim.running(), victim.log_tail()
    code, body = reader.http_get(victim.host.addr(CHUNK_HTTP), "/readyz")
    assert code == 503 and "not registered" in body, (code, body)
    st2 = cluster.status()
    assert st2["epoch"] == st["epoch"], (st["epoch"], st2["epoch"])
    assert sorted(n["id"] for n in st2["nodes"]) == sorted(n["id"] for n in st["nodes"])
    assert all(n["data_address"] != victim.data for n in st2["nodes"]), st2["nodes"]
    assert victim.stop() == 0

    # A write after the removal lands on the four others; everything reads
    # back.
    r = ds.put(writer, ds.source("post", 2 * MIB + 17), "/d/post")
    assert r.ok, r
    ds.check_replicas(cluster, reader, "/d/post")
    acked, prefixes = ds.verify(reader)
    print(f"verified {acked} acknowledged files")
