"""Scenario 5: 1% of one chunk server's stored chunks damaged on disk; a
scrub of that node finds every one and repairs it.

Five chunk servers, three replicas, 64 KiB chunks (a directory policy), so
a few tens of MiB make hundreds of chunks per node and 1% of them is
several. With the default --small-chunk-limit (128 KiB) they are records
in volume files (docs/chunk-format.md, "Volume files"; the checks below
also hold for chunk files, --small-chunk-limit 0). Bits are flipped in
the data of the chosen chunks (never a header or CRC table: only the
block checksums can tell), with no client read in between, then `cairn
admin scrub NODE --wait --json` runs one cycle on that node
(docs/chunk-server.md, "Scrub"). The scenario proves:

- scrub reads every chunk of the node and finds exactly the damaged ones:
  the ids it quarantined are the ids damaged, no more (no false positive)
  and no fewer (chunk files: the files in quarantine; volume records: the
  chunks written anew, every other record where it was); its status, its
  `cairn_chunk_scrub_*` metrics and meta's bad-chunk report counter all
  count exactly that many;
- each damaged copy is repaired from a replica: afterwards every member of
  every chain holds every chunk byte for byte, and every file reads back
  bit-exact;
- a second scrub, of every node, finds nothing.
"""

import json

from faultlib import KIB, MIB, Dataset, scenario_rng, wait_for

CHUNK = 64 * KIB
FRACTION = 0.01


def scrub_metrics(client, server):
    m = client.metrics(server.info["http"])
    return {name[len("cairn_chunk_scrub_"):]: v for (name, labels), v in m.items()
            if name.startswith("cairn_chunk_scrub_") and not labels}


def test_scrub_finds_and_repairs_every_damaged_chunk(cluster_factory):
    rng = scenario_rng()
    # No scheduled cycle: the only one is the one the test starts.
    cluster = cluster_factory(5, meta_args=["--down-after", "2"],
                              chunk_args=["--scrub-interval", "0", "--scrub-rate", "256MiB"])
    client = cluster.client
    ds = Dataset(cluster.net.tmp / "src")
    client.ok("mkdir", "/s")
    client.ok("policy", "set", "/s", "--chunk-size", str(CHUNK))
    for i in range(20):
        r = ds.put(client, ds.source(f"f{i}", rng.randint(2 * MIB, 4 * MIB)), f"/s/f{i:02d}")
        assert r.ok, r

    victim = rng.choice(cluster.chunks)
    stored = victim.stored_chunks()
    files = sorted(stored)  # chunk ids
    kinds = {c.kind for c in stored.values()}
    assert kinds == {"volume"}, kinds  # 64 KiB chunks, the default --small-chunk-limit
    # Which file and offset each of the victim's chunks belongs to.
    owner = {}
    for remote in sorted(ds.acked):
        info = ds.check_replicas(cluster, client, remote)
        for c in info["chunks"]:
            if any(n["id"] == victim.node_id for n in c["nodes"]):
                owner[c["id"]] = (remote, c["offset"], c["length"])
    assert sorted(owner) == files, "the victim holds chunks no file has"
    assert len(files) >= 400, f"only {len(files)} chunks on {victim}"

    damaged = sorted(cluster.corrupt(victim, FRACTION, rng=rng))
    assert len(damaged) == round(len(files) * FRACTION) >= 4, (len(damaged), len(files))
    for cid in damaged:
        remote, offset, length = owner[cid]
        copy = cluster.chunk_copy(victim.node_id, cid)
        assert copy is not None and len(copy) == length
        assert copy != ds.acked[remote].read(offset, length), f"{cid} was not damaged"
    reports_before = client.metrics(cluster.meta.http).get(
        ("cairn_cluster_bad_chunk_reports_total", ""), 0)
    assert scrub_metrics(client, victim)["chunks_total"] == 0  # no cycle ran yet

    r = client.run("admin", "scrub", victim.node_id, "--wait", "--json", "--poll", "0.2",
                   timeout=120)
    assert r.returncode == 0, r
    (st,) = json.loads(r.stdout)["nodes"]
    print(f"{victim} (node {victim.node_id}): {len(files)} chunks ({sorted(kinds)}), "
          f"{len(damaged)} damaged; scrub: {st}")
    assert st["id"] == victim.node_id and st["started"] is True and st["running"] is False
    assert st["cycles_completed"] == 1
    assert st["chunks_total"] == st["chunks_done"] == len(files)
    assert st["bad_found"] == st["total_bad"] == len(damaged), st
    assert st["repaired"] == st["total_repaired"] == len(damaged), st
    assert st["unrepaired"] == st["total_unrepaired"] == st["waiting_repair"] == 0, st

    # Exactly the damaged ids were quarantined and stored anew; every chunk
    # is back.
    after = victim.stored_chunks()
    assert sorted(after) == files
    quarantine = victim.data_dir / "quarantine"
    quarantined = sorted(q.name.split(".")[0] for q in quarantine.iterdir()) \
        if quarantine.is_dir() else []
    rewritten = sorted(cid for cid in files if after[cid].place() != stored[cid].place())
    assert quarantined == [cid for cid in damaged if stored[cid].kind == "file"], quarantined
    assert rewritten == [cid for cid in damaged if stored[cid].kind == "volume"], \
        f"rewritten {rewritten}, damaged {damaged}"

    m = scrub_metrics(client, victim)
    assert m["bad_total"] == m["repaired_total"] == len(damaged), m
    assert m["unrepaired_total"] == 0 and m["running"] == 0, m
    assert m["chunks_total"] == len(files), m
    damaged_bytes = sum(owner[cid][2] for cid in damaged)
    assert m["bytes_total"] == sum(v[2] for v in owner.values()) - damaged_bytes, m
    assert m["last_complete_timestamp_seconds"] > 1.6e9, m
    for other in cluster.chunks:
        if other is not victim:
            o = scrub_metrics(client, other)
            assert o["chunks_total"] == o["bad_total"] == 0, (other, o)
    # Meta heard of each bad copy once (nothing else read a damaged copy).
    wait_for(lambda: client.metrics(cluster.meta.http).get(
        ("cairn_cluster_bad_chunk_reports_total", ""), 0) - reports_before >= len(damaged),
        10, what="the bad-chunk reports")
    assert client.metrics(cluster.meta.http)[("cairn_cluster_bad_chunk_reports_total", "")] \
        - reports_before == len(damaged)

    # Repaired: every copy on every chain member is the source's bytes
    # again, and every file reads back.
    for remote in sorted(ds.acked):
        ds.check_replicas(cluster, client, remote)
    ds.verify(client)

    # A second scrub, of every node, finds nothing.
    r = client.run("admin", "scrub", "--wait", "--json", "--poll", "0.2", timeout=120)
    assert r.returncode == 0, r
    nodes = json.loads(r.stdout)["nodes"]
    assert sorted(n["id"] for n in nodes) == sorted(c.node_id for c in cluster.chunks)
    for n in nodes:
        server = cluster.by_node(n["id"])
        assert n["running"] is False and n["bad_found"] == 0, n
        assert n["chunks_done"] == n["chunks_total"] == len(server.stored_chunks()), n
    assert scrub_metrics(client, victim)["bad_total"] == len(damaged)
    assert sorted(victim.stored_chunks()) == files
    if quarantine.is_dir():
        assert sorted(q.name.split(".")[0] for q in quarantine.iterdir()) == quarantined
    r = client.run("admin", "fsck", "--json", timeout=120)
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    assert report["whole"] and report["bad_copies"] == report["missing_copies"] == 0, report
