"""What the cluster acknowledged, and the check that it all reads back.

    ds = Dataset(net.tmp / "src")
    src = ds.source("f1", 3 * MIB)              # random bytes on local disk
    r = ds.put(client, src, "/d/f1")            # acknowledged iff exit 0
    ...
    ds.verify(client)                           # every acknowledged file bit-exact

A file counts as acknowledged only when the command that wrote it exited 0.
A put that failed (or timed out) is remembered as `failed`: it is not
acknowledged, but it must not read back wrong either — verify() accepts it
missing, or any prefix of its source (a put commits in batches, so part of
a file may be committed), never other bytes.

Sources are kept on the local disk (the run's temporary directory) until
the end, so failed files can be compared and replicas checked byte by byte.

Thread-safety: put() may be called from several threads at once; the rest
from one thread.
"""

import hashlib
import os
import threading
from pathlib import Path

from .cluster import MIB


class Source:
    """A local file of random bytes: path, size, sha256 hex."""

    def __init__(self, path, size, sha256):
        self.path = Path(path)
        self.size = size
        self.sha256 = sha256

    def read(self, offset, length):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def prefix_sha256(self, length):
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            left = length
            while left:
                block = f.read(min(left, 8 * MIB))
                if not block:
                    break
                h.update(block)
                left -= len(block)
        return h.hexdigest()


class Dataset:
    def __init__(self, local_dir):
        self.dir = Path(local_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.acked = {}    # remote path -> Source
        self.failed = {}   # remote path -> (Source, CliResult)
        self._lock = threading.Lock()

    def source(self, name, size):
        """A new local file `name` of `size` random bytes."""
        path = self.dir / name
        h = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                block = os.urandom(min(left, 16 * MIB))
                h.update(block)
                f.write(block)
                left -= len(block)
        return Source(path, size, h.hexdigest())

    def acknowledge(self, remote, src):
        with self._lock:
            self.failed.pop(remote, None)
            self.acked[remote] = src

    def fail(self, remote, src, result=None):
        with self._lock:
            if remote not in self.acked:
                self.failed[remote] = (src, result)

    def put(self, client, src, remote, timeout=120):
        """`put LOCAL REMOTE` from `client`; acknowledged on exit 0."""
        r = client.run("put", str(src.path), remote, timeout=timeout)
        if r.returncode == 0:
            self.acknowledge(remote, src)
        else:
            self.fail(remote, src, r)
        return r

    def verify(self, client, timeout_per_gib=120):
        """Reads every acknowledged file back (streamed `cat` from `client`)
        and compares size and sha256; checks every failed file is missing
        or a prefix of its source. Raises AssertionError listing every
        problem. Returns (acknowledged count, failed files found as
        prefixes)."""
        problems = []
        for remote, src in sorted(self.acked.items()):
            t = 30 + timeout_per_gib * src.size / (1 << 30)
            code, size, digest, err = client.read_digest(remote, timeout=t)
            if code != 0:
                problems.append(f"{remote}: acknowledged but cat exits {code}: {err.strip()}")
            elif size != src.size or digest != src.sha256:
                problems.append(f"{remote}: acknowledged {src.size} bytes sha256 "
                                f"{src.sha256[:16]}, read back {size} bytes {digest[:16]}")
        prefixes = 0
        for remote, (src, _) in sorted(self.failed.items()):
            t = 30 + timeout_per_gib * src.size / (1 << 30)
            code, size, digest, err = client.read_digest(remote, timeout=t)
            if code != 0:
                continue  # not there (or not readable): it was never acknowledged
            if size > src.size or digest != src.prefix_sha256(size):
                problems.append(f"{remote}: failed put reads back {size} bytes that are not a "
                                f"prefix of its source ({src.size} bytes)")
            else:
                prefixes += 1
        assert not problems, "data check failed:\n" + "\n".join(problems)
        return len(self.acked), prefixes

    def check_replicas(self, cluster, client, remote, required=None):
        """Every chunk of acknowledged file `remote` is on the disk of every
        node that must hold it, with the very bytes of the source.

        `required(pg, chain)` gives the node ids that must hold a chunk of
        `pg` whose chain (per `stat --chunks`) is `chain`; default: the
        whole chain. Returns the `stat --chunks` reply; raises
        AssertionError naming each missing or differing copy."""
        src = self.acked[remote]
        info = client.chunks(remote)
        problems = []
        total = 0
        for c in info["chunks"]:
            total += c["length"]
            want = src.read(c["offset"], c["length"])
            chain = [n["id"] for n in c["nodes"]]
            nodes = chain if required is None else required(c["pg"], chain)
            if not nodes:
                problems.append(f"chunk {c['id']} (pg {c['pg']}): no node must hold it "
                                f"(chain {chain})")
            for node in nodes:
                copy = cluster.chunk_copy(node, c["id"])
                if copy is None:
                    problems.append(f"chunk {c['id']} (slot {c['slot']}, pg {c['pg']}) missing "
                                    f"on node {node}")
                elif copy != want:
                    problems.append(f"chunk {c['id']} (slot {c['slot']}) on node {node}: "
                                    f"{len(copy)} bytes differ from the source")
        if total != src.size:
            problems.append(f"chunks cover {total} bytes, the file has {src.size}")
        assert not problems, f"{remote} (epoch {info['epoch']}):\n" + "\n".join(problems)
        return info
