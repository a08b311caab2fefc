"""Scenario 7: SIGKILL `cairn meta` during a stream of writes, restart it on
the same store (and the same address).

- No acknowledged write is lost: every file acknowledged before, during or
  after the outage reads back bit-exact.
- Clients resume by themselves: a `cairn put -r` started before the kill
  (one process, many files) finishes its work after the restart without
  being restarted, within its deadline, and exits 0 (the client library
  waits for meta and repeats calls cut off in flight; mutations carry
  request ids so meta applies each once: docs/durability.md).
- Puts that failed while meta was away are not acknowledged, and never read
  back wrong (missing, or a prefix of their source).
- The chunk servers come back UP under the restarted meta (their
  heartbeats resume), and new writes succeed.
"""

import time

from faultlib import MIB, Dataset, WriteStream, scenario_rng, wait_for, wait_seconds

TREE_FILES = 200


def test_sigkill_meta_during_writes(cluster_factory):
    rng = scenario_rng()
    cluster = cluster_factory(5, client_hosts=2, meta_args=["--down-after", "3"])
    tree_client, stream_client = cluster.clients
    ds = Dataset(cluster.net.tmp / "src")
    c = stream_client
    c.ok("mkdir", "/s")
    c.ok("policy", "set", "/s", "--chunk-size", str(1 * MIB))

    # The long-running client: one `put -r` of a tree of files.
    tree = cluster.net.tmp / "tree"
    tree.mkdir()
    tree_files = {}
    for i in range(TREE_FILES):
        src = ds.source(f"t{i:03d}", rng.randint(256 * 1024, 3 * MIB))
        dst = tree / f"t{i:03d}"
        src.path.rename(dst)
        src.path = dst
        tree_files[f"/s/tree/t{i:03d}"] = src

    stream = WriteStream(ds, stream_client, "/s/stream", sizes=(1, 3 * MIB), seed=rng.random(),
                         put_timeout=90)
    stream.start()
    wait_seconds(1.0, [stream])
    t0 = time.monotonic()
    # Meta is killed once put -r has created 20..100 of its 200 files (a
    # time would not do: on a fast machine the whole tree takes 2 s).
    kill_at = rng.randint(20, TREE_FILES // 2)

    def tree_listed():
        r = c.run("ls", "/s/tree", timeout=20)
        return len(r.stdout.split()) if r.ok else 0

    tree_put = tree_client.spawn("put", "-r", "-j", "2", tree, "/s/tree")
    try:
        wait_for(lambda: not tree_put.running() or tree_listed() >= kill_at, 60, 0.1,
                 f"put -r to create {kill_at} files")
        stream.raise_errors()
        assert tree_put.running(), f"put -r ended before the kill: {tree_put.wait(5)}"
        stream.phase = "meta down"
        cluster.meta.crash()
        killed = time.monotonic() - t0
        down = rng.uniform(0.5, 3.0)
        wait_seconds(down, [stream])
        cluster.meta.start()
        stream.phase = "restarted"
        print(f"meta killed {killed:.1f}s into put -r (at {kill_at} files), restarted after "
              f"{down:.1f}s")
        r = tree_put.wait(timeout=120)
    finally:
        tree_put.kill()
    wait_seconds(2.0, [stream])
    stream.stop()
    stream.raise_errors()
    print(f"put -r: exit {r.returncode} after {r.seconds:.1f}s; stream: {stream.summary()}")

    # Whatever the outcome of put -r, what it wrote must not read back wrong.
    for remote, src in tree_files.items():
        if r.ok:
            ds.acknowledge(remote, src)
        else:
            ds.fail(remote, src, r)
    # The chunk servers are UP under the new meta, and writes work.
    cluster.wait_healthy(timeout=30)
    after = ds.source("after", 2 * MIB)
    assert ds.put(c, after, "/after").ok
    assert stream.acked("restarted"), f"no write acknowledged after the restart: {stream.summary()}"
    acked, prefixes = ds.verify(c)
    print(f"verified {acked} acknowledged files ({prefixes} failed ones read back as a prefix)")
    assert r.ok, f"the client started before the kill did not finish its work:\n{r!r}"
