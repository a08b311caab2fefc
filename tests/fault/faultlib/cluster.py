"""A Cairn cluster whose every server runs on a host of its own.

    cluster = Cluster(binary, net, chunk_servers=5, client_hosts=2,
                      meta_args=["--down-after", "2"])
    cluster.start()
    c = cluster.clients[0]              # faultlib.servers.Client
    c.ok("put", local, "/f")
    cluster.chunks[2].crash()           # SIGKILL
    cluster.net.partition([cluster.chunks[0].host], [cluster.meta.host])
    cluster.wait_node_state(cluster.chunks[0], "down", timeout=10)
    cluster.net.heal()
    cluster.close()                     # the fixture does this

Hosts are named `meta`, `c1`..`cN` (chunk servers) and `cl1`..`clM`
(clients). Each server's data lives under net.tmp/<host>/.

Thread-safety: none; drive it from pytest's main thread (CLI calls through
Client may run on other threads).
"""

import random
import time
from pathlib import Path

from . import chunkdisk
from .net import wait_for
from .servers import Client, ChunkServer, MetaServer, ServerError

KIB = 1024
MIB = 1024 * KIB

# docs/chunk-format.md, "A chunk file".
CHUNK_HEADER = 64
CHUNK_BLOCK = 64 * KIB
CHUNK_PAGE = 4096


def chunk_data_offset(length):
    """Where a chunk's data starts in its file (docs/chunk-format.md)."""
    blocks = (length + CHUNK_BLOCK - 1) // CHUNK_BLOCK
    return (CHUNK_HEADER + 4 * blocks + CHUNK_PAGE - 1) // CHUNK_PAGE * CHUNK_PAGE


class Cluster:
    def __init__(self, binary, net, chunk_servers=5, client_hosts=1, meta_args=(),
                 chunk_args=()):
        self.binary = str(binary)
        self.net = net
        root = net.tmp
        self.meta = MetaServer(binary, net.add_host("meta"), root / "meta",
                               root / "meta" / "store",
                               ["--bootstrap-nodes", str(chunk_servers), *meta_args])
        self.chunk_args = list(chunk_args)
        self.chunks = []
        for i in range(1, chunk_servers + 1):
            host = net.add_host(f"c{i}")
            self.chunks.append(ChunkServer(binary, host, f"chunk{i}", root / f"c{i}",
                                           root / f"c{i}" / "data", self.meta.grpc, chunk_args))
        self.clients = [Client(binary, net.add_host(f"cl{i}"), self.meta.grpc)
                        for i in range(1, client_hosts + 1)]

    def add_chunk_server(self, start=True, timeout=60):
        """A new chunk server on a new host (`c<N+1>`), with the same extra
        arguments as the others, started (and registered with meta) unless
        start=False. Meta sees a node it never knew: it joins no full
        chain, the rebalancer moves PGs onto it (docs/cluster.md,
        "Rebalance"). Returns the ChunkServer."""
        i = len(self.chunks) + 1
        root = self.net.tmp
        server = ChunkServer(self.binary, self.net.add_host(f"c{i}"), f"chunk{i}",
                             root / f"c{i}", root / f"c{i}" / "data", self.meta.grpc,
                             self.chunk_args)
        self.chunks.append(server)
        if start:
            server.start(timeout=timeout)
        return server

    @property
    def servers(self):
        return [self.meta, *self.chunks]

    @property
    def client(self):
        return self.clients[0]

    def start(self, timeout=60):
        """Starts meta, then every chunk server, and waits until all are UP
        with full chains."""
        self.meta.start()
        for c in self.chunks:
            c.start(wait=False)
        for c in self.chunks:
            c.wait_ready()
        self.wait_healthy(timeout=timeout)
        return self

    # --- cluster state ------------------------------------------------------

    def status(self, client=None, timeout=10):
        """`admin status --json` from a client host."""
        return (client or self.client).status(timeout=timeout)

    def node_states(self, client=None):
        """{node id: state} from admin status."""
        return {n["id"]: n["state"] for n in self.status(client)["nodes"]}

    def chains(self, client=None):
        """(epoch, {pg: [node ids]}) from admin status."""
        st = self.status(client)
        return st["epoch"], {pg["pg"]: list(pg["chain"]) for pg in st["pgs"]}

    def wait_healthy(self, timeout=30, replicas=3):
        """Every running chunk server UP and every PG's chain full."""
        def healthy():
            st = self.status()
            up = {n["id"] for n in st["nodes"] if n["state"] == "up"}
            want = {c.node_id for c in self.chunks if c.running() and not c.paused}
            want_len = min(replicas, len(want))
            return (up == want and st["pgs"]
                    and all(len(pg["chain"]) >= want_len for pg in st["pgs"]) and st)
        return wait_for(healthy, timeout, 0.2, "a healthy cluster")

    @staticmethod
    def pg_problems(st, replicas=None):
        """What keeps status `st` (admin status --json) from "every PG has
        R healthy members, none recovering, nothing left to copy": a list
        of short strings, empty when all is well."""
        replicas = replicas or st["replicas"]
        rec = st["recovery"]
        problems = []
        bad = [p for p in rec["pgs"] if p["state"] != "healthy" or p["healthy"] < replicas
               or p["recovering"] or p["bytes_left"]]
        if bad:
            by_state = {}
            for p in bad:
                by_state[p["state"]] = by_state.get(p["state"], 0) + 1
            problems.append(f"{len(bad)} PGs not healthy {by_state}, e.g. {bad[0]}")
        if len(rec["pgs"]) != st["pg_count"]:
            problems.append(f"{len(rec['pgs'])} PGs in the recovery summary, "
                            f"pg_count {st['pg_count']}")
        if rec["bytes_left"]:
            problems.append(f"{rec['bytes_left']} bytes left to recover")
        return problems

    def min_healthy(self, st=None):
        """The fewest healthy members of any PG (from `st` or a fresh
        status)."""
        st = st or self.status()
        return min(p["healthy"] for p in st["recovery"]["pgs"])

    def wait_pgs_healthy(self, timeout, interval=0.5, on_sample=None, replicas=None):
        """Waits until every PG has R healthy members, none recovering and
        no bytes left (Cluster.pg_problems is empty). `on_sample(status)`
        sees every status fetched on the way (to record progress or assert
        an invariant). Returns the final status."""
        def healthy():
            st = self.status()
            if on_sample:
                on_sample(st)
            return not self.pg_problems(st, replicas) and st
        return wait_for(healthy, timeout, interval, "every PG healthy")

    def used_bytes(self, st=None):
        """{node id: used bytes} of the UP nodes as their last heartbeats
        reported (the stored chunks' lengths)."""
        st = st or self.status()
        return {n["id"]: n["used_bytes"] for n in st["nodes"] if n["state"] == "up"}

    def disk_bytes(self, server):
        """The data lengths of every chunk stored on `server`'s disk, in
        chunk files and volume records (what the node itself would report
        as used), read from the headers."""
        return sum(c.length for c in server.stored_chunks().values())

    def wait_node_state(self, server, state, timeout=30):
        """Waits until meta reports chunk server `server` in `state`
        ("up", "down", ...), and, when down, out of every chain."""
        def reached():
            st = self.status()
            nodes = {n["id"]: n["state"] for n in st["nodes"]}
            if nodes.get(server.node_id) != state:
                return False
            if state != "up" and any(server.node_id in pg["chain"] for pg in st["pgs"]):
                return False
            return st
        return wait_for(reached, timeout, 0.2, f"{server} {state}")

    def by_node(self, node_id):
        for c in self.chunks:
            if c.node_id == node_id:
                return c
        raise KeyError(node_id)

    # --- disks ----------------------------------------------------------------

    def chunk_copy(self, node_id, chunk_id):
        """The data of chunk `chunk_id` on node `node_id`'s disk (bytes),
        from its volume record or its chunk file, or None when the node
        stores no such chunk."""
        server = self.by_node(node_id)
        copy = chunkdisk.volume_chunks(server.data_dir).get(chunk_id)
        if copy is not None:
            return copy.read()  # volumes first, as the node reads them
        p = server.chunk_path(chunk_id)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            return None
        if len(raw) < CHUNK_HEADER or raw[:8] != b"CAIRNCHK":
            return raw[:0]
        length = int.from_bytes(raw[32:40], "little")
        start = chunk_data_offset(length)
        return raw[start:start + length]

    def corrupt(self, server, fraction, rng=None, flips=1, every_block=False):
        """Flips `flips` random bits in the data of a `fraction` (0..1) of
        the chunks stored on `server`'s disk (chunk files and volume
        records), chosen at random (at least one when it has any); with
        every_block, one bit in each 64 KiB block instead (so any read of
        the copy meets the damage). Only data bytes are touched, never a
        header or a CRC table, so the damage shows up as a block checksum
        failure on read or scrub. Returns the chunk ids damaged."""
        rng = rng or random.Random()
        stored = server.stored_chunks()
        ids = sorted(stored)
        if not ids:
            return []
        count = max(1, round(len(ids) * fraction))
        damaged = []
        for cid in rng.sample(ids, min(count, len(ids))):
            copy = stored[cid]
            length = copy.length
            if length == 0:
                continue
            if every_block:
                spots = [b + rng.randrange(min(CHUNK_BLOCK, length - b))
                         for b in range(0, length, CHUNK_BLOCK)]
            else:
                spots = [rng.randrange(length) for _ in range(flips)]
            for spot in spots:
                copy.flip(spot, 1 << rng.randrange(8))
            damaged.append(cid)
        return damaged

    # --- teardown -------------------------------------------------------------

    def close(self):
        """Stops every server by PID (chunk servers first, SIGTERM then
        SIGKILL). Returns [(server, exit code)] of those that did not exit 0
        on SIGTERM."""
        bad = []
        for s in [*self.chunks, self.meta]:
            if s.running():
                try:
                    code = s.stop()
                except Exception as e:  # noqa: BLE001 - keep stopping the others
                    code = repr(e)
                if code != 0:
                    bad.append((s, code))
        return bad

    def logs(self):
        return "\n".join(s.logs() for s in self.servers)
