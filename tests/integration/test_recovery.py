"""Recovery end to end: a `cairn meta` with short --down-after/--out-after
and real `cairn chunk` processes on loopback (docs/cluster.md, "Recovery").

- A chunk server killed for good goes DOWN, then OUT; every PG is back to
  R healthy copies on the survivors, the new members hold the chunk files,
  every file reads back bit-exact.
- A chunk server away briefly comes back as a recovering member and copies
  only the chunks written meanwhile (its recovery counters say so).
- `cairn admin drain` empties a node while files are read; `admin remove`
  is refused while the node is up or still holds PGs, accepted after.
- A node added to a full cluster gets PGs (and their data) by rebalancing.

Chunks are 64 KiB (per-directory policy), 32 PGs, so a few MiB spread
over every PG.
"""

import random
import time

import pytest

from conftest import ChunkServer, http_get, parse_metrics

KIB = 1024
CHUNK = 64 * KIB
PGS = 32
WAIT = 90


def meta_args(out_after=3):
    return ["--pg-count", str(PGS), "--down-after", "2", "--out-after", str(out_after)]


def put_files(cli, tmp_path, directory, count, size, seed):
    cli.ok("mkdir", directory)
    cli.ok("policy", "set", directory, "--chunk-size", str(CHUNK))
    files = {}
    for i in range(count):
        data = random.Random(seed + i).randbytes(size + i * 777)
        local = tmp_path / f"src-{seed}-{i}"
        local.write_bytes(data)
        remote = f"{directory}/f{i}"
        cli.ok("put", str(local), remote)
        files[remote] = data
    return files


def chunk_ids(cli, files):
    ids = set()
    for remote in files:
        st = cli.json("stat", "--json", "--chunks", remote)
        ids |= {c["id"] for c in st["chunks"] if c["id"]}
    return ids


def assert_reads_back(cli, files):
    for remote, data in files.items():
        assert cli.ok("cat", remote).stdout == data, remote


def names(server):
    """The ids of the chunks `server` stores (files or volume records)."""
    return set(server.stored_chunks())


def metric(server, name):
    _, body = http_get(server.info["http"], "/metrics")
    samples, _ = parse_metrics(body)
    return samples.get((name, ""), 0)


def recovery(cluster):
    return cluster.status()["recovery"]


def wait_for(what, fn, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def all_healthy(cluster):
    st = cluster.status()
    by = st["recovery"]["pgs_by_state"]
    return st if by["healthy"] == PGS else None


def node_state(cluster, node_id):
    for n in cluster.status()["nodes"]:
        if n["id"] == node_id:
            return n["state"]
    return None


def add_chunk_server(cluster, name, extra=()):
    c = ChunkServer(cluster.binary, [cluster.root / name / "data"], cluster._work(name),
                    lambda: cluster.meta.grpc, extra)
    cluster.chunks.append(c)
    c.start()
    return c


@pytest.mark.slow
def test_killed_node_goes_out_and_is_rereplicated(cluster_factory, tmp_path):
    cluster = cluster_factory(4, meta_args=meta_args(out_after=3))
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/d", 12, 150 * KIB, 1)
    ids = chunk_ids(cli, files)
    assert len(ids) >= 24
    victim = cluster.chunks[0]
    victim_id = victim.node_id
    victim.kill()
    wait_for("node out", lambda: node_state(cluster, victim_id) == "out")
    st = wait_for("every PG healthy", lambda: all_healthy(cluster))
    for pg in st["pgs"]:
        assert len(pg["chain"]) == 3 and victim_id not in pg["chain"], pg
    by = st["recovery"]["pgs_by_state"]
    assert by == {"healthy": PGS, "degraded": 0, "recovering": 0, "unavailable": 0}
    # Every chunk has its three copies on the survivors.
    live = [c for c in cluster.chunks if c is not victim]
    stored = [names(c) for c in live]
    for cid in ids:
        assert sum(cid in s for s in stored) >= 3, cid
    copied = sum(metric(c, "cairn_chunk_recovery_chunks_total") for c in live)
    assert copied > 0
    assert sum(metric(c, "cairn_chunk_recovery_errors_total") for c in live) == 0
    assert_reads_back(cli, files)
    _, body = http_get(cluster.meta.info["http"], "/metrics")
    samples, _ = parse_metrics(body)
    assert samples[("cairn_cluster_pgs", '{state="healthy"}')] == PGS
    assert samples[("cairn_cluster_recovery_bytes_left", "")] == 0


def test_brief_outage_catches_up_only_what_it_missed(cluster_factory, tmp_path):
    cluster = cluster_factory(4, meta_args=meta_args(out_after=600))
    cli = cluster.cli
    before = put_files(cli, tmp_path, "/a", 10, 150 * KIB, 10)
    away = cluster.chunks[1]
    away_id = away.node_id
    held_before = names(away)
    assert held_before
    away.kill()
    wait_for("node down", lambda: node_state(cluster, away_id) == "down")
    during = put_files(cli, tmp_path, "/b", 4, 150 * KIB, 20)
    new_ids = chunk_ids(cli, during)
    assert names(away) == held_before  # it really missed them
    away.start()
    st = wait_for("every PG healthy", lambda: all_healthy(cluster))
    held_after = names(away)
    gained = held_after - held_before
    # It caught up: every new chunk of its PGs is on it now...
    assert gained and gained <= new_ids
    member_of = {pg["pg"] for pg in st["pgs"] if away_id in pg["chain"]}
    assert member_of
    # ...and copied nothing else: the counter is exactly what it gained.
    assert metric(away, "cairn_chunk_recovery_chunks_total") == len(gained)
    assert metric(away, "cairn_chunk_recovery_chunks_total") < len(held_before)
    assert metric(away, "cairn_chunk_recovery_errors_total") == 0
    assert_reads_back(cli, {**before, **during})


def test_drain_while_reading_then_remove(cluster_factory, tmp_path):
    # Copies are paced (64 KiB/s per receiving node, about 400 KiB each to
    # take over) so the drain is still running when `remove` is refused:
    # a fast drain could finish between the status call and the remove.
    cluster = cluster_factory(4, meta_args=meta_args(out_after=600),
                              chunk_args=["--recovery-rate", "64K"])
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/d", 10, 150 * KIB, 30)
    drained = cluster.chunks[2]
    nid = drained.node_id
    other = cluster.chunks[0].node_id
    # Refusals change nothing: an up node, an unknown node, a bad id.
    cli.fail("admin", "remove", str(other), message="is up: drain it first")
    cli.fail("admin", "remove", "9999", message="not registered")
    cli.fail("admin", "drain", "9999", message="not registered")
    assert node_state(cluster, other) == "up"
    epoch = cluster.status()["epoch"]
    assert any(nid in pg["chain"] for pg in cluster.status()["pgs"])
    cli.ok("admin", "drain", str(nid))
    # Still holding PGs: remove is refused.
    cli.fail("admin", "remove", str(nid), message="still a member")
    assert node_state(cluster, nid) == "draining"
    assert cluster.status()["epoch"] == epoch + 1
    # Reads go on while the drain runs.
    deadline = time.monotonic() + WAIT
    while True:
        assert_reads_back(cli, files)
        st = cluster.status()
        left = {d["node"]: d["pgs_left"] for d in st["recovery"]["draining"]}
        # (status's chains and its recovery summary are two samples)
        if (left.get(nid) == 0 and st["recovery"]["pgs_by_state"]["healthy"] == PGS
                and all(nid not in pg["chain"] for pg in st["pgs"])):
            break
        assert time.monotonic() < deadline, st["recovery"]
    for pg in st["pgs"]:
        assert nid not in pg["chain"] and len(pg["chain"]) == 3
    text = cli.ok("admin", "status").stdout.decode()
    assert f"node {nid} draining: 0 placement groups left" in text
    cli.ok("admin", "remove", str(nid))
    assert all(n["id"] != nid for n in cluster.status()["nodes"])
    drained.stop()
    assert_reads_back(cli, files)


@pytest.mark.slow
def test_new_node_gets_pgs_and_data(cluster_factory, tmp_path):
    cluster = cluster_factory(
        3, meta_args=[*meta_args(out_after=600), "--max-moves", "8", "--max-moves-per-node", "8"])
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/d", 12, 150 * KIB, 40)
    fresh = add_chunk_server(cluster, "chunk-new")
    nid = fresh.node_id

    def settled():
        st = cluster.status()
        mine = sum(nid in pg["chain"] for pg in st["pgs"])
        ok = st["recovery"]["pgs_by_state"]["healthy"] == PGS and mine >= 20
        return st if ok and all(len(pg["chain"]) == 3 for pg in st["pgs"]) else None

    st = wait_for("rebalanced", settled, timeout=120)
    mine = sum(nid in pg["chain"] for pg in st["pgs"])
    assert 20 <= mine <= 28  # 96 memberships over 4 nodes: about 24
    copied = len(names(fresh))
    assert copied > 0
    assert metric(fresh, "cairn_chunk_recovery_chunks_total") == copied
    assert_reads_back(cli, files)
