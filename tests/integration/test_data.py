"""File data end to end: a `cairn meta` and five `cairn chunk` processes on
loopback, driven through the CLI (put, get, cat, write, truncate, stat
--chunks, policy, admin status).

Every test compares bytes exactly. Small chunk sizes (set per directory
with `cairn policy set --chunk-size`) keep the multi-chunk cases quick;
the big round trip uses the default 8 MiB chunks and CAIRN_BIG_BYTES
bytes (default 1 GiB; the sanitizer run lowers it).
"""

import hashlib
import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import CLI_TIMEOUT, http_get, parse_metrics

KIB = 1024
MIB = 1024 * KIB
BIG_BYTES = int(os.environ.get("CAIRN_BIG_BYTES", str(1024 * MIB)))
SMALL_CHUNK = 64 * KIB


@pytest.fixture
def cluster(cluster_factory):
    # Nodes go down 2 s after their last heartbeat so failure tests finish
    # quickly; everything else keeps the defaults.
    return cluster_factory(5, meta_args=["--down-after", "2"])


def pattern(size, seed):
    return random.Random(seed).randbytes(size)


def write_local(path, data):
    path.write_bytes(data)
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(8 * MIB)
            if not block:
                return h.hexdigest()
            h.update(block)


def put_get(cli, tmp_path, remote, data):
    """put `data` at `remote`, then get it back and cat it; both must match."""
    src = write_local(tmp_path / "src.bin", data)
    cli.ok("put", str(src), remote)
    dst = tmp_path / "dst.bin"
    if dst.exists():
        dst.unlink()
    cli.ok("get", remote, str(dst))
    assert dst.read_bytes() == data, f"get {remote}: bytes differ"
    assert cli.ok("cat", remote).stdout == data, f"cat {remote}: bytes differ"
    assert cli.stat(remote)["size"] == len(data)


def chunks_of(cli, remote):
    st = cli.json("stat", "--chunks", "--json", remote)
    return st["chunks"]


def test_round_trip_sizes(cluster, tmp_path):
    cli = cluster.cli
    cli.ok("mkdir", "/small")
    cli.ok("policy", "set", "/small", "--chunk-size", str(SMALL_CHUNK))
    for size in [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 3 * SMALL_CHUNK + 17]:
        remote = f"/small/f{size}"
        data = pattern(size, size)
        put_get(cli, tmp_path, remote, data)
        chunks = chunks_of(cli, remote)
        assert len(chunks) == (size + SMALL_CHUNK - 1) // SMALL_CHUNK, chunks
        assert sum(c["length"] for c in chunks) == size
        for c in chunks:
            ids = [n["id"] for n in c["nodes"]]
            assert len(ids) == 3 and len(set(ids)) == 3, c


def test_round_trip_big(cluster, tmp_path):
    cli = cluster.cli
    src = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(src, "wb") as f:
        left = BIG_BYTES
        while left:
            block = os.urandom(min(left, 16 * MIB))
            h.update(block)
            f.write(block)
            left -= len(block)
    cli.ok("put", str(src), "/big.bin", timeout=600)
    src.unlink()  # keep the disk footprint at one local copy
    dst = tmp_path / "back.bin"
    cli.ok("get", "/big.bin", str(dst), timeout=600)
    assert dst.stat().st_size == BIG_BYTES
    assert sha256_file(dst) == h.hexdigest()
    chunks = chunks_of(cli, "/big.bin")
    assert len(chunks) == (BIG_BYTES + 8 * MIB - 1) // (8 * MIB)
    # The chunks spread over every chunk server.
    holders = {n["id"] for c in chunks for n in c["nodes"]}
    assert len(holders) == 5, holders


def test_concurrent_writers(cluster, tmp_path):
    cli = cluster.cli
    cli.ok("mkdir", "/par")
    cli.ok("policy", "set", "/par", "--chunk-size", str(256 * KIB))
    datas = {i: pattern(700 * KIB + i * 4099, 100 + i) for i in range(6)}
    for i, d in datas.items():
        write_local(tmp_path / f"in{i}", d)

    def put(i):
        return cli.run("put", str(tmp_path / f"in{i}"), f"/par/f{i}")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(put, datas))
    for r in results:
        assert r.returncode == 0, r
    for i, d in datas.items():
        assert cli.ok("cat", f"/par/f{i}").stdout == d


def test_recursive_put_get(cluster, tmp_path):
    cli = cluster.cli
    tree = tmp_path / "tree"
    files = {"a.txt": b"alpha\n", "sub/b.bin": pattern(200 * KIB, 7),
             "sub/deeper/c": b"", "sub/name with space": b"x" * 5000}
    for rel, data in files.items():
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    cli.ok("put", "-r", str(tree), "/tree")
    back = tmp_path / "back"
    cli.ok("get", "-r", "/tree", str(back))
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data, rel


def test_overwrite_in_the_middle(cluster, tmp_path):
    cli = cluster.cli
    cli.ok("mkdir", "/ow")
    cli.ok("policy", "set", "/ow", "--chunk-size", str(SMALL_CHUNK))
    data = bytearray(pattern(5 * SMALL_CHUNK + 300, 1))
    put_get(cli, tmp_path, "/ow/f", bytes(data))
    before = chunks_of(cli, "/ow/f")
    # Overwrite 1000 bytes across the boundary of chunks 1 and 2.
    patch = pattern(1000, 2)
    offset = 2 * SMALL_CHUNK - 500
    p = subprocess.run([cluster.binary, "write", "--meta", cluster.meta.grpc, "--offset",
                        str(offset), "/ow/f"], input=patch, capture_output=True,
                       timeout=CLI_TIMEOUT)
    assert p.returncode == 0, p.stderr
    data[offset:offset + len(patch)] = patch
    assert cli.ok("cat", "/ow/f").stdout == bytes(data)
    after = chunks_of(cli, "/ow/f")
    changed = [i for i, (b, a) in enumerate(zip(before, after)) if b["id"] != a["id"]]
    assert changed == [1, 2], "only the two touched chunks are rewritten"
    assert cli.stat("/ow/f")["size"] == len(data)


def test_truncate_down_and_up(cluster, tmp_path):
    cli = cluster.cli
    cli.ok("mkdir", "/tr")
    cli.ok("policy", "set", "/tr", "--chunk-size", str(SMALL_CHUNK))
    data = pattern(3 * SMALL_CHUNK + 10, 3)
    put_get(cli, tmp_path, "/tr/f", data)
    cut = SMALL_CHUNK + 123
    cli.ok("truncate", "-s", str(cut), "/tr/f")
    assert cli.ok("cat", "/tr/f").stdout == data[:cut]
    assert len(chunks_of(cli, "/tr/f")) == 2
    grown = 4 * SMALL_CHUNK
    cli.ok("truncate", "-s", str(grown), "/tr/f")
    out = cli.ok("cat", "/tr/f").stdout
    # The cut bytes do not come back: the hole reads zeros.
    assert out == data[:cut] + b"\0" * (grown - cut)


def test_policy_replicas(cluster, tmp_path):
    cli = cluster.cli
    cli.ok("mkdir", "/two")
    cli.ok("policy", "set", "/two", "--replicas", "2", "--chunk-size", str(SMALL_CHUNK))
    pol = cli.json("policy", "get", "--json", "/two")
    assert pol["effective"]["replicas"] == 2
    put_get(cli, tmp_path, "/two/f", pattern(2 * SMALL_CHUNK + 1, 9))
    for c in chunks_of(cli, "/two/f"):
        assert len(c["nodes"]) == 2, c
    # More copies than the cluster keeps is refused with a clear message.
    r = cli.fail("policy", "set", "/two", "--replicas", "9")
    assert "replica" in r.stderr
    # The default is three.
    assert cli.json("policy", "get", "--json", "/")["effective"]["replicas"] == 3


def test_admin_status(cluster):
    st = cluster.status()
    assert st["epoch"] >= 1
    assert len(st["nodes"]) == 5
    assert all(n["state"] == "up" and n["capacity_bytes"] > 0 for n in st["nodes"])
    assert len(st["pgs"]) == st["pg_count"]
    for pg in st["pgs"]:
        assert len(pg["chain"]) == 3 and len(set(pg["chain"])) == 3


def test_kill_chunk_server_during_put(cluster, tmp_path):
    """The put either completes (on new chains without the dead node) or
    fails with a clear error; a file never reads back wrong."""
    cli = cluster.cli
    size = 96 * MIB
    data = pattern(size, 11)
    src = write_local(tmp_path / "src.bin", data)
    victim = cluster.chunks[2]
    proc = subprocess.Popen([cluster.binary, "put", "--meta", cluster.meta.grpc, str(src),
                             "/victim.bin"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(random.uniform(0.3, 1.0))
        victim.kill(signal.SIGKILL)
        victim.wait()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        assert cli.ok("cat", "/victim.bin").stdout == data
    else:
        assert err.decode().startswith("cairn: "), err
        r = cli.run("cat", "/victim.bin")
        if r.returncode == 0:  # whatever was committed is a prefix of the source
            assert data.startswith(r.stdout)
    # The survivors keep serving: the dead node leaves every chain (with
    # four nodes left, chains it left stay at two members until it is out,
    # which re-replicates), and a new file round-trips.
    deadline = time.monotonic() + 30
    while True:
        st = cluster.status()
        if all(victim.node_id not in pg["chain"] and len(pg["chain"]) >= 2 for pg in st["pgs"]):
            break
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    put_get(cli, tmp_path, "/after.bin", pattern(3 * MIB, 12))


# A 3 MiB chunk is a file of its own; a 100 KiB one a record in a volume
# file (below the default --small-chunk-limit, 128 KiB).
@pytest.mark.parametrize("size,kind", [(3 * MIB + 5, "file"), (100 * KIB + 3, "volume")])
def test_corrupt_replica_is_read_around_and_reported(cluster, tmp_path, size, kind):
    cli = cluster.cli
    data = pattern(size, 21)
    put_get(cli, tmp_path, "/c.bin", data)
    (chunk,) = chunks_of(cli, "/c.bin")
    # Damage every 64 KiB block of the copies on two of the three holders
    # (the third is good), so whichever replica a read range goes to, the
    # damaged ones are hit.
    for node in chunk["nodes"][:2]:
        server = cluster.by_node(node["id"])
        copy = server.stored_chunks().get(chunk["id"])
        assert copy is not None and copy.kind == kind, (node, copy)
        for block in range(0, chunk["length"], 64 * KIB):
            copy.flip(min(block + 100, chunk["length"] - 1))
        assert copy.read() != data
    for _ in range(3):
        assert cli.ok("cat", "/c.bin").stdout == data
    dst = tmp_path / "c.back"
    cli.ok("get", "/c.bin", str(dst))
    assert dst.read_bytes() == data
    # Meta heard about at least one bad copy.
    _, body = http_get(cluster.meta.http, "/metrics")
    samples, _ = parse_metrics(body)
    reported = samples.get(("cairn_cluster_bad_chunk_reports_total", ""), 0)
    assert reported >= 1, "no bad chunk report reached meta"


def test_bad_input(cluster, tmp_path):
    cli = cluster.cli
    cli.fail("put", str(tmp_path / "missing"), "/x", message="No such file or directory")
    cli.fail("get", "/missing", str(tmp_path / "out"), message="No such file or directory")
    cli.ok("mkdir", "/d")
    cli.fail("cat", "/d", message="Is a directory")
    cli.fail("policy", "set", "/d", "--chunk-size", "12345")
    cli.fail("truncate", "-s", "10", "/d")
