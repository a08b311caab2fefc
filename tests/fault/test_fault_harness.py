"""The harness checks itself: its faults really happen and its checks really
fail, so a scenario that passes means something.

- hosts are separate: each server listens on its own address, a partition
  cuts exactly the pair it names (a client cut off from meta times out,
  another client still works), and heal() restores it;
- SIGSTOP makes a chunk server miss heartbeats (DOWN), SIGCONT brings it
  back UP;
- Dataset.check_replicas notices a missing and a damaged copy, and
  Dataset.verify a file that reads back different from what was
  acknowledged;
- Cluster.corrupt damages only data bytes: reads still return the right
  bytes (from another replica) and meta hears about the bad copy.
"""

import pytest

from faultlib import MIB, Dataset, wait_for


def test_harness_faults_and_checks(cluster_factory):
    cluster = cluster_factory(5, client_hosts=2, meta_args=["--down-after", "2"])
    net = cluster.net
    a, b = cluster.clients
    ds = Dataset(net.tmp / "src")
    src = ds.source("f", 3 * MIB + 5)
    assert ds.put(a, src, "/f").ok
    info = ds.check_replicas(cluster, b, "/f")
    assert len({n["id"] for c in info["chunks"] for n in c["nodes"]}) >= 3

    # Every host has its own address.
    addrs = {s.host.ip for s in cluster.servers} | {c.host.ip for c in cluster.clients}
    assert len(addrs) == 8
    assert {n["address"].rsplit(":", 1)[0] for c in info["chunks"] for n in c["nodes"]} <= \
        {s.host.ip for s in cluster.chunks}

    # A partition cuts exactly the pair it names.
    net.partition([a.host], [cluster.meta.host])
    r = a.run("ls", "/", "--timeout", "2", timeout=20)
    assert r.returncode != 0, r
    assert b.run("ls", "/", timeout=20).ok
    assert "drop" in net.drop_counters()
    net.heal()
    assert a.run("ls", "/", timeout=20).ok
    # A refused route fails at once instead of timing out.
    net.block(a.host, cluster.meta.host, how="unreachable")
    r = a.run("ls", "/", "--timeout", "2", timeout=20)
    assert r.returncode != 0, r
    net.heal()
    assert net.blocks() == {}
    assert a.run("ls", "/", timeout=20).ok

    # SIGSTOP: no heartbeats, so DOWN; SIGCONT: UP again.
    paused = cluster.chunks[0]
    paused.pause()
    cluster.wait_node_state(paused, "down", timeout=20)
    paused.resume()
    cluster.wait_healthy(timeout=20)
    # The returning node catches up PG by PG and is left out of reads until
    # it has; the damaged-copy check below needs every member readable.
    cluster.wait_pgs_healthy(timeout=60)

    # A copy missing on one member is noticed ...
    chunk = info["chunks"][0]
    holder = cluster.by_node(chunk["nodes"][1]["id"])
    path = holder.chunk_path(chunk["id"])
    saved = path.read_bytes()
    path.unlink()
    with pytest.raises(AssertionError, match="missing on node"):
        ds.check_replicas(cluster, b, "/f")
    path.write_bytes(saved)
    ds.check_replicas(cluster, b, "/f")
    # ... and so is a damaged one (only its data bytes).
    damaged = cluster.corrupt(holder, 1.0, every_block=True)
    assert chunk["id"] in damaged, damaged  # a fraction of 1.0: every file
    with pytest.raises(AssertionError, match="differ from the source"):
        ds.check_replicas(cluster, b, "/f")
    # Reads go around the damaged copy; meta hears about it.
    for _ in range(3):
        ds.verify(b)
    wait_for(lambda: b.metrics(cluster.meta.http).get(
        ("cairn_cluster_bad_chunk_reports_total", ""), 0) >= 1, 10, what="a bad-chunk report")

    # verify() notices a file that is not what was acknowledged.
    other = ds.source("g", 1000)
    ds.acknowledge("/g", other)
    with pytest.raises(AssertionError, match="acknowledged but cat exits"):
        ds.verify(b)
    assert a.run("put", other.path, "/g").ok
    ds.acknowledge("/g", ds.source("g2", 1000))  # different bytes
    with pytest.raises(AssertionError, match="read back"):
        ds.verify(b)
