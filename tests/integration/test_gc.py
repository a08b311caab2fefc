"""Garbage collection end to end (docs/gc.md): a `cairn meta` and three
`cairn chunk` processes on loopback, with short GC intervals.

- replaced, truncated and deleted chunks disappear from the chunk servers'
  directories while every live file reads back bit-exact;
- chunks of a `cairn put` killed with SIGKILL are orphans: a dry run lists
  them (after the grace) and deletes nothing, a pass deletes exactly them;
- meta warns at start when the grace is 0;
- meta restored from an old copy (chunk servers hold many chunks it does
  not know) raises the alarm: nothing is deleted, not even queued chunks,
  until it is cleared;
- bad input gets a usage error or a typed error.
"""

import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import http_get, parse_metrics

KIB = 1024
MIB = 1024 * KIB
SMALL_CHUNK = 64 * KIB
WAIT = 30.0


def pattern(size, seed):
    return random.Random(seed).randbytes(size)


def chunk_ids(cli, remote):
    return [c["id"] for c in cli.json("stat", "--chunks", "--json", remote)["chunks"] if c["id"]]


def files_by_id(cluster):
    """{chunk id hex: [stored copies]} over every chunk server, whichever
    store holds them (64 KiB chunks are volume records by default, the 8 MiB
    ones files; tests/integration/chunkdisk.py)."""
    out = {}
    for c in cluster.chunks:
        for cid, copy in c.stored_chunks().items():
            out.setdefault(cid, []).append(copy)
    return out


def put(cli, tmp_path, remote, data, name="src.bin"):
    src = tmp_path / name
    src.write_bytes(data)
    cli.ok("put", str(src), remote)


def metric(cluster, name, labels=""):
    """One sample of meta's /metrics; labels as written, e.g. '{source="queue"}'."""
    status, text = http_get(cluster.meta.http, "/metrics")
    assert status == 200
    return parse_metrics(text)[0].get((name, labels))


def wait_for(cond, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


GC_FAST = ["--gc-interval", "0.2", "--gc-delay", "0", "--gc-reconcile-interval", "3600"]


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory(3, meta_args=[*GC_FAST, "--gc-grace", "3600"])


def test_replaced_chunks_are_deleted_and_live_files_stay(cluster, tmp_path):
    cli = cluster.cli
    assert "gc grace is 0" not in cluster.meta.log_path.read_text(errors="replace")
    cli.ok("mkdir", "/g")
    cli.ok("policy", "set", "/g", "--chunk-size", str(SMALL_CHUNK))
    data = {
        "/g/over": pattern(5 * SMALL_CHUNK + 7, 1),
        "/g/trunc": pattern(4 * SMALL_CHUNK + 9, 2),
        "/g/gone": pattern(3 * SMALL_CHUNK, 3),
        "/g/keep": pattern(6 * SMALL_CHUNK + 1, 4),
        "/g/renamed": pattern(2 * SMALL_CHUNK, 5),
        "/g/target": pattern(2 * SMALL_CHUNK + 5, 6),
    }
    for i, (path, d) in enumerate(data.items()):
        put(cli, tmp_path, path, d, f"f{i}")
    before = {p: chunk_ids(cli, p) for p in data}
    # Overwrite, truncate, delete, rename over.
    data["/g/over"] = pattern(5 * SMALL_CHUNK + 7, 11)
    put(cli, tmp_path, "/g/over", data["/g/over"], "new")
    cli.ok("truncate", "-s", str(SMALL_CHUNK + 5), "/g/trunc")
    data["/g/trunc"] = data["/g/trunc"][:SMALL_CHUNK + 5]
    cli.ok("rm", "/g/gone")
    del data["/g/gone"]
    cli.ok("mv", "/g/renamed", "/g/target")
    data["/g/target"] = data.pop("/g/renamed")

    live = {p: chunk_ids(cli, p) for p in data}
    live_ids = {i for ids in live.values() for i in ids}
    released = {i for ids in before.values() for i in ids} - live_ids
    # overwrite: 5+1, truncate: 3 (one cut, two dropped), rm: 3, rename-over: 3
    assert len(released) >= 14, released

    wait_for(lambda: not (released & set(files_by_id(cluster))), "released chunks to go")
    on_disk = files_by_id(cluster)
    for i in live_ids:
        assert len(on_disk.get(i, [])) == 3, f"live chunk {i} must keep its 3 copies"
    for path, d in data.items():
        assert cli.ok("cat", path).stdout == d, path
    wait_for(lambda: metric(cluster, "cairn_gc_queue_length") == 0, "an empty queue")
    assert metric(cluster, "cairn_gc_deleted_chunks_total", '{source="queue"}') >= 3 * len(released)
    assert metric(cluster, "cairn_gc_alarm") == 0
    st = cli.json("admin", "gc", "--status", "--json")
    assert st["alarm"] is False and st["queue_entries"] == 0
    assert st["deleted_queue_chunks"] >= 3 * len(released)

    # Restarted chunk servers (volume stores rebuild their index from the
    # log) still hold exactly the live chunks: nothing deleted comes back.
    for c in cluster.chunks:
        assert c.stop() == 0
        c.start()
    cluster.wait_healthy()
    on_disk = files_by_id(cluster)
    assert not (released & set(on_disk))
    for i in live_ids:
        assert len(on_disk.get(i, [])) == 3, i
    dry = cli.json("admin", "gc", "--dry-run", "--json", "--limit", "100000")
    assert dry["alarm_reason"] == "", dry
    for n in dry["reconcile"]["nodes"]:
        assert n["unknown"] == 0 and not n["ids"], n
    for path, d in data.items():
        assert cli.ok("cat", path).stdout == d, path


GRACE = 6


@pytest.fixture
def grace_cluster(cluster_factory):
    return cluster_factory(3, meta_args=[*GC_FAST, "--gc-grace", str(GRACE)])


def test_orphans_of_a_killed_put_are_reconciled(grace_cluster, tmp_path):
    cluster = grace_cluster
    cli = cluster.cli
    cli.ok("mkdir", "/o")
    cli.ok("policy", "set", "/o", "--chunk-size", str(SMALL_CHUNK))
    keep = pattern(4 * SMALL_CHUNK + 3, 7)
    put(cli, tmp_path, "/o/keep", keep)
    start = set(files_by_id(cluster))
    started = time.monotonic()
    big = tmp_path / "big.bin"
    big.write_bytes(pattern(96 * MIB, 8))
    proc = subprocess.Popen([cluster.binary, "put", "--meta", cluster.meta.grpc, str(big),
                             "/o/victim"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def sample():
        referenced = set(chunk_ids(cli, "/o/keep"))
        if cli.run("stat", "/o/victim").returncode == 0:
            referenced |= set(chunk_ids(cli, "/o/victim"))
        return set(files_by_id(cluster)), referenced

    def frozen_orphans():
        """Stops the put and returns (on disk, referenced) once what its
        requests in flight do has ended (two samples 0.5 s apart agree).
        The put commits every 64 chunks, so a stop just after a commit
        finds nothing uncommitted: then it runs on."""
        proc.send_signal(signal.SIGSTOP)
        last = sample()
        deadline = time.monotonic() + WAIT
        while True:
            time.sleep(0.5)
            now = sample()
            if now == last:
                break
            assert time.monotonic() < deadline, "the stopped put's requests did not settle"
            last = now
        on_disk, referenced = now
        if on_disk - referenced:
            return on_disk, referenced
        proc.send_signal(signal.SIGCONT)
        return None

    try:
        frozen = None
        for _ in range(5):
            wait_for(lambda: len(set(files_by_id(cluster)) - start) >= 8 or proc.poll() is not None,
                     "the put to store chunks")
            assert proc.poll() is None, "the put finished before it could be killed"
            frozen = frozen_orphans()
            if frozen:
                break
            time.sleep(0.1)
        assert frozen, "the put left no uncommitted chunks when stopped"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    on_disk = files_by_id(cluster)
    assert set(on_disk) == frozen[0], "the stopped put stored more"
    referenced = frozen[1]
    orphans = set(on_disk) - referenced
    copies = sum(len(on_disk[i]) for i in orphans)

    # Young: unknown but not orphans yet; nothing deleted.
    dry = cli.json("admin", "gc", "--dry-run", "--json", "--limit", "100000")
    assert dry["dry_run"] and dry["alarm_reason"] == ""
    assert sum(n["unknown"] for n in dry["reconcile"]["nodes"]) == copies
    if time.monotonic() - started < GRACE - 0.5:  # (on a very slow machine some are old already)
        assert sum(n["orphans"] for n in dry["reconcile"]["nodes"]) == 0

    time.sleep(max(0.0, killed + 1.0 + GRACE + 0.5 - time.monotonic()))  # past the grace
    dry = cli.json("admin", "gc", "--dry-run", "--json", "--limit", "100000")
    listed = {}
    for n in dry["reconcile"]["nodes"]:
        assert n["deleted"] == 0
        for i in n["ids"]:
            listed.setdefault(i, 0)
            listed[i] += 1
    assert set(listed) == orphans
    assert sum(listed.values()) == copies
    assert set(files_by_id(cluster)) == set(on_disk), "a dry run deletes nothing"
    text = cli.ok("admin", "gc", "--dry-run").stdout.decode()
    assert "dry run: nothing deleted" in text and next(iter(orphans)) in text

    run = cli.json("admin", "gc", "--json")
    assert sum(n["deleted"] for n in run["reconcile"]["nodes"]) == copies
    after = files_by_id(cluster)
    assert not (orphans & set(after))
    for i in referenced:
        assert len(after.get(i, [])) == 3
    assert cli.ok("cat", "/o/keep").stdout == keep
    assert metric(cluster, "cairn_gc_deleted_chunks_total", '{source="orphan"}') == copies
    assert metric(cluster, "cairn_gc_last_reconcile_timestamp_seconds") > time.time() - 60


def test_meta_restored_from_an_old_copy_raises_the_alarm(cluster_factory, tmp_path):
    cluster = cluster_factory(3, meta_args=[*GC_FAST, "--gc-grace", "0",
                                            "--gc-alarm-unknown", "5"])
    cli = cluster.cli
    assert "gc grace is 0" in cluster.meta.log_path.read_text(errors="replace")
    cli.ok("mkdir", "/a")
    cli.ok("policy", "set", "/a", "--chunk-size", str(SMALL_CHUNK))
    old = pattern(2 * SMALL_CHUNK, 9)
    put(cli, tmp_path, "/a/old", old)
    # A copy of meta's store, taken while it is stopped.
    assert cluster.stop() == []
    backup = tmp_path / "meta-backup"
    shutil.copytree(cluster.meta.store_dir, backup)
    cluster.start()
    cli = cluster.cli
    for i in range(4):
        put(cli, tmp_path, f"/a/new{i}", pattern(4 * SMALL_CHUNK, 20 + i), f"n{i}")
    # Restore the old copy: the new files' chunks are unknown to meta.
    assert cluster.stop() == []
    shutil.rmtree(cluster.meta.store_dir)
    shutil.copytree(backup, cluster.meta.store_dir)
    cluster.start()
    cli = cluster.cli
    before = set(files_by_id(cluster))

    dry = cli.run("admin", "gc", "--dry-run", "--json")
    assert dry.returncode == 1
    assert b"unknown to meta" in dry.stdout, dry
    r = cli.run("admin", "gc")
    assert r.returncode == 1
    assert b"ALARM raised" in r.stdout and b"unknown to meta" in r.stdout, r
    st = cli.run("admin", "gc", "--status", "--json")
    assert st.returncode == 1
    assert b'"alarm":true' in st.stdout
    assert metric(cluster, "cairn_gc_alarm") == 1
    wait_for(lambda: "gc alarm raised" in cluster.meta.log_tail(200), "the alarm in the log")
    assert "level=error" in next(l for l in cluster.meta.log_tail(200).splitlines()
                                 if "gc alarm raised" in l)

    # Everything stops: a real pass is refused, queued chunks stay.
    fail = cli.fail("admin", "gc", message="gc alarm raised")
    assert "clear-alarm" in fail.stderr
    old_ids = set(chunk_ids(cli, "/a/old"))
    cli.ok("rm", "/a/old")
    time.sleep(1.5)  # several queue passes
    now = set(files_by_id(cluster))
    assert now == before, "nothing is deleted while the alarm is raised"
    assert old_ids <= now

    # Cleared, the cause is still there: the next pass raises it again.
    cleared = cli.ok("admin", "gc", "--clear-alarm").stdout
    assert b"alarm cleared" in cleared and b"unknown to meta" in cleared
    assert metric(cluster, "cairn_gc_alarm") == 0
    assert cli.run("admin", "gc").returncode == 1
    assert metric(cluster, "cairn_gc_alarm") == 1
    assert set(files_by_id(cluster)) >= before - old_ids


def test_bad_input(cluster, tmp_path):
    cli = cluster.cli
    cli.fail("admin", "gc", "--dry-run", "--clear-alarm", code=2)
    cli.fail("admin", "gc", "--status", "--dry-run", code=2)
    cli.fail("admin", "gc", "--limit", "0", code=2)
    cli.fail("admin", "gc", "--limit", "100001", code=2)
    cli.fail("admin", "gc", "--bogus", code=2)
    # Nothing to do: an empty pass succeeds and deletes nothing.
    r = cli.json("admin", "gc", "--json")
    assert r["queue"]["entries_ready"] == 0 and r["alarm_reason"] == ""
    # No alarm to clear.
    assert b"no alarm was raised" in cli.ok("admin", "gc", "--clear-alarm").stdout
    # An unreachable meta: a typed error, not a hang.
    r = subprocess.run([cluster.binary, "admin", "gc", "--meta", "127.0.0.1:1", "--timeout", "2"],
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and r.stderr.startswith(b"cairn: "), r
    # Bad flag values for meta are refused before it starts.
    p = subprocess.run([cluster.binary, "meta", "--store", "memory", "--gc-batch", "0"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2, p
    p = subprocess.run([cluster.binary, "meta", "--store", "memory", "--gc-interval", "-1"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2, p
