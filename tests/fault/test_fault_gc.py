"""Scenario 8: a long random run of create / overwrite / partial overwrite /
truncate / delete / rename while garbage collection runs aggressively;
then `cairn admin fsck`.

Meta runs the GC queue pass every 0.2 s with no delay, and reconciliation
(list every node's chunks, scan every reference, delete unreferenced chunks
older than the grace) every second (docs/gc.md). One client applies a
bounded random sequence of mutations (LiveFiles in faultlib/mutations.py)
to a directory of 64 KiB chunks, keeping the exact bytes of every live
file in a local model. The scenario proves:

- no live chunk is ever deleted: right after a random third of the
  mutations the files they touched read back bit-exact; at checkpoints
  during the run and at the end, every live file reads back bit-exact, and
  each of its chunks is on the disk of every member of its chain, byte for
  byte;
- once in the run a big `put` is SIGKILLed mid-upload, at a moment it
  has uploaded chunks it did not commit: those are orphans, which
  reconciliation deletes after the grace while the mutations go on (and
  nothing else);
- deleted space comes back: once the queue is empty, the chunks on all
  disks (64 KiB chunks: records in volume files with the default
  --small-chunk-limit; faultlib reads both stores) are exactly the
  referenced chunks, three copies each (3 x the distinct chunk ids of the
  live files), and a dry run of GC has nothing left to delete;
- `cairn admin fsck` finds everything whole (exit 0), and no GC alarm was
  raised.

Why the grace is GRACE = 10 s: reconciliation deletes an unreferenced
chunk once its file is older than the grace, and a write uploads its
chunks before it commits them. Meta refuses (kStaleUpload) a commit whose
oldest chunk started uploading 7.5 s (the grace minus its margin,
docs/gc.md) or more before, so no chunk of an accepted commit can have
been taken for an orphan. The killed put's uncommitted chunks must go.
Each mutation here is one CLI command of at most 640 KiB, bounded by a
timeout (MUTATION_TIMEOUT, 8 s), and the run asserts that every command
succeeded within it. The grace still matters: chunks stay unreferenced
for a moment between upload and commit in every write, and
reconciliation runs every second throughout.
"""

import json
import signal
import time

from faultlib import KIB, MIB, LiveFiles, disk_chunk_ids, scenario_rng, wait_for

CHUNK = 64 * KIB
GRACE = 10
MUTATION_TIMEOUT = 8
RUN_SECONDS = 75
CHECK_EVERY = 15  # seconds between checkpoints
GC_ARGS = ["--gc-interval", "0.2", "--gc-delay", "0", "--gc-reconcile-interval", "1",
           "--gc-grace", str(GRACE)]


def gc_status(client):
    return client.json("admin", "gc", "--status", "--json", timeout=20)


def steady(sample):
    """A predicate for wait_for: sample() once two calls in a row agree."""
    last = []

    def agree():
        now = sample()
        same = last == [now]
        last[:] = [now]
        return same and now
    return agree


def killed_put(cluster, files, rng):
    """Starts a 32 MiB put to /k/victim (512 chunks; the client commits
    every 64), stops it (SIGSTOP) once 40..300 new chunk ids are on the
    disks, and SIGKILLs it there if it has uncommitted chunks; then removes
    what it committed. Returns the ids it left uncommitted (on some disk,
    referenced by nothing, not released by any commit).

    A stop just after a commit finds every uploaded chunk committed (a
    commit waits for the uploads before it, and the next chunk is not on a
    disk yet): the put then runs on and is stopped again a few chunks
    later, at most five times."""
    client = cluster.client
    src = files.local / "victim.bin"
    src.write_bytes(rng.randbytes(32 * MIB))
    start = set(disk_chunk_ids(cluster))
    stop_at = rng.randint(40, 300)

    def sample():
        """(new chunk ids on disk, chunk ids /k/victim references); raises
        (wait_for samples again) when the stat fails: the put created the
        file before its first upload."""
        uploaded = set(disk_chunk_ids(cluster)) - start
        r = client.run("stat", "--chunks", "--json", "/k/victim", timeout=3)
        assert r.ok, r
        return uploaded, {c["id"] for c in json.loads(r.stdout)["chunks"] if c["id"]}

    put = client.spawn("put", src, "/k/victim")
    try:
        for attempt in range(5):
            wait_for(lambda: not put.running()
                     or len(set(disk_chunk_ids(cluster)) - start) >= stop_at,
                     60, 0.02, f"{stop_at} chunks of the put on disk")
            assert put.running(), "the put ended before it could be killed"
            # A stop stays short: a put resumed after 7.5 s would have its
            # next commit refused (kStaleUpload).
            put.signal(signal.SIGSTOP)
            uploaded, committed = wait_for(steady(sample), 5, 0.5,
                                           "the stopped put's requests in flight to end")
            if uploaded - committed:
                break
            put.signal(signal.SIGCONT)
            stop_at = len(uploaded) + rng.randint(4, 24)
        else:
            raise AssertionError("the put left no uncommitted chunk in five stops")
    finally:
        put.kill()
    # What counts is the state once the dead put's last requests ended (a
    # commit or a chunk write sent just before the stop may land late).
    uploaded, committed = wait_for(steady(sample), 30, 0.5, "the killed put's requests to end")
    orphans = uploaded - committed
    assert orphans, f"the killed put left no uncommitted chunk ({len(committed)} committed)"
    client.ok("rm", "-f", "/k/victim")
    print(f"put stopped {attempt + 1} time(s), killed at {len(uploaded)} new chunk ids: "
          f"{len(committed)} committed")
    return orphans


def test_random_mutations_with_aggressive_gc(cluster_factory):
    rng = scenario_rng()
    cluster = cluster_factory(5, meta_args=["--down-after", "2", *GC_ARGS])
    client = cluster.client
    files = LiveFiles(client, cluster.net.tmp / "model", "/m", rng, timeout=MUTATION_TIMEOUT)
    files.setup(chunk_size=CHUNK)
    client.ok("mkdir", "/k")
    client.ok("policy", "set", "/k", "--chunk-size", str(CHUNK))

    t0 = time.monotonic()
    next_check = t0 + CHECK_EVERY
    kill_after = t0 + rng.uniform(0.2, 0.5) * RUN_SECONDS
    checkpoints, steps, peak_copies, readbacks, orphans = 0, 0, 0, 0, None
    while time.monotonic() - t0 < RUN_SECONDS:
        files.step()
        steps += 1
        assert not files.failures, f"a mutation failed: {files.failures[0][1]!r}"
        if files.touched and rng.random() < 1 / 3:
            files.check_reads(files.touched)
            readbacks += 1
        if orphans is None and time.monotonic() >= kill_after:
            orphans = killed_put(cluster, files, rng)
        if time.monotonic() >= next_check:
            peak_copies = max(peak_copies, sum(len(n) for n in disk_chunk_ids(cluster).values()))
            files.check_reads()
            files.check_copies(cluster)
            st = gc_status(client)
            assert st["alarm"] is False, f"GC alarm raised: {st}"
            checkpoints += 1
            next_check = time.monotonic() + CHECK_EVERY
    run_seconds = time.monotonic() - t0
    st = gc_status(client)
    print(f"{steps} mutations in {run_seconds:.0f}s ({files.ops}), slowest "
          f"{files.slowest:.2f}s; {len(files.files)} live files; {readbacks} read back at "
          f"once; {checkpoints} checkpoints; {len(orphans)} orphans made; "
          f"at most {peak_copies} chunk copies on disk at a checkpoint; GC so far: {st}")
    assert files.slowest < MUTATION_TIMEOUT < GRACE
    assert checkpoints >= 3
    for op, _ in LiveFiles.OPS:
        assert files.ops.get(op, 0) >= 3, f"too few {op}: {files.ops}"

    # Space comes back: once the queue is empty and reconciliation ran, the
    # disks hold exactly the live chunks, three copies each.
    stats = files.chunk_ids()
    live = files.check_copies(cluster, stats)
    files.check_reads()

    def settled():
        s = gc_status(client)
        on_disk = disk_chunk_ids(cluster)
        return (s["queue_entries"] == 0 and set(on_disk) == live
                and all(len(n) == 3 for n in on_disk.values()) and (s, on_disk))

    try:
        st, on_disk = wait_for(settled, GRACE + 30, 0.5, "GC to remove every dead chunk")
    except Exception:
        on_disk = disk_chunk_ids(cluster)
        extra = sorted(set(on_disk) - live)
        print(f"left on disk: {len(extra)} unreferenced ids, e.g. "
              f"{[(i, on_disk[i]) for i in extra[:5]]}; missing: {sorted(live - set(on_disk))[:5]}"
              f"; gc status {gc_status(client)}")
        raise
    copies = sum(len(n) for n in on_disk.values())
    assert copies == 3 * len(live), (copies, len(live))
    print(f"{len(live)} live chunks, {copies} copies on disk; GC: {st}")
    assert st["alarm"] is False and st["errors"] == 0, st
    assert st["deleted_queue_chunks"] > 0, st
    # Each orphan copy went by reconciliation (queue deletions count the
    # committed part of the killed put).
    assert not (orphans & set(on_disk))
    assert st["deleted_orphan_chunks"] >= len(orphans), st

    dry = client.json("admin", "gc", "--dry-run", "--json", "--limit", "100000", timeout=30)
    assert dry["alarm_reason"] == "", dry
    assert dry["queue"]["entries_ready"] == dry["queue"]["chunks_ready"] == 0, dry["queue"]
    for n in dry["reconcile"]["nodes"]:
        assert n["unknown"] == n["orphans"] == 0 and not n["ids"], n
    assert dry["reconcile"]["referenced"] == len(live), (dry["reconcile"]["referenced"], len(live))
    assert sum(n["listed"] for n in dry["reconcile"]["nodes"]) == copies

    r = client.run("admin", "fsck", "--json", timeout=120)
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    assert report["whole"] is True and report["files"] == len(files.files), report
    assert report["chunks"] == sum(1 for info in stats.values() for c in info["chunks"]
                                   if c["id"]), report
    for key in ("missing_copies", "bad_copies", "unreachable_copies", "under_replicated",
                "lost_chunks"):
        assert report[key] == 0, report
    assert not report["issues"] and not report["lost"] and not report["errors"], report
    m = client.metrics(cluster.meta.http)
    assert m[("cairn_gc_alarm", "")] == 0
    # Nothing changed the files since: they still read back.
    files.check_reads()
