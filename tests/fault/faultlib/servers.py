"""Cairn processes on the hosts of a faultlib.net.Network.

- `Server`: one `cairn meta` or `cairn chunk` process on one host, started
  with fixed ports on the host's own address (every host has its own
  address, so the ports never collide, and a restarted server comes back at
  the address everybody already knows). start() waits for the ready file;
  kill(sig) / pause() / resume() / stop() / restart() act on the PID only.
- `Client`: runs `cairn CMD ...` on a host (always with a timeout), or starts
  a long-running one in the background (`spawn`).

Every process is started from the main thread with PR_SET_PDEATHSIG, so it
dies with pytest even when pytest is SIGKILLed; Cluster.close() stops the
rest by PID.
"""

import ctypes
import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import chunkdisk

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0

META_GRPC, META_HTTP = 9400, 9401
CHUNK_GRPC, CHUNK_DATA, CHUNK_HTTP = 9500, 9501, 9502

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _child_setup(host):
    enter = host.preexec()

    def setup():
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        enter()
    return setup


class ServerError(Exception):
    pass


class Server:
    """One server process on `host`. Subclasses give `name`, the address
    keys of the ready file and the command line."""

    address_keys = ("grpc", "http")

    def __init__(self, binary, host, name, work_dir, extra_args=()):
        self.binary = str(binary)
        self.host = host
        self.name = name
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        self.proc = None
        self.info = None
        self.starts = 0
        self.paused = False
        self.log_path = None
        self._ready = None

    def __repr__(self):
        return f"{self.name}@{self.host.ip}"

    def command(self, ready_file):
        raise NotImplementedError

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, timeout=START_TIMEOUT):
        """Starts the process (again, after it ended: same arguments and
        data directories). Waits for the ready file unless wait=False."""
        assert not self.running(), f"{self} already running"
        self.starts += 1
        self._ready = self.work_dir / f"ready-{self.starts}.json"
        self.log_path = self.work_dir / f"log-{self.starts}.txt"
        self._ready.unlink(missing_ok=True)
        argv = [self.binary, *self.command(self._ready), *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=_child_setup(self.host))
        self.info = None
        self.paused = False
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(f"{self} exited {self.proc.returncode} before it was ready:\n"
                                  f"{self.log_tail()}")
            try:
                info = json.loads(self._ready.read_text())
            except (OSError, ValueError):
                info = None
            if isinstance(info, dict) and {*self.address_keys, "pid"} <= info.keys():
                break
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"{self} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.02)
        if info["pid"] != self.proc.pid:
            raise ServerError(f"{self}: ready file pid {info['pid']} != {self.proc.pid}")
        for key in self.address_keys:
            if not info[key].startswith(self.host.ip + ":"):
                raise ServerError(f"{self}: {key} address {info[key]} is not on {self.host.ip}")
        self.info = info
        return self

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` to the process (by PID) if it has not been reaped."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def crash(self, timeout=STOP_TIMEOUT):
        """SIGKILL, and wait until it is gone (its sockets closed)."""
        self.kill(signal.SIGKILL)
        self.proc.wait(timeout=timeout)
        self.paused = False

    def pause(self):
        """SIGSTOP: the process stays, its sockets stay open, nothing is
        answered (a hung server, a long GC pause)."""
        self.kill(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.kill(signal.SIGCONT)
        self.paused = False

    def restart(self, timeout=START_TIMEOUT):
        """SIGKILL if still running, then start again on the same data."""
        if self.running():
            self.crash()
        return self.start(timeout=timeout)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGCONT (if paused), SIGTERM, then SIGKILL after `timeout`;
        returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def log_tail(self, lines=30):
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def logs(self):
        """Every log of every start, concatenated."""
        out = []
        for i in range(1, self.starts + 1):
            p = self.work_dir / f"log-{i}.txt"
            try:
                out.append(f"--- {self} start {i} ---\n" + p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)


class MetaServer(Server):
    """`cairn meta` on `rocksdb:<store_dir>`, gRPC on HOST:9400."""

    def __init__(self, binary, host, work_dir, store_dir, extra_args=()):
        super().__init__(binary, host, "meta", work_dir, extra_args)
        self.store_dir = Path(store_dir)

    @property
    def grpc(self):
        return self.host.addr(META_GRPC)

    @property
    def http(self):
        return self.host.addr(META_HTTP)

    def command(self, ready_file):
        return ["meta", "--store", f"rocksdb:{self.store_dir}", "--listen", self.grpc,
                "--http", self.http, "--ready-file", str(ready_file)]


class ChunkServer(Server):
    """`cairn chunk` with one data directory, gRPC/data/HTTP on
    HOST:9500/9501/9502."""

    address_keys = ("data", "grpc", "http")

    def __init__(self, binary, host, name, work_dir, data_dir, meta_addr, extra_args=()):
        super().__init__(binary, host, name, work_dir, extra_args)
        self.data_dir = Path(data_dir)
        self.meta_addr = meta_addr
        self._node_id = None

    @property
    def data(self):
        return self.host.addr(CHUNK_DATA)

    @property
    def node_id(self):
        """Meta's id of this node (known once it registered; kept across
        restarts)."""
        if self.info and "node_id" in self.info:
            self._node_id = int(self.info["node_id"])
        return self._node_id

    def command(self, ready_file):
        return ["chunk", "--meta", self.meta_addr, "--dir", str(self.data_dir),
                "--listen", self.host.addr(CHUNK_GRPC), "--data-listen", self.data,
                "--http", self.host.addr(CHUNK_HTTP), "--ready-file", str(ready_file)]

    def chunk_path(self, chunk_id):
        """Where chunk `chunk_id` (32 hex digits) lives on this node's disk
        when it is kept in a file of its own (docs/chunk-format.md,
        "Directory layout"): chunks above --small-chunk-limit (128 KiB by
        default) are; smaller ones are records in volume files (see
        stored_chunks)."""
        return self.data_dir / "chunks" / chunk_id[0:2] / chunk_id[2:4] / chunk_id

    def chunk_files(self):
        """Every stored chunk file (no temporaries, nothing quarantined):
        only the chunks kept in files of their own; stored_chunks() has
        every chunk."""
        return chunkdisk.chunk_file_paths(self.data_dir)

    def stored_chunks(self):
        """{chunk id: chunkdisk.StoredChunk} of every chunk on this node's
        disk, in a chunk file or a volume record (nothing quarantined or
        deleted)."""
        return chunkdisk.stored_chunks(self.data_dir)


class CliResult:
    def __init__(self, argv, returncode, stdout, stderr, seconds):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
        self.seconds = seconds

    @property
    def ok(self):
        return self.returncode == 0

    def __repr__(self):
        return (f"{' '.join(self.argv)} -> exit {self.returncode} in {self.seconds:.1f}s\n"
                f"stdout: {self.stdout[:1500]!r}\nstderr: {self.stderr[:1500]!r}")


class Client:
    """Runs the `cairn` CLI on a client host against meta at `meta_addr`."""

    GROUPS = ("admin", "policy", "xattr", "bench")

    def __init__(self, binary, host, meta_addr):
        self.binary = str(binary)
        self.host = host
        self.meta = meta_addr

    def argv(self, cmd, *args):
        args = [str(a) for a in args]
        head = [cmd]
        if cmd in self.GROUPS and args:
            head.append(args.pop(0))
        return [self.binary, *head, "--meta", self.meta, *args]

    def run(self, cmd, *args, timeout=CLI_TIMEOUT, input=None):
        """Runs one command; a command still running after `timeout` is
        SIGKILLed and reported as exit -9."""
        argv = self.argv(cmd, *args)
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else
                             subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_child_setup(self.host))
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return CliResult(argv, -9, out, err + b"\n(timed out)", time.monotonic() - t0)
        return CliResult(argv, p.returncode, out, err, time.monotonic() - t0)

    def ok(self, cmd, *args, **kw):
        r = self.run(cmd, *args, **kw)
        assert r.returncode == 0, f"expected success:\n{r!r}"
        return r

    def json(self, cmd, *args, **kw):
        r = self.ok(cmd, *args, **kw)
        return json.loads(r.stdout)

    def status(self, timeout=10):
        """`admin status --json`."""
        return self.json("admin", "status", "--json", timeout=timeout)

    def chunks(self, path, timeout=20):
        """`stat --chunks --json PATH`: {chunk_size, replicas, epoch,
        chunks: [{slot, offset, id, length, pg, nodes}]}."""
        return self.json("stat", "--chunks", "--json", path, timeout=timeout)

    def http_get(self, addr, path, timeout=10):
        """(status, body text) of GET http://ADDR/PATH made from this host
        (servers' /metrics, /healthz, /readyz are only reachable there)."""
        code = ("import sys, urllib.request, urllib.error\n"
                "try:\n"
                "    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))\n"
                "    s, b = r.status, r.read()\n"
                "except urllib.error.HTTPError as e:\n"
                "    s, b = e.code, e.read()\n"
                "sys.stdout.write(str(s) + '\\n'); sys.stdout.flush()\n"
                "sys.stdout.buffer.write(b)\n")
        p = subprocess.run(["/usr/bin/python3", "-c", code, f"http://{addr}{path}", str(timeout)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 10,
                           preexec_fn=_child_setup(self.host))
        if p.returncode != 0:
            raise AssertionError(f"GET http://{addr}{path} from {self.host}: "
                                 f"{p.stderr.decode(errors='replace')[-500:]}")
        status, _, body = p.stdout.partition(b"\n")
        return int(status), body.decode("utf-8", "replace")

    def metrics(self, addr):
        """{(name, labels text): value} of the Prometheus text at
        http://ADDR/metrics."""
        status, body = self.http_get(addr, "/metrics")
        assert status == 200, (status, body[:500])
        out = {}
        for line in body.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            out[(name, "{" + labels if labels else "")] = float(value)
        return out

    def spawn(self, cmd, *args, stdout=subprocess.DEVNULL):
        """Starts a command in the background; returns a Background."""
        return Background(self, self.argv(cmd, *args), stdout)

    def read_digest(self, path, timeout=CLI_TIMEOUT):
        """(exit code, size, sha256 hex, stderr) of `cat PATH`, streamed
        (nothing kept in memory)."""
        argv = self.argv("cat", path)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=_child_setup(self.host))
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        h, size = hashlib.sha256(), 0
        try:
            while True:
                block = p.stdout.read(4 << 20)
                if not block:
                    break
                h.update(block)
                size += len(block)
            err = p.stderr.read().decode("utf-8", "replace")
            code = p.wait()
        finally:
            timer.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
        return code, size, h.hexdigest(), err


class Background:
    """A CLI command running in the background (stdout discarded unless
    asked for, stderr kept). wait() bounds the wait; signal() and kill() by
    PID."""

    def __init__(self, client, argv, stdout):
        self.argv = argv
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=_child_setup(client.host))
        self._err = []
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()

    def _read_err(self):
        self._err.append(self.proc.stderr.read())

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        """The CliResult once it ended; SIGKILL and exit -9 after `timeout`."""
        try:
            self.proc.wait(timeout=timeout)
            code = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self._reader.join(timeout=5)
        err = b"".join(self._err)
        return CliResult(self.argv, code, b"", err, time.monotonic() - self.t0)

    def signal(self, sig):
        """Sends `sig` (SIGSTOP, SIGCONT, ...) if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
