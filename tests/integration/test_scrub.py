"""Scrub and fsck end to end: a `cairn meta` and three `cairn chunk`
processes on loopback (three replicas: every node holds every chunk).

- `cairn admin scrub NODE --wait` finds every chunk damaged on disk,
  quarantines it and repairs it from a replica: the copies are whole again,
  the metrics and the status agree, every file reads back bit-exact; with
  each store (records in volume files, the default for chunks up to 128
  KiB, and one file per chunk, --small-chunk-limit 0).
- A read that meets a damaged copy gets it repaired in the background.
- `--wait` returns however fast the cycle it started ends.
- `cairn admin fsck` finds a deleted chunk file and a damaged copy (a volume
  record), exits non-zero; `--repair` fixes them and a second fsck is clean
  (exit 0); a chunk damaged on every node is named as lost by path and
  offset.
- Bad input: a missing path, bad flags, unknown nodes.

Chunks are 64 KiB (per-directory policy) so a few MiB make hundreds; with
the default --small-chunk-limit (128 KiB) they are records in volume files.
Damage is one flipped data byte (tests/integration/chunkdisk.py), a block
checksum failure for either store.
"""

import json
import random
import subprocess
import time

import pytest

from conftest import http_get, parse_metrics

KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB
LARGE_CHUNK = 256 * KIB  # above the default --small-chunk-limit: a file per chunk
# No scheduled scrub: the tests start every cycle themselves.
SCRUB_ARGS = ["--scrub-interval", "0", "--scrub-rate", "512MiB"]
# Where 64 KiB chunks are kept: the default (volumes), or a file each.
STORE_ARGS = {"volume": [], "file": ["--small-chunk-limit", "0"]}


@pytest.fixture
def cluster(cluster_factory):
    return cluster_factory(3, chunk_args=SCRUB_ARGS)


def pattern(size, seed):
    return random.Random(seed).randbytes(size)


def put_files(cli, tmp_path, directory, count, size, seed, chunk=CHUNK):
    """Writes `count` files of about `size` bytes under `directory` (`chunk`
    byte chunks); returns {remote path: bytes}."""
    cli.ok("mkdir", directory)
    cli.ok("policy", "set", directory, "--chunk-size", str(chunk))
    files = {}
    for i in range(count):
        data = pattern(size + i * 777, seed + i)
        local = tmp_path / f"src-{seed}-{i}"
        local.write_bytes(data)
        remote = f"{directory}/f{i}"
        cli.ok("put", str(local), remote)
        files[remote] = data
    return files


def chunks_of(cli, path):
    st = cli.json("stat", "--json", "--chunks", path)
    return [c for c in st["chunks"] if c["id"]]


def copy_on(server, chunk_id):
    """The copy of `chunk_id` that `server` stores (chunkdisk.StoredChunk)."""
    copies = server.stored_chunks()
    assert chunk_id in copies, f"{chunk_id} not stored on node {server.node_id}"
    return copies[chunk_id]


def wait_whole(server, chunk_id, data, timeout=15):
    """Waits until `server` stores `chunk_id` with bytes `data` again."""
    deadline = time.monotonic() + timeout
    while True:
        c = server.stored_chunks().get(chunk_id)
        if c is not None and c.read() == data:
            return c
        assert time.monotonic() < deadline, f"{chunk_id} not whole on node {server.node_id}: {c}"
        time.sleep(0.05)


def metrics(server):
    _, body = http_get(server.info["http"], "/metrics")
    samples, types = parse_metrics(body)
    return samples, types


def wait_metric(server, name, at_least, timeout=15):
    """Waits until `server`'s metric `name` (no labels) is >= `at_least`;
    returns the samples. A repair stores the copy before it is counted."""
    deadline = time.monotonic() + timeout
    while True:
        s, _ = metrics(server)
        if s.get((name, ""), 0) >= at_least:
            return s
        assert time.monotonic() < deadline, f"{name} < {at_least} on node {server.node_id}"
        time.sleep(0.05)


def assert_reads_back(cli, files):
    for remote, data in files.items():
        assert cli.ok("cat", remote).stdout == data, remote


@pytest.mark.parametrize("store", ["volume", "file"])
def test_scrub_finds_quarantines_and_repairs_every_damaged_chunk(cluster_factory, tmp_path, store):
    cluster = cluster_factory(3, chunk_args=[*SCRUB_ARGS, *STORE_ARGS[store]])
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/s", 10, 30 * CHUNK + 1000, 1)
    node = cluster.chunks[0]
    copies = node.stored_chunks()
    ids = sorted(copies)
    assert len(ids) >= 300, len(ids)
    assert {c.kind for c in copies.values()} == {store}
    rng = random.Random(7)
    damaged = rng.sample(ids, max(4, len(ids) // 100))
    originals = {}
    for cid in damaged:
        c = copies[cid]
        originals[cid] = c.read()
        c.flip(rng.randrange(c.length))
        assert c.read() != originals[cid]

    r = cli.run("admin", "scrub", str(node.node_id), "--wait", "--json", "--poll", "0.1")
    assert r.returncode == 0, r
    (st,) = json.loads(r.stdout)["nodes"]
    assert st["id"] == node.node_id
    assert st["started"] is True and st["running"] is False
    assert st["cycles_completed"] == 1
    assert st["chunks_total"] == len(ids)
    assert st["chunks_done"] == len(ids)
    assert st["bad_found"] == len(damaged)
    assert st["repaired"] == len(damaged)
    assert st["unrepaired"] == 0 and st["waiting_repair"] == 0

    # Whole again on disk (same bytes as before the damage), the damaged
    # copies kept in quarantine, untouched chunks unchanged.
    after = node.stored_chunks()
    assert sorted(after) == ids
    for cid in damaged:
        assert after[cid].read() == originals[cid], after[cid]
    if store == "file":
        quarantined = list((node.dirs[0] / "quarantine").iterdir())
        assert sorted(q.name.split(".")[0] for q in quarantined) == sorted(damaged)
    else:
        # The repaired copy is a new record; the damaged one stays where it
        # was (never served again, dropped by compaction).
        for cid in damaged:
            assert after[cid].place() != copies[cid].place(), after[cid]
            assert copies[cid].read() != originals[cid]
        assert not list((node.dirs[0] / "quarantine").glob("*"))
    for cid in set(ids) - set(damaged):
        assert after[cid].place() == copies[cid].place(), after[cid]

    samples, types = metrics(node)
    assert samples[("cairn_chunk_scrub_bad_total", "")] == len(damaged)
    assert samples[("cairn_chunk_scrub_repaired_total", "")] == len(damaged)
    assert samples[("cairn_chunk_scrub_unrepaired_total", "")] == 0
    assert samples[("cairn_chunk_scrub_chunks_total", "")] == len(ids)
    whole_bytes = sum(c.length for c in copies.values())
    damaged_bytes = sum(copies[cid].length for cid in damaged)
    assert samples[("cairn_chunk_scrub_bytes_total", "")] == whole_bytes - damaged_bytes
    assert samples[("cairn_chunk_scrub_running", "")] == 0
    assert samples[("cairn_chunk_scrub_last_complete_timestamp_seconds", "")] > 1.6e9
    assert types["cairn_chunk_scrub_bad_total"] == "counter"
    assert types["cairn_chunk_scrub_running"] == "gauge"
    # The other nodes scrubbed nothing.
    for other in cluster.chunks[1:]:
        s, _ = metrics(other)
        assert s[("cairn_chunk_scrub_chunks_total", "")] == 0

    # Meta heard of every bad copy.
    _, body = http_get(cluster.meta.http, "/metrics")
    meta_samples, _ = parse_metrics(body)
    assert meta_samples.get(("cairn_cluster_bad_chunk_reports_total", ""), 0) >= len(damaged)

    assert_reads_back(cli, files)

    # Restarted (a volume store rebuilds its index from the log): the
    # repaired copies are still the ones stored, no damaged one is back.
    assert node.stop() == 0
    node.start()
    cluster.wait_healthy()
    assert {cid: c.place() for cid, c in node.stored_chunks().items()} == \
        {cid: c.place() for cid, c in after.items()}

    # A second cycle on every node finds nothing.
    r = cli.run("admin", "scrub", "--wait", "--json", "--poll", "0.1")
    assert r.returncode == 0, r
    nodes = json.loads(r.stdout)["nodes"]
    assert sorted(n["id"] for n in nodes) == sorted(c.node_id for c in cluster.chunks)
    for n in nodes:
        assert n["bad_found"] == 0 and n["chunks_done"] == len(ids), n
    # Text output and --status.
    out = cli.ok("admin", "scrub", "--status", str(node.node_id)).out
    assert "NODE" in out and "idle" in out


def test_read_of_a_damaged_copy_gets_it_repaired(cluster, tmp_path):
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/r", 1, 4 * CHUNK, 50)
    (remote, data), = files.items()
    chunk = chunks_of(cli, remote)[0]
    # Damage the copy on every node but the last: reads fall over to it.
    victims = []
    for n in chunk["nodes"][:2]:
        server = cluster.by_node(n["id"])
        c = copy_on(server, chunk["id"])
        assert c.kind == "volume", c  # 64 KiB: below the default --small-chunk-limit
        original = c.read()
        c.flip(10)
        victims.append((server, c, original))
    for _ in range(6):
        assert cli.ok("cat", remote).stdout == data
    # A node whose damaged copy served a read (an error reply "corrupt")
    # quarantines and repairs it in the background, without a scrub cycle.
    hit = 0
    for server, c, original in victims:
        s, _ = metrics(server)
        corrupt = sum(v for (name, labels), v in s.items()
                      if name == "cairn_chunk_errors_total" and "orrupt" in labels)
        if corrupt == 0:
            continue
        hit += 1
        wait_whole(server, chunk["id"], original)
        s = wait_metric(server, "cairn_chunk_scrub_repaired_total", 1)
        assert s[("cairn_chunk_scrub_chunks_total", "")] == 0  # no cycle ran
    assert hit >= 1, "no read reached a damaged copy"
    # A scrub of every node leaves every copy whole.
    cli.ok("admin", "scrub", "--wait", "--poll", "0.1")
    for server, c, original in victims:
        assert copy_on(server, chunk["id"]).read() == original, server.node_id
    r = cli.run("admin", "fsck", "/r", "--json")
    assert r.returncode == 0, r


def test_scrub_wait_returns_after_cycles_faster_than_the_reply(cluster):
    """A cycle over an empty store ends within microseconds, often before
    StartScrub's reply is made: --wait still sees it has ended (it compares
    against the status of the moment of the request) and so does every
    repeat."""
    cli = cluster.cli
    for i in range(10):
        r = cli.run("admin", "scrub", "--wait", "--json", "--poll", "0.1", timeout=15)
        assert r.returncode == 0, (i, r)
        nodes = json.loads(r.stdout)["nodes"]
        assert len(nodes) == 3
        for n in nodes:
            assert n["started"] and not n["running"], n
            assert n["cycles_completed"] == i + 1, n


def test_fsck_reports_and_repairs_missing_and_bad_copies(cluster, tmp_path):
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/ok", 4, 6 * CHUNK + 5, 100)
    # Chunks above the default --small-chunk-limit are files of their own:
    # the one kind of copy that can go missing behind a running server's
    # back (a record in a volume cannot be taken out of the log).
    files.update(put_files(cli, tmp_path, "/ok/large", 1, 3 * LARGE_CHUNK + 5, 150,
                           chunk=LARGE_CHUNK))
    clean = cli.run("admin", "fsck", "--json")
    assert clean.returncode == 0, clean
    report = json.loads(clean.stdout)
    assert report["whole"] is True
    assert report["files"] == 5
    assert report["chunks"] == sum(len(chunks_of(cli, f)) for f in files)
    assert report["copies_checked"] == 3 * report["chunks"]
    assert report["missing_copies"] == report["bad_copies"] == report["lost_chunks"] == 0

    # A chunk file deleted on one node, another copy (a volume record)
    # damaged on another.
    first = chunks_of(cli, "/ok/large/f0")[1]
    second = chunks_of(cli, "/ok/f2")[3]
    gone_server = cluster.by_node(first["nodes"][0]["id"])
    gone = copy_on(gone_server, first["id"])
    assert gone.kind == "file", gone
    gone_bytes = gone.read()
    gone.path.unlink()
    bad_server = cluster.by_node(second["nodes"][1]["id"])
    bad = copy_on(bad_server, second["id"])
    assert bad.kind == "volume", bad
    bad_bytes = bad.read()
    bad.flip(1234)

    r = cli.run("admin", "fsck", "--json")
    assert r.returncode == 1, r
    report = json.loads(r.stdout)
    assert report["whole"] is False
    assert report["missing_copies"] == 1
    assert report["bad_copies"] == 1
    assert report["lost_chunks"] == 0
    assert report["under_replicated"] == 2
    issues = {(i["chunk"], i["problem"]) for i in report["issues"]}
    assert issues == {(first["id"], "missing"), (second["id"], "bad")}
    for i in report["issues"]:
        if i["problem"] == "missing":
            assert (i["path"], i["offset"], i["node"]) == (
                "/ok/large/f0", first["offset"], gone_server.node_id)
    # Text output names them too.
    r = cli.run("admin", "fsck", "/ok")
    assert r.returncode == 1, r
    assert "missing copy: /ok/large/f0" in r.out and "status: NOT whole" in r.out

    r = cli.run("admin", "fsck", "--repair", "--json")
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    assert report["whole"] is True
    assert report["repair_failures"] == 0
    # The deleted file is back, byte for byte; the damaged copy was
    # replaced (by fsck, or already by its node after fsck's read).
    assert gone.path.read_bytes()[gone.data_offset:] == gone_bytes
    assert copy_on(gone_server, first["id"]).kind == "file"
    assert copy_on(bad_server, second["id"]).read() == bad_bytes

    r = cli.run("admin", "fsck", "--json")
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    assert report["missing_copies"] == report["bad_copies"] == report["under_replicated"] == 0
    assert cli.run("admin", "fsck", "--quick").returncode == 0
    assert_reads_back(cli, files)


def test_fsck_names_lost_chunks(cluster, tmp_path):
    cli = cluster.cli
    put_files(cli, tmp_path, "/lost", 1, 3 * CHUNK, 200)
    put_files(cli, tmp_path, "/fine", 1, 2 * CHUNK, 300)
    chunk = chunks_of(cli, "/lost/f0")[2]
    for n in chunk["nodes"]:
        copy_on(cluster.by_node(n["id"]), chunk["id"]).flip(7)
    r = cli.run("admin", "fsck", "/lost", "--repair", "--json")
    assert r.returncode == 1, r
    report = json.loads(r.stdout)
    assert report["lost_chunks"] == 1
    assert report["lost"] == [{"path": "/lost/f0", "offset": chunk["offset"],
                               "length": chunk["length"], "chunk": chunk["id"]}]
    r = cli.run("admin", "fsck", "/lost")
    assert r.returncode == 1
    assert f"LOST: /lost/f0 offset {chunk['offset']}" in r.out
    # The rest of the tree is whole.
    assert cli.run("admin", "fsck", "/fine").returncode == 0


def test_bad_input(cluster, tmp_path):
    cli = cluster.cli
    cli.fail("admin", "fsck", "/missing", message="No such file or directory")
    cli.fail("admin", "fsck", "--parallel", "0", code=2)
    cli.fail("admin", "fsck", "--parallel", "x", code=2)
    cli.fail("admin", "scrub", "abc", code=2, message="bad node id")
    cli.fail("admin", "scrub", "999", message="no such node")
    cli.fail("admin", "scrub", "--poll", "0", message="--poll")
    # Nothing was started by the refused commands.
    for c in cluster.chunks:
        s, _ = metrics(c)
        assert s[("cairn_chunk_scrub_chunks_total", "")] == 0


def test_bad_scrub_flags_are_refused(cairn_bin, tmp_path):
    for flags in (["--scrub-rate", "0"], ["--scrub-rate", "fast"], ["--scrub-interval", "7x"],
                  ["--scrub-interval=-1d"]):
        p = subprocess.run([str(cairn_bin), "chunk", "--meta", "127.0.0.1:1", "--dir",
                            str(tmp_path / "d"), "--listen", "127.0.0.1:0", "--data-listen",
                            "127.0.0.1:0", "--http", "127.0.0.1:0", *flags],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        assert p.returncode != 0, flags
        assert b"scrub" in p.stderr, (flags, p.stderr)
