"""Scenario 1: SIGKILL one of five chunk servers during a 1 GiB write with
three replicas.

The put either completes (the chunks after the kill go to chains without
the dead node) or fails cleanly (exit 1, a `cairn: ...` message, nothing
acknowledged). Whatever was acknowledged — files written before the kill,
the big file when its put succeeded, a file written while the node is
down — reads back bit-exact, is held byte for byte by every member of its
chains, and still reads back once the dead node has come back.

CAIRN_FAULT_BIG_BYTES overrides the size (default 1 GiB); CAIRN_FAULT_SEED
the random choices (victim, kill point; default: a new seed each run,
printed).
"""

import os
import random
import time

from faultlib import MIB, Dataset, scenario_rng, wait_for

BIG_BYTES = int(os.environ.get("CAIRN_FAULT_BIG_BYTES", str(1024 * MIB)))
CHUNK = 8 * MIB  # the default chunk size


def test_sigkill_chunk_server_during_big_put(cluster_factory):
    rng = scenario_rng()
    cluster = cluster_factory(5, client_hosts=2, meta_args=["--down-after", "2"])
    writer, reader = cluster.clients
    ds = Dataset(cluster.net.tmp / "src")

    # Files acknowledged before the fault.
    for i in range(3):
        src = ds.source(f"pre{i}", rng.randint(1, 20 * MIB))
        r = ds.put(writer, src, f"/pre{i}")
        assert r.ok, r
    big = ds.source("big", BIG_BYTES)

    victim = rng.choice(cluster.chunks)
    # Kill once the cluster holds between 10% and 70% of the big file's
    # chunk copies: mid-write whatever the machine's speed.
    copies = 3 * ((BIG_BYTES + CHUNK - 1) // CHUNK)
    kill_at = rng.randint(copies // 10, copies * 7 // 10)
    stored_before = sum(len(c.chunk_files()) for c in cluster.chunks)
    t0 = time.monotonic()
    put = writer.spawn("put", big.path, "/big")
    try:
        wait_for(lambda: not put.running() or
                 sum(len(c.chunk_files()) for c in cluster.chunks) - stored_before >= kill_at,
                 timeout=240, interval=0.02, what=f"{kill_at} chunk copies stored")
        killed_at = time.monotonic() - t0
        victim.crash()
        r = put.wait(timeout=300)
    finally:
        put.kill()
    print(f"victim {victim} (node {victim.node_id}) killed after {killed_at:.1f}s at "
          f"{kill_at}/{copies} copies; put exit {r.returncode} after {r.seconds:.1f}s")
    assert put.proc.returncode is not None
    if r.ok:
        ds.acknowledge("/big", big)
    else:
        assert r.returncode == 1 and r.stderr.startswith("cairn: "), f"unclean failure:\n{r!r}"
        ds.fail("/big", big, r)

    # The dead node leaves every chain; writes go on without it.
    cluster.wait_node_state(victim, "down", timeout=30)
    src = ds.source("during", 5 * MIB + 123)
    r = ds.put(writer, src, "/during")
    assert r.ok, r

    # Every member of every chain holds every acknowledged chunk, byte for
    # byte (the victim is in no chain now).
    for remote in sorted(ds.acked):
        ds.check_replicas(cluster, reader, remote)
    acked, prefixes = ds.verify(reader)
    print(f"verified {acked} acknowledged files ({prefixes} failed files read back as a prefix)")

    # The victim comes back on the same disk; everything still reads right.
    victim.start()
    cluster.wait_healthy(timeout=30)
    ds.verify(writer)
