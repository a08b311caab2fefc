"""Files that change under a running cluster, and readers that keep checking
them.

    reader = ReadStream(ds, client, seed=2).start()   # reads acknowledged files
    ... reader.phase = "draining" ...
    reader.stop(); reader.raise_errors()
    assert not reader.problems

    files = LiveFiles(client, net.tmp / "model", "/m", rng, timeout=8)
    files.setup(chunk_size=64 * KIB)
    for _ in range(n):
        files.step()                       # one random mutation, model updated
    files.check_reads(files.touched)       # what the last step changed
    files.check_reads()                    # every live file bit-exact
    files.check_copies(cluster)            # every chunk on every chain member
    disk_chunk_ids(cluster)                # {chunk id: [nodes storing it]}

`ReadStream` is a thread that reads acknowledged files of a Dataset back
(streamed `cat` + sha256) one after another, files picked at random, and
records every read that fails or returns other bytes, tagged with its
`phase`.

`LiveFiles` keeps a local model (the exact bytes) of every file of one
remote directory and applies random mutations through the CLI: create
(`put` to a new name), overwrite (`put` over a file), partial overwrite
(`write --offset`, possibly past the end), truncate down or up, delete
(`rm`) and rename (`mv`, possibly over another file). The model changes
only when the command exited 0; a command that fails is recorded in
`failures` and leaves the file's state unknown, so the file is dropped
from the model and removed (`rm -f`), and the caller decides whether a
failure is allowed.

Thread-safety: ReadStream runs on its own thread; LiveFiles from one thread.
"""

import hashlib
import random
import threading
import time
from pathlib import Path

from .cluster import KIB


class ReadStream:
    def __init__(self, dataset, client, seed, read_timeout=60, pause=0.0):
        self.ds = dataset
        self.client = client
        self.rng = random.Random(seed)
        self.read_timeout = read_timeout
        self.pause = pause
        self.phase = "start"
        self.reads = []      # (phase, remote, seconds)
        self.problems = []   # (phase, remote, message)
        self.errors = []     # exceptions raised in the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reader", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        try:
            while not self._stop.is_set():
                acked = dict(self.ds.acked)  # a copy: the writers add to it
                if not acked:
                    self._stop.wait(0.1)
                    continue
                remote = self.rng.choice(sorted(acked))
                src = acked[remote]
                phase = self.phase
                t0 = time.monotonic()
                code, size, digest, err = self.client.read_digest(remote,
                                                                  timeout=self.read_timeout)
                self.reads.append((phase, remote, time.monotonic() - t0))
                if code != 0:
                    self.problems.append((phase, remote, f"cat exits {code}: {err.strip()}"))
                elif size != src.size or digest != src.sha256:
                    self.problems.append((phase, remote,
                                          f"acknowledged {src.size} bytes {src.sha256[:16]}, "
                                          f"read {size} bytes {digest[:16]}"))
                if self.pause:
                    self._stop.wait(self.pause)
        except BaseException as e:  # noqa: BLE001 - reported by raise_errors
            self.errors.append(e)

    def stop(self, timeout=120):
        """Stops after the read in flight."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"reader did not stop in {timeout}s"
        return self.reads

    def raise_errors(self):
        if self.errors:
            raise self.errors[0]

    def count(self, phase=None):
        return sum(1 for p, _, _ in self.reads if phase is None or p == phase)


def disk_chunk_ids(cluster):
    """{chunk id: [node ids storing it]} over every chunk server's disk
    (chunk files and volume records; no temporaries, nothing quarantined
    or deleted)."""
    out = {}
    for c in cluster.chunks:
        for cid in c.stored_chunks():
            out.setdefault(cid, []).append(c.node_id)
    return out


class LiveFiles:
    OPS = (("create", 3), ("overwrite", 2), ("write", 4), ("truncate", 3), ("delete", 2),
           ("rename", 1))

    def __init__(self, client, local_dir, remote_dir, rng, timeout=30, max_size=640 * KIB,
                 max_files=24):
        self.client = client
        self.local = Path(local_dir)
        self.local.mkdir(parents=True, exist_ok=True)
        self.dir = remote_dir
        self.rng = rng
        self.timeout = timeout
        self.max_size = max_size
        self.max_files = max_files
        self.files = {}      # remote path -> bytes (the model)
        self.ops = {}        # op -> count of acknowledged ones
        self.failures = []   # (op, CliResult)
        self.slowest = 0.0   # seconds of the slowest mutation
        self.touched = []    # live paths the last step changed
        self.history = []    # (op, command line, exit code, seconds) of every command
        self._n = 0

    def setup(self, chunk_size=None):
        self.client.ok("mkdir", "-p", self.dir)
        if chunk_size:
            self.client.ok("policy", "set", self.dir, "--chunk-size", str(chunk_size))

    # --- one mutation ---------------------------------------------------------

    def _data(self, size):
        return self.rng.randbytes(size)

    def _size(self):
        r = self.rng.random()
        if r < 0.05:
            return 0
        if r < 0.15:  # a whole number of 64 KiB chunks
            return self.rng.randint(1, self.max_size // (64 * KIB)) * 64 * KIB
        return self.rng.randint(1, self.max_size)

    def _new_name(self):
        self._n += 1
        return f"{self.dir}/f{self._n:05d}"

    def _run(self, op, *args, input=None):
        r = self.client.run(*args, timeout=self.timeout, input=input)
        self.slowest = max(self.slowest, r.seconds)
        shown = [a.rsplit("/", 1)[-1] if a.startswith(str(self.local)) else a for a in args]
        extra = f" <{len(input)} bytes>" if input is not None else ""
        self.history.append((op, " ".join(shown) + extra, r.returncode, round(r.seconds, 2)))
        if r.ok:
            self.ops[op] = self.ops.get(op, 0) + 1
        else:
            self.failures.append((op, r))
        return r.ok

    def _forget(self, path):
        """After a failed command: the file's state is unknown; remove it."""
        self.files.pop(path, None)
        r = self.client.run("rm", "-f", path, timeout=self.timeout)
        assert r.ok, f"cannot remove {path} after a failed command:\n{r!r}"

    def _put(self, op, path, data):
        local = self.local / "put.bin"
        local.write_bytes(data)
        if self._run(op, "put", str(local), path):
            self.files[path] = data
        else:
            self._forget(path)

    def step(self):
        """Applies one random mutation; returns its name. `touched` lists
        the live paths it changed."""
        op, path = self._step()
        self.touched = [p for p in ([path] if isinstance(path, str) else path)
                        if p in self.files]
        return op

    def _step(self):
        weights = dict(self.OPS)
        if not self.files:
            op = "create"
        else:
            if len(self.files) >= self.max_files:
                weights["create"] = 0
            op = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        if op == "create":
            path = self._new_name()
            self._put(op, path, self._data(self._size()))
            return op, path
        path = self.rng.choice(sorted(self.files))
        old = self.files[path]
        if op == "overwrite":
            self._put(op, path, self._data(self._size()))
        elif op == "write":
            offset = self.rng.randint(0, len(old) + 96 * KIB)
            data = self._data(self.rng.randint(1, 160 * KIB))
            if self._run(op, "write", path, "--offset", str(offset), input=data):
                grown = old + bytes(max(0, offset - len(old)))
                self.files[path] = grown[:offset] + data + grown[offset + len(data):]
            else:
                self._forget(path)
        elif op == "truncate":
            size = (self.rng.randint(0, len(old)) if self.rng.random() < 0.6
                    else self.rng.randint(len(old), len(old) + 256 * KIB))
            if self._run(op, "truncate", "-s", str(size), path):
                self.files[path] = old[:size] + bytes(max(0, size - len(old)))
            else:
                self._forget(path)
        elif op == "delete":
            if self._run(op, "rm", path):
                del self.files[path]
            else:
                self._forget(path)
        elif op == "rename":
            others = [p for p in self.files if p != path]
            dst = (self.rng.choice(sorted(others)) if others and self.rng.random() < 0.5
                   else self._new_name())
            if self._run(op, "mv", path, dst):
                self.files[dst] = self.files.pop(path)
            else:
                self._forget(path)
                self._forget(dst)
            return op, dst
        return op, path

    # --- checks ---------------------------------------------------------------

    def check_reads(self, paths=None):
        """Every live file (or those of `paths`) reads back bit-exact; with
        no `paths`, the directory also lists exactly the live files. Raises
        AssertionError listing every problem."""
        problems = []
        if paths is None:
            listed = self.client.ok("ls", self.dir, timeout=self.timeout).stdout.decode().split()
            want = sorted(p.rsplit("/", 1)[1] for p in self.files)
            if sorted(listed) != want:
                problems.append(f"{self.dir} lists {sorted(listed)}, the model has {want}")
        for path in sorted(self.files if paths is None else paths):
            data = self.files[path]
            code, size, digest, err = self.client.read_digest(path, timeout=self.timeout)
            if code != 0:
                problems.append(f"{path}: cat exits {code}: {err.strip()}")
            elif size != len(data) or digest != hashlib.sha256(data).hexdigest():
                problems.append(f"{path}: {len(data)} bytes expected, read {size} bytes "
                                f"that differ")
        assert not problems, ("live files do not read back:\n" + "\n".join(problems) +
                              "\n" + self.story(p.split(":")[0] for p in problems))

    def story(self, paths):
        """The commands that named any of `paths`, oldest first (text)."""
        paths = set(paths)
        lines = [f"  {op}: {cmd} -> exit {code} in {secs}s" for op, cmd, code, secs in self.history
                 if any(p in cmd.split() for p in paths)]
        return "commands on them:\n" + "\n".join(lines[-20:])

    def chunk_ids(self):
        """{path: `stat --chunks` reply} of every live file."""
        return {path: self.client.chunks(path, timeout=self.timeout) for path in self.files}

    def check_copies(self, cluster, stats=None):
        """Every chunk of every live file is on the disk of every member of
        its chain (as `stat --chunks` gives it, the file's replica count of
        them), byte for byte: the first `length` bytes of the chunk file's
        data, which may hold more (a truncate cuts a chunk's length in meta
        and keeps its id; docs/metadata.md, "File data"). Holes (no chunk
        id, or past every chunk) are zeros in the model. Returns the set of
        chunk ids referenced."""
        stats = stats or self.chunk_ids()
        problems, ids = [], set()
        for path, info in sorted(stats.items()):
            data = self.files[path]
            covered, gaps = 0, []
            for c in sorted(info["chunks"], key=lambda c: c["offset"]):
                want = data[c["offset"]:c["offset"] + c["length"]]
                if c["offset"] > covered:
                    gaps.append((covered, c["offset"]))
                covered = max(covered, c["offset"] + c["length"])
                if not c["id"]:
                    if any(want):
                        problems.append(f"{path}: hole at {c['offset']} but the model has data")
                    continue
                ids.add(c["id"])
                nodes = [n["id"] for n in c["nodes"]][:info["replicas"]]
                if len(nodes) < info["replicas"]:
                    problems.append(f"{path}: chunk {c['id']} chain {nodes} is short")
                for node in nodes:
                    copy = cluster.chunk_copy(node, c["id"])
                    if copy is None:
                        problems.append(f"{path}: live chunk {c['id']} (offset {c['offset']}, "
                                        f"pg {c['pg']}) missing on node {node}")
                    elif len(copy) < c["length"] or copy[:c["length"]] != want:
                        at = next((i for i, (x, y) in enumerate(zip(copy, want)) if x != y),
                                  min(len(copy), len(want)))
                        problems.append(f"{path}: chunk {c['id']} (offset {c['offset']}, "
                                        f"length {c['length']}) on node {node}: {len(copy)} "
                                        f"bytes on disk, first difference at {at}")
            if covered > len(data):
                problems.append(f"{path}: chunks cover {covered} bytes, the file has {len(data)}")
            gaps.append((covered, len(data)))
            for a, b in gaps:  # not in any chunk: must read as zeros
                if any(data[a:b]):
                    problems.append(f"{path}: bytes {a}..{b} are in no chunk but the model "
                                    f"has data there")
        assert not problems, ("live chunks not whole on disk:\n" + "\n".join(problems) +
                              "\n" + self.story(p.split(":")[0] for p in problems))
        return ids
