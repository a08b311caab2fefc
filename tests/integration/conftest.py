"""Shared helpers for Cairn's end-to-end tests (see docs/testing.md).

The tests drive the real `cairn` binary: a `cairn meta` server on RocksDB in
a pytest tmp_path, and the `cairn` CLI against it. Every wait is bounded,
every subprocess call has a timeout, servers listen on 127.0.0.1 port 0
(the real ports come back in the ready file), and every server a test
starts is stopped by PID in teardown (SIGTERM, then SIGKILL).

The binary is $CAIRN_BIN, or <repo>/build/bin/cairn.
"""

import ctypes
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import chunkdisk

REPO = Path(__file__).resolve().parents[2]
CAIRN_BIN = os.environ.get("CAIRN_BIN") or str(REPO / "build" / "bin" / "cairn")

CLI_TIMEOUT = 30.0     # one CLI call
START_TIMEOUT = 30.0   # server start-up, until the ready file is complete
STOP_TIMEOUT = 10.0    # after SIGTERM, before SIGKILL
HTTP_TIMEOUT = 5.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long timing-driven scenarios; the sanitizer run (make test-asan) "
        "skips them, the plain run covers them")


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if the thread that started it
    dies, so even a killed pytest leaves no server behind. Servers are
    therefore started from the main thread only."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ServerError(Exception):
    pass


class ServerProcess:
    """One `cairn SUBCOMMAND ...` server process that writes a ready file.

    start() may be called again after the process ended (a restart with the
    same arguments; ports given as 0 are picked anew). Use from the main
    thread; kill() is safe from another thread while the process has not
    been waited for. Subclasses give the subcommand, its arguments and the
    address keys the ready file must hold.
    """

    name = "server"
    address_keys = ("grpc", "http")

    def __init__(self, binary, work_dir, extra_args=()):
        self.binary = str(binary)
        self.work_dir = Path(work_dir)
        self.extra_args = list(extra_args)
        self.proc = None
        self.info = None
        self.starts = 0
        self.log_path = None

    def command(self, ready_file):
        raise NotImplementedError

    @property
    def grpc(self):
        return self.info["grpc"]

    @property
    def http(self):
        return self.info["http"]

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait_ready=True):
        assert not self.running(), f"{self.name} already running"
        self.starts += 1
        ready = self.work_dir / f"{self.name}-ready-{self.starts}.json"
        self.log_path = self.work_dir / f"{self.name}-{self.starts}.log"
        if ready.exists():
            ready.unlink()
        args = [self.binary, *self.command(ready), *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.info = None
        self._ready_file = ready
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        ready = self._ready_file
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"cairn {self.name} exited with {self.proc.returncode} before "
                                  f"it was ready:\n{self.log_tail()}")
            if ready.exists():
                try:
                    info = json.loads(ready.read_text())
                except (ValueError, OSError):
                    info = None  # still being written
                if isinstance(info, dict) and {*self.address_keys, "pid"} <= info.keys():
                    self.info = info
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"cairn {self.name} not ready after {timeout}s:\n"
                                  f"{self.log_tail()}")
            time.sleep(0.01)
        if self.info["pid"] != self.proc.pid:
            self.stop()
            raise ServerError(f"ready file pid {self.info['pid']} != process {self.proc.pid}")
        for key in self.address_keys:
            host, _, port = self.info[key].rpartition(":")
            if host != "127.0.0.1" or not port.isdigit() or int(port) == 0:
                self.stop()
                raise ServerError(f"ready file {key} address {self.info[key]!r} is not "
                                  f"127.0.0.1:PORT")
        return self

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` (by PID) if the process is still running."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=STOP_TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        return self.proc.returncode

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class MetaServer(ServerProcess):
    """One `cairn meta` process on `rocksdb:<store_dir>`."""

    name = "meta"

    def __init__(self, binary, store_dir, work_dir, extra_args=()):
        super().__init__(binary, work_dir, extra_args)
        self.store_dir = Path(store_dir)

    def command(self, ready_file):
        return ["meta", "--store", f"rocksdb:{self.store_dir}",
                "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                "--ready-file", str(ready_file)]


class ChunkServer(ServerProcess):
    """One `cairn chunk` process on its data directories, registered with
    the meta server at `meta_addr` (a callable, so a restarted meta's new
    address is used on the chunk server's next start)."""

    name = "chunk"
    address_keys = ("data", "grpc", "http")

    def __init__(self, binary, dirs, work_dir, meta_addr, extra_args=()):
        super().__init__(binary, work_dir, extra_args)
        self.dirs = [Path(d) for d in dirs]
        self.meta_addr = meta_addr

    def command(self, ready_file):
        args = ["chunk", "--meta", self.meta_addr(),
                "--listen", "127.0.0.1:0", "--data-listen", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--ready-file", str(ready_file)]
        for d in self.dirs:
            args += ["--dir", str(d)]
        return args

    @property
    def data(self):
        return self.info["data"]

    @property
    def node_id(self):
        return int(self.info["node_id"])

    def chunk_files(self):
        """Every stored chunk file (not temporaries, not quarantined): only
        the chunks kept in files of their own (larger than
        --small-chunk-limit, or all with --small-chunk-limit 0); see
        stored_chunks() for every chunk."""
        return [p for d in self.dirs for p in chunkdisk.chunk_file_paths(d)]

    def stored_chunks(self):
        """{chunk id: chunkdisk.StoredChunk} of every chunk this server
        stores, in a chunk file or a volume (tests/integration/chunkdisk.py)."""
        out = {}
        for d in self.dirs:
            out.update(chunkdisk.stored_chunks(d))
        return out


class CliResult:
    def __init__(self, args, returncode, stdout, stderr):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout                                  # bytes
        self.stderr = stderr.decode("utf-8", "replace")       # text

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    def __repr__(self):
        return (f"cairn {' '.join(map(_show, self.args))} -> exit {self.returncode}\n"
                f"stdout: {self.stdout[:2000]!r}\nstderr: {self.stderr[:2000]!r}")


def _show(a):
    return a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else a


class Cli:
    """Runs `cairn CMD --meta ADDR ARGS...`. Arguments may be str or bytes
    (bytes pass raw names through unchanged)."""

    def __init__(self, binary, meta_addr, env=None):
        self.binary = str(binary)
        self.meta = meta_addr
        # Extra environment for every call (e.g. CAIRN_META_WAIT).
        self.env = {**os.environ, **env} if env else None

    # Commands whose first argument names a subcommand (`admin status`):
    # client flags belong to that subcommand.
    GROUPS = ("admin", "policy", "xattr", "bench")

    def run(self, cmd, *args, timeout=CLI_TIMEOUT, meta=True):
        args = list(args)
        head = [cmd]
        if cmd in self.GROUPS and args:
            head.append(args.pop(0))
        argv = [self.binary, *head] + (["--meta", self.meta] if meta else []) + args
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=self.env)
        return CliResult([cmd, *args], p.returncode, p.stdout, p.stderr)

    def ok(self, cmd, *args, **kw):
        r = self.run(cmd, *args, **kw)
        assert r.returncode == 0, f"expected success:\n{r!r}"
        return r

    def fail(self, cmd, *args, code=1, message=None, **kw):
        """Expects exit `code` and, when given, `message` in stderr. Operation
        errors (exit 1) look like `cairn: PATH: message`; usage errors (exit
        2) need only say something."""
        r = self.run(cmd, *args, **kw)
        assert r.returncode == code, f"expected exit {code}:\n{r!r}"
        if code == 1:
            assert r.stderr.startswith("cairn: "), f"error message should start with 'cairn: ':\n{r!r}"
        assert r.stderr.strip(), f"no error message:\n{r!r}"
        if message is not None:
            assert message in r.stderr, f"expected {message!r} in stderr:\n{r!r}"
        return r

    def json(self, cmd, *args, **kw):
        r = self.ok(cmd, *args, **kw)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError(f"output is not JSON ({e}):\n{r!r}")

    def ls(self, path="/"):
        """ls --json PATH as {name: entry}."""
        entries = self.json("ls", "--json", path)
        assert isinstance(entries, list), entries
        names = [e["name"] for e in entries]
        assert len(names) == len(set(names)), f"duplicate names in ls {path}: {names}"
        return {e["name"]: e for e in entries}

    def stat(self, path):
        st = self.json("stat", "--json", path)
        assert isinstance(st, dict), st
        return st


def http_get(addr, path, timeout=HTTP_TIMEOUT):
    """(status, body text) of GET http://addr/path."""
    try:
        with urllib.request.urlopen(f"http://{addr}{path}", timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$')


def parse_metrics(text):
    """Prometheus text -> ({(name, labels): value}, {family: type}).
    Fails on any line that is not a comment, blank or a well-formed sample."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = _SAMPLE.match(line)
        assert m, f"malformed metrics line: {line!r}"
        value = float(m.group(3))
        key = (m.group(1), m.group(2) or "")
        assert key not in samples, f"duplicate series {key}"
        samples[key] = value
    return samples, types


@pytest.fixture(scope="session")
def cairn_bin():
    p = Path(CAIRN_BIN)
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"cairn binary not found at {p}: build it (ninja -C build cairn) "
                    f"or set CAIRN_BIN", pytrace=False)
    return str(p)


@pytest.fixture
def meta_factory(cairn_bin, tmp_path):
    """Returns new_server(store_dir=None, extra_args=()) -> started
    MetaServer; every server made is stopped at teardown."""
    servers = []

    def new_server(store_dir=None, extra_args=()):
        n = len(servers) + 1
        store = Path(store_dir) if store_dir else tmp_path / f"store{n}"
        work = tmp_path / f"run{n}"
        work.mkdir()
        s = MetaServer(cairn_bin, store, work, extra_args)
        servers.append(s)
        return s.start()

    yield new_server
    # Stop every server still running; a clean SIGTERM shutdown must exit 0
    # (under ASan this is also where leaks and shutdown races show up).
    errors = []
    for s in servers:
        if not s.running():
            continue
        try:
            code = s.stop()
            if code != 0:
                errors.append(f"cairn meta exited {code} on SIGTERM:\n{s.log_tail()}")
        except Exception as e:  # keep stopping the others
            errors.append(repr(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


class Cluster:
    """A `cairn meta` and N `cairn chunk` processes on loopback, each chunk
    server with its own data directory under `root`. Started by start(),
    stopped (by PID) by stop(); chunk servers can be killed and restarted
    one by one."""

    def __init__(self, binary, root, chunk_servers=5, meta_args=(), chunk_args=()):
        self.binary = str(binary)
        self.root = Path(root)
        self.n = chunk_servers
        self.meta = MetaServer(binary, self.root / "meta-store", self._work("meta"),
                               ["--bootstrap-nodes", str(chunk_servers), *meta_args])
        self.chunks = [ChunkServer(binary, [self.root / f"chunk{i}" / "data"],
                                   self._work(f"chunk{i}"), lambda: self.meta.grpc, chunk_args)
                       for i in range(1, chunk_servers + 1)]

    def _work(self, name):
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def start(self, timeout=START_TIMEOUT):
        self.meta.start()
        for c in self.chunks:
            c.start(wait_ready=False)
        for c in self.chunks:
            c.wait_ready()
        self.wait_healthy(timeout=timeout)
        return self

    @property
    def cli(self):
        return Cli(self.binary, self.meta.grpc)

    def status(self):
        return self.cli.json("admin", "status", "--json")

    def wait_healthy(self, up=None, timeout=START_TIMEOUT):
        """Waits until `up` nodes (default: every running chunk server) are
        up and every PG has a full chain; returns the status."""
        up = sum(c.running() for c in self.chunks) if up is None else up
        want = min(3, up)
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            nodes_up = [n for n in st["nodes"] if n["state"] == "up"]
            if len(nodes_up) == up and st["pgs"] and all(
                    len(pg["chain"]) >= want for pg in st["pgs"]):
                return st
            if time.monotonic() > deadline:
                raise ServerError(f"cluster not healthy after {timeout}s: {st}")
            time.sleep(0.1)

    def by_node(self, node_id):
        return next(c for c in self.chunks if c.info and c.node_id == node_id)

    def stop(self):
        """Stops every process (chunk servers first); returns the list of
        (name, exit code) of those that did not exit 0 on SIGTERM."""
        bad = []
        for p in [*self.chunks, self.meta]:
            if p.running():
                code = p.stop()
                if code != 0:
                    bad.append((p.name, code, p.log_tail()))
        return bad


@pytest.fixture
def cluster_factory(cairn_bin, tmp_path):
    """Returns new_cluster(chunk_servers=5, meta_args=(), chunk_args=()) ->
    started Cluster; every cluster made is stopped at teardown and must
    exit cleanly."""
    clusters = []

    def new_cluster(chunk_servers=5, meta_args=(), chunk_args=()):
        c = Cluster(cairn_bin, tmp_path / f"cluster{len(clusters) + 1}", chunk_servers,
                    meta_args, chunk_args)
        clusters.append(c)
        return c.start()

    yield new_cluster
    bad = []
    for c in clusters:
        bad += c.stop()
    if bad:
        pytest.fail("\n".join(f"cairn {n} exited {code} on SIGTERM:\n{log}"
                              for n, code, log in bad), pytrace=False)


@pytest.fixture
def meta(meta_factory):
    return meta_factory()


@pytest.fixture
def cli(cairn_bin, meta):
    return Cli(cairn_bin, meta.grpc)
