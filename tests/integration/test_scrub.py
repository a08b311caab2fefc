"""Scrub and fsck end to end: a `cairn meta` and three `cairn chunk`
processes on loopback (three replicas: every node holds every chunk).

- `cairn admin scrub NODE --wait` finds every chunk file damaged on disk,
  quarantines it and repairs it from a replica: the files are whole again,
  the metrics and the status agree, every file reads back bit-exact.
- `cairn admin fsck` finds a deleted chunk file and a damaged copy, exits
  non-zero; `--repair` fixes them and a second fsck is clean (exit 0); a
  chunk damaged on every node is named as lost by path and offset.
- Bad input: a missing path, bad flags, unknown nodes.

Chunks are 64 KiB (per-directory policy) so a few MiB make hundreds.
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
DATA_OFFSET = 4096  # docs/chunk-format.md: where the data starts (chunks below 63 MiB)


@pytest.fixture
def cluster(cluster_factory):
    # No scheduled scrub: the tests start every cycle themselves.
    return cluster_factory(3, chunk_args=["--scrub-interval", "0", "--scrub-rate", "512MiB"])


def pattern(size, seed):
    return random.Random(seed).randbytes(size)


def put_files(cli, tmp_path, directory, count, size, seed):
    """Writes `count` files of about `size` bytes under `directory` (64 KiB
    chunks); returns {remote path: bytes}."""
    cli.ok("mkdir", directory)
    cli.ok("policy", "set", directory, "--chunk-size", str(CHUNK))
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


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x5A]))


def data_length(path):
    return path.stat().st_size - DATA_OFFSET


def metrics(server):
    _, body = http_get(server.info["http"], "/metrics")
    samples, types = parse_metrics(body)
    return samples, types


def assert_reads_back(cli, files):
    for remote, data in files.items():
        assert cli.ok("cat", remote).stdout == data, remote


def test_scrub_finds_quarantines_and_repairs_every_damaged_chunk(cluster, tmp_path):
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/s", 10, 30 * CHUNK + 1000, 1)
    node = cluster.chunks[0]
    chunk_files = sorted(node.chunk_files())
    assert len(chunk_files) >= 300, len(chunk_files)
    rng = random.Random(7)
    damaged = rng.sample(chunk_files, max(4, len(chunk_files) // 100))
    originals = {}
    for p in damaged:
        originals[p] = p.read_bytes()
        flip(p, DATA_OFFSET + rng.randrange(data_length(p)))
        assert p.read_bytes() != originals[p]

    r = cli.run("admin", "scrub", str(node.node_id), "--wait", "--json", "--poll", "0.1")
    assert r.returncode == 0, r
    (st,) = json.loads(r.stdout)["nodes"]
    assert st["id"] == node.node_id
    assert st["started"] is True and st["running"] is False
    assert st["cycles_completed"] == 1
    assert st["chunks_total"] == len(chunk_files)
    assert st["chunks_done"] == len(chunk_files)
    assert st["bad_found"] == len(damaged)
    assert st["repaired"] == len(damaged)
    assert st["unrepaired"] == 0 and st["waiting_repair"] == 0

    # Whole again on disk (same bytes as before the damage), the damaged
    # copies kept in quarantine, untouched files unchanged.
    for p in damaged:
        assert p.read_bytes() == originals[p], p
    quarantined = list((node.dirs[0] / "quarantine").iterdir())
    assert sorted(q.name.split(".")[0] for q in quarantined) == sorted(p.name for p in damaged)
    assert sorted(node.chunk_files()) == chunk_files

    samples, types = metrics(node)
    assert samples[("cairn_chunk_scrub_bad_total", "")] == len(damaged)
    assert samples[("cairn_chunk_scrub_repaired_total", "")] == len(damaged)
    assert samples[("cairn_chunk_scrub_unrepaired_total", "")] == 0
    assert samples[("cairn_chunk_scrub_chunks_total", "")] == len(chunk_files)
    whole_bytes = sum(data_length(p) for p in chunk_files)
    damaged_bytes = sum(data_length(p) for p in damaged)
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

    # A second cycle on every node finds nothing.
    r = cli.run("admin", "scrub", "--wait", "--json", "--poll", "0.1")
    assert r.returncode == 0, r
    nodes = json.loads(r.stdout)["nodes"]
    assert sorted(n["id"] for n in nodes) == sorted(c.node_id for c in cluster.chunks)
    for n in nodes:
        assert n["bad_found"] == 0 and n["chunks_done"] == len(chunk_files), n
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
        (p,) = [f for f in server.chunk_files() if f.name == chunk["id"]]
        original = p.read_bytes()
        flip(p, DATA_OFFSET + 10)
        victims.append((server, p, original))
    for _ in range(6):
        assert cli.ok("cat", remote).stdout == data
    # A node whose damaged copy served a read (an error reply "corrupt")
    # quarantines and repairs it in the background, without a scrub cycle.
    hit = 0
    for server, p, original in victims:
        s, _ = metrics(server)
        corrupt = sum(v for (name, labels), v in s.items()
                      if name == "cairn_chunk_errors_total" and "orrupt" in labels)
        if corrupt == 0:
            continue
        hit += 1
        deadline = time.monotonic() + 15
        while p.read_bytes() != original and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.read_bytes() == original, p
        s, _ = metrics(server)
        assert s[("cairn_chunk_scrub_repaired_total", "")] >= 1
        assert s[("cairn_chunk_scrub_chunks_total", "")] == 0  # no cycle ran
    assert hit >= 1, "no read reached a damaged copy"
    # A scrub of every node leaves every copy whole.
    cli.ok("admin", "scrub", "--wait", "--poll", "0.1")
    for server, p, original in victims:
        assert p.read_bytes() == original, p
    r = cli.run("admin", "fsck", "/r", "--json")
    assert r.returncode == 0, r


def test_fsck_reports_and_repairs_missing_and_bad_copies(cluster, tmp_path):
    cli = cluster.cli
    files = put_files(cli, tmp_path, "/ok", 4, 6 * CHUNK + 5, 100)
    clean = cli.run("admin", "fsck", "--json")
    assert clean.returncode == 0, clean
    report = json.loads(clean.stdout)
    assert report["whole"] is True
    assert report["files"] == 4
    assert report["chunks"] == sum(len(chunks_of(cli, f)) for f in files)
    assert report["copies_checked"] == 3 * report["chunks"]
    assert report["missing_copies"] == report["bad_copies"] == report["lost_chunks"] == 0

    # A chunk file deleted on one node, another copy damaged on another.
    first = chunks_of(cli, "/ok/f0")[1]
    second = chunks_of(cli, "/ok/f2")[3]
    gone_server = cluster.by_node(first["nodes"][0]["id"])
    (gone,) = [p for p in gone_server.chunk_files() if p.name == first["id"]]
    gone_bytes = gone.read_bytes()
    gone.unlink()
    bad_server = cluster.by_node(second["nodes"][1]["id"])
    (bad,) = [p for p in bad_server.chunk_files() if p.name == second["id"]]
    bad_bytes = bad.read_bytes()
    flip(bad, DATA_OFFSET + 1234)

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
                "/ok/f0", first["offset"], gone_server.node_id)
    # Text output names them too.
    r = cli.run("admin", "fsck", "/ok")
    assert r.returncode == 1, r
    assert "missing copy: /ok/f0" in r.out and "status: NOT whole" in r.out

    r = cli.run("admin", "fsck", "--repair", "--json")
    assert r.returncode == 0, r
    report = json.loads(r.stdout)
    assert report["whole"] is True
    assert report["repair_failures"] == 0
    # The deleted file is back, byte for byte; the damaged copy was
    # replaced (by fsck, or already by its node after fsck's read).
    assert gone.read_bytes() == gone_bytes
    assert bad.read_bytes() == bad_bytes

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
        server = cluster.by_node(n["id"])
        (p,) = [f for f in server.chunk_files() if f.name == chunk["id"]]
        flip(p, DATA_OFFSET + 7)
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
