"""`cairn meta` as a process: ready file, restart on the same store, a
second instance on a store in use, clean shutdown, bad arguments."""

import json
import signal
import subprocess

import pytest

from conftest import Cli, ServerError, http_get


def test_restart_keeps_namespace_and_inode_numbers(meta_factory, cairn_bin, tmp_path):
    server = meta_factory(store_dir=tmp_path / "store")
    cli = Cli(cairn_bin, server.grpc)
    cli.ok("mkdir", "-p", "/a/b")
    cli.ok("touch", "/a/f")
    cli.ok("ln", "-s", "/a/b", "/l")
    before = {p: cli.stat(p) for p in ("/a", "/a/b", "/a/f", "/l")}

    assert server.stop() == 0, server.log_tail()     # SIGTERM: clean exit
    server.start()
    cli = Cli(cairn_bin, server.grpc)
    after = {p: cli.stat(p) for p in before}
    for p in before:
        for key in ("ino", "type", "nlink", "mode", "size", "mtime_ns", "ctime_ns"):
            assert after[p][key] == before[p][key], (p, key, before[p], after[p])
    assert cli.ok("readlink", "/l").out == "/a/b\n"
    # Inode numbers are never reused, also across a restart.
    cli.ok("touch", "/new")
    new_ino = cli.stat("/new")["ino"]
    assert new_ino not in {st["ino"] for st in before.values()} and new_ino > 1


def test_second_server_on_a_store_in_use_refuses(meta_factory, tmp_path):
    store = tmp_path / "store"
    first = meta_factory(store_dir=store)
    with pytest.raises(ServerError) as e:
        meta_factory(store_dir=store)
    assert "LOCK" in str(e.value) or "lock" in str(e.value), str(e.value)
    # The first one is unharmed.
    assert first.running()
    assert http_get(first.http, "/healthz")[0] == 200


def test_readyz_and_metrics_format(meta, cli):
    assert http_get(meta.http, "/readyz")[0] == 200
    for i in range(3):
        cli.ok("mkdir", f"/d{i}")
    status, text = http_get(meta.http, "/metrics")
    assert status == 200
    buckets = []
    count = None
    for line in text.splitlines():
        if line.startswith('cairn_meta_request_duration_seconds_bucket{op="Mkdir",'):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
        if line.startswith('cairn_meta_request_duration_seconds_count{op="Mkdir"}'):
            count = float(line.rsplit(" ", 1)[1])
    assert buckets and count is not None and count >= 3, text[:2000]
    les = [le for le, _ in buckets]
    assert les == sorted(les) and les[-1] == float("inf"), les
    values = [v for _, v in buckets]
    assert values == sorted(values), "histogram buckets must be cumulative"
    assert values[-1] == count, "le=+Inf bucket must equal _count"


def test_bad_arguments(cairn_bin, tmp_path):
    def run(*args):
        return subprocess.run([cairn_bin, "meta", *args], capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    r = run("--no-such-flag")
    assert r.returncode == 2, r
    r = run("--store", "bogus:/x", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
    assert r.returncode in (1, 2) and b"bogus" in r.stderr, r
    # A file where the store directory should be.
    f = tmp_path / "file"
    f.write_text("x")
    r = run("--store", f"rocksdb:{f}", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
            "--ready-file", str(tmp_path / "ready"))
    assert r.returncode == 1 and b"cairn: meta: " in r.stderr and b"Not a directory" in r.stderr, r
    assert not (tmp_path / "ready").exists()


def test_ready_file_is_complete_json(meta):
    info = json.loads((meta.work_dir / f"meta-ready-{meta.starts}.json").read_text())
    assert info == {"grpc": meta.grpc, "http": meta.http, "pid": meta.pid}


def test_sigint_also_stops_cleanly(meta, cli):
    cli.ok("mkdir", "/x")
    meta.kill(signal.SIGINT)
    assert meta.wait() == 0, meta.log_tail()
