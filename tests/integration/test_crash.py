"""Crash test: SIGKILL `cairn meta` in the middle of a stream of operations.

The durability contract (docs/durability.md) says a metadata commit is in
the store's write-ahead log before it is acknowledged, so no acknowledged
operation is lost when a process dies. This test:

1. starts `cairn meta` on RocksDB with the default --sync-interval;
2. runs WORKERS concurrent streams of pseudo-random mkdir / touch / mv /
   rm / rmdir / rm -r calls through the CLI, each stream in its own
   subtree (/w0, /w1, ...) with its own model of that subtree. Calls take
   up to BATCH paths, so a kill often lands while a call is half done.
   A call changes the model only when the CLI exited 0 (acknowledged);
3. SIGKILLs the server after a random number of acknowledged calls (and
   a random few milliseconds), while the streams keep calling;
4. restarts it on the same directory (new ports) and walks the tree with
   `ls --json`, requiring, per stream,
   - the subtree to equal the model, except for the stream's one call in
     flight at kill time, which may have applied in part, but only as a
     prefix of its paths, each one atomically (a rename shows the old or
     the new name, never both or neither); a recursive rm in flight may
     have removed any part of its subtree, and nothing else;
   - no partial state anywhere: every directory's nlink is 2 + its
     subdirectories, every file's is 1, inode numbers are unique, and
     every listed entry is stat-able with the same inode, type and nlink;
5. repeats the kill / restart ROUNDS times, then stops the server cleanly
   (SIGTERM) and checks that a restart shows exactly the model.

The operation sequences come from CAIRN_CRASH_SEED (default 1; the seed is
printed on failure); the kill times, and so which calls were acknowledged,
vary from run to run.
"""

import os
import random
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cli

ROUNDS = 3
WORKERS = 3
MAX_ENTRIES = 45           # per stream; keeps the walk (one stat per entry) short
BATCH = 24                 # most paths in one mkdir / touch call
KILL_AFTER = (10, 50)      # acknowledged calls (all streams) before a kill
CALL_TIMEOUT = 30          # one CLI call
NO_META_WAIT = {"CAIRN_META_WAIT": "0"}
SEED = int(os.environ.get("CAIRN_CRASH_SEED", "1"))
# Odd but valid name suffixes, so names with spaces, unicode and newlines
# go through the crash path too.
SUFFIXES = ["", "", "", "", " sp", "-\u00e9", "\n", "\u65e5"]


def join(parent, name):
    return ("" if parent == "/" else parent) + "/" + name


def parent_of(path):
    return path.rsplit("/", 1)[0] or "/"


def in_subtree(path, top):
    return path == top or path.startswith(top + "/")


# --------------------------------------------------------------- the model
# A model is {path: "dir" | "file"} for every entry below a stream's root.


def apply_step(model, step):
    m = dict(model)
    kind = step[0]
    if kind == "mkdir":
        assert step[1] not in m
        m[step[1]] = "dir"
    elif kind == "touch":
        assert step[1] not in m
        m[step[1]] = "file"
    elif kind == "unlink":
        assert m[step[1]] == "file"
        del m[step[1]]
    elif kind == "rmdir":
        assert m[step[1]] == "dir" and not any(parent_of(p) == step[1] for p in m)
        del m[step[1]]
    elif kind == "rmtree":
        for p in [p for p in m if in_subtree(p, step[1])]:
            del m[p]
    elif kind == "rename":
        src, dst = step[1], step[2]
        if dst in m:
            assert m[dst] == "file" and m[src] == "file"
            del m[dst]
        moved = {p: t for p, t in m.items() if in_subtree(p, src)}
        for p in moved:
            del m[p]
        for p, t in moved.items():
            m[dst + p[len(src):]] = t
    else:
        raise AssertionError(step)
    return m


class Op:
    """One CLI call: its argv, the atomic steps it performs in order, and
    how a partial application may look ("prefix" or "subtree")."""

    def __init__(self, args, steps, partial="prefix"):
        self.args, self.steps, self.partial = args, steps, partial

    def __repr__(self):
        shown = [repr(a) for a in self.args[:4]] + (["..."] if len(self.args) > 4 else [])
        return f"`cairn {' '.join(shown)}`"


class Generator:
    """Valid operations for one stream, given its current model."""

    def __init__(self, rng, root):
        self.rng = rng
        self.root = root
        self.counter = 0

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}{self.rng.choice(SUFFIXES)}"

    def next_op(self, model):
        rng = self.rng
        dirs = [self.root] + sorted(p for p, t in model.items() if t == "dir")
        files = sorted(p for p, t in model.items() if t == "file")
        empty = [d for d in dirs[1:] if not any(parent_of(p) == d for p in model)]
        choices = [("mv", 30 if model else 0), ("rm", 10 if files else 0),
                   ("rmdir", 6 if empty else 0), ("rmr", 3 if len(dirs) > 3 else 0)]
        if len(model) < MAX_ENTRIES:
            choices += [("mkdir", 20), ("touch", 25)]
        else:
            choices = [(c, w * 2) for c, w in choices]
        if not any(w for _, w in choices):
            choices = [("mkdir", 1)]
        kind = rng.choices([c for c, _ in choices], [w for _, w in choices])[0]

        if kind in ("mkdir", "touch"):
            # Parents exist before the call, so the paths are independent.
            room = max(1, MAX_ENTRIES + BATCH // 2 - len(model))
            paths = [join(rng.choice(dirs), self.fresh("d" if kind == "mkdir" else "f"))
                     for _ in range(rng.randint(1, min(BATCH, room)))]
            return Op([kind, *paths], [(kind, p) for p in paths])
        if kind == "rm":
            paths = rng.sample(files, rng.randint(1, min(len(files), BATCH // 2)))
            return Op(["rm", *paths], [("unlink", p) for p in paths])
        if kind == "rmdir":
            paths = rng.sample(empty, rng.randint(1, min(len(empty), 4)))
            return Op(["rmdir", *paths], [("rmdir", p) for p in paths])
        if kind == "rmr":
            d = rng.choice(dirs[1:])
            return Op(["rm", "-r", d], [("rmtree", d)], partial="subtree")
        # mv: a file or a directory to a new name, or a file over another.
        src = rng.choice(sorted(model))
        others = [f for f in files if f != src]
        if model[src] == "file" and others and rng.random() < 0.25:
            dst = rng.choice(others)                    # replaces a file
        else:
            targets = [d for d in dirs if not in_subtree(d, src)]
            dst = join(rng.choice(targets), self.fresh("m"))
        return Op(["mv", src, dst], [("rename", src, dst)])


class Stream:
    """One worker: a subtree, its model, and what happened in a round."""

    def __init__(self, index):
        self.root = f"/w{index}"
        self.gen = Generator(random.Random(SEED * 1000 + index), self.root)
        self.model = {}
        self.in_flight = None
        self.acked = 0
        self.error = None

    def run(self, cli, killed, deadline):
        """Runs calls until one fails. A failure is only acceptable once the
        server has been killed; then the failed call is the one in flight."""
        self.in_flight, self.acked = None, 0    # acked: read by the main thread
        try:
            while True:
                op = self.gen.next_op(self.model)
                r = cli.run(*op.args, timeout=CALL_TIMEOUT)
                if r.returncode == 0:
                    for step in op.steps:
                        self.model = apply_step(self.model, step)
                    self.acked += 1
                    assert time.monotonic() < deadline, "the server was never killed"
                    continue
                assert killed.is_set(), f"a call failed while the server was up:\n{r!r}"
                assert r.returncode == 1 and r.stderr.startswith("cairn: "), \
                    f"unclean failure after the kill:\n{r!r}"
                self.in_flight = op
                return
        except BaseException as e:  # reported by the main thread
            self.error = e


# --------------------------------------------------------------- checking


def walk(cli):
    """The whole tree as {path: entry}, checking link counts and inode
    uniqueness on the way."""
    tree, stack, subdirs = {}, ["/"], {}
    while stack:
        d = stack.pop()
        subdirs[d] = 0
        for name, e in cli.ls(d).items():
            assert name and "/" not in name, f"bad name {name!r} in {d}"
            p = join(d, name)
            assert e["type"] in ("dir", "file"), f"{p}: unexpected type {e}"
            tree[p] = e
            if e["type"] == "dir":
                subdirs[d] += 1
                stack.append(p)
    root = cli.stat("/")
    assert root["nlink"] == 2 + subdirs["/"], f"/: nlink {root['nlink']}, {subdirs['/']} subdirectories"
    inos = {root["ino"]: "/"}
    for p, e in tree.items():
        if e["type"] == "dir":
            assert e["nlink"] == 2 + subdirs[p], f"{p}: nlink {e['nlink']}, {subdirs[p]} subdirectories"
        else:
            assert e["nlink"] == 1, f"{p}: nlink {e['nlink']} (no hard links were made)"
            assert e["size"] == 0, f"{p}: size {e['size']}"
        assert e["ino"] not in inos, f"inode {e['ino']} at both {inos[e['ino']]} and {p}"
        inos[e["ino"]] = p
    return tree


def check_statable(cli, tree):
    def one(item):
        p, e = item
        st = cli.stat(p)
        assert (st["ino"], st["type"], st["nlink"]) == (e["ino"], e["type"], e["nlink"]), \
            f"{p}: stat {st} differs from ls {e}"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, tree.items()))


def diff(model, actual):
    missing = sorted(set(model) - set(actual))
    extra = sorted(set(actual) - set(model))
    wrong = sorted(p for p in set(model) & set(actual) if model[p] != actual[p])
    return f"missing {missing[:8]}, unexpected {extra[:8]}, wrong type {wrong[:8]}"


def reconcile(model, in_flight, actual):
    """(model after recovery, what the in-flight call did), or an
    AssertionError saying why `actual` is not a state the acknowledged
    calls allow."""
    if in_flight is None:
        assert actual == model, f"acknowledged state lost or changed: {diff(model, actual)}"
        return model, "none in flight"
    if in_flight.partial == "subtree":
        top = in_flight.steps[0][1]
        outside = {p: t for p, t in model.items() if not in_subtree(p, top)}
        assert {p: t for p, t in actual.items() if not in_subtree(p, top)} == outside, \
            f"{in_flight} in flight changed entries outside {top}: {diff(outside, actual)}"
        for p, t in actual.items():
            assert model.get(p) == t, f"{in_flight} in flight: unexpected {p} ({t})"
        removed = len(model) - len(actual)
        return actual, f"{removed}/{removed + sum(in_subtree(p, top) for p in actual)} removed"
    state, candidates = model, [model]
    for step in in_flight.steps:
        state = apply_step(state, step)
        candidates.append(state)
    for j, c in enumerate(candidates):
        if actual == c:
            return c, f"{j}/{len(in_flight.steps)} applied"
    raise AssertionError(
        f"state after the crash is neither the acknowledged state nor a prefix of the call "
        f"in flight, {in_flight}: vs before it: {diff(model, actual)}; "
        f"vs after it: {diff(candidates[-1], actual)}")


def verify(cli, streams, log):
    """Walks the restarted server's tree and reconciles every stream."""
    tree = walk(cli)
    actual = {p: e["type"] for p, e in tree.items()}
    roots = {s.root for s in streams}
    assert {p for p in actual if parent_of(p) == "/"} == roots, f"top level: {sorted(actual)[:8]}"
    outcomes = []
    for s in streams:
        mine = {p: t for p, t in actual.items() if in_subtree(p, s.root) and p != s.root}
        s.model, outcome = reconcile(s.model, s.in_flight, mine)
        outcomes.append(f"{s.root}: {s.acked} acked, in flight {s.in_flight or '-'}: {outcome}")
        s.in_flight = None
    log.append("; ".join(outcomes))
    check_statable(cli, tree)


# --------------------------------------------------------------- the test


@pytest.mark.slow
def test_sigkill_during_operation_streams(meta_factory, cairn_bin, tmp_path):
    started = time.monotonic()
    rng = random.Random(SEED)
    server = meta_factory(store_dir=tmp_path / "store")
    streams = [Stream(i) for i in range(WORKERS)]
    Cli(cairn_bin, server.grpc).ok("mkdir", *[s.root for s in streams])
    log = []
    for round_no in range(1, ROUNDS + 1):
        # The server comes back on new ports, so calls to the old address
        # cannot resume: fail at once instead of waiting for it
        # (tests/fault/test_fault_meta_kill.py covers resuming).
        cli = Cli(cairn_bin, server.grpc, env=NO_META_WAIT)
        killed = threading.Event()
        # Kill once the streams have had KILL_AFTER acknowledged calls in
        # all (counting calls, not seconds, keeps a loaded machine from
        # making the round empty), plus a little, so the kill lands at any
        # point of a call.
        kill_after = rng.randint(*KILL_AFTER)
        deadline = time.monotonic() + 60
        threads = [threading.Thread(target=s.run, args=(cli, killed, deadline), daemon=True)
                   for s in streams]
        for t in threads:
            t.start()
        while sum(s.acked for s in streams) < kill_after and time.monotonic() < deadline \
                and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        time.sleep(random.uniform(0, 0.05))
        killed.set()                            # before the kill: see Stream.run
        server.kill(signal.SIGKILL)
        for t in threads:
            t.join(timeout=CALL_TIMEOUT + 10)
            assert not t.is_alive(), "a stream did not stop after the kill"
        code = server.wait()
        assert code == -signal.SIGKILL, f"the server did not die of SIGKILL but {code}:\n{server.log_tail()}"
        for s in streams:
            if s.error:
                raise AssertionError(f"seed {SEED}, round {round_no}, stream {s.root}: {s.error}") \
                    from s.error
        log.append(f"round {round_no}, killed after {sum(s.acked for s in streams)} calls")

        server.start()                          # same store, new ports
        try:
            verify(Cli(cairn_bin, server.grpc), streams, log)
        except AssertionError as e:
            raise AssertionError(f"seed {SEED}: " + " | ".join(log) + f"\n{e}") from None

    # A clean stop loses nothing either, and the store still takes writes.
    cli = Cli(cairn_bin, server.grpc)
    cli.ok("mkdir", "/w0/after-crashes")
    streams[0].model = apply_step(streams[0].model, ("mkdir", "/w0/after-crashes"))
    assert server.stop() == 0, f"SIGTERM exit code {server.proc.returncode}:\n{server.log_tail()}"
    server.start()
    log.append("clean restart")
    verify(Cli(cairn_bin, server.grpc), streams, log)
    entries = sum(len(s.model) for s in streams)
    assert entries > 20, f"the streams did too little to mean much: {log}"
    print(f"\ncrash test: seed {SEED}, {entries} entries, {time.monotonic() - started:.1f}s\n  "
          + "\n  ".join(log))


def test_sigkill_during_concurrent_bench(meta_factory, cairn_bin, tmp_path):
    """Many RPCs in flight at once (`cairn bench meta`, 16 threads) when the
    server dies: after the restart the directory must be consistent (every
    entry a file with nlink 1 and a unique inode, stat-able), removable, and
    new inodes must not reuse numbers handed out before the crash."""
    rng = random.Random(SEED)
    delay = random.uniform(0.3, 3.0)    # lands in the create, rename or unlink phase
    server = meta_factory(store_dir=tmp_path / "store")
    bench = subprocess.Popen(
        [cairn_bin, "bench", "meta", "--meta", server.grpc, "--files", "20000", "--threads", "16",
         "--dir", "/bench"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **NO_META_WAIT})
    try:
        time.sleep(delay)
        server.kill(signal.SIGKILL)
        _, err = bench.communicate(timeout=CALL_TIMEOUT + 10)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(timeout=10)
    code = server.wait()
    assert code == -signal.SIGKILL, f"the server did not die of SIGKILL but {code}:\n{server.log_tail()}"
    # 1: cut off by the kill (the usual case); 0: it finished first.
    assert bench.returncode in (0, 1), f"bench exit {bench.returncode}: {err[-2000:]!r}"
    if bench.returncode:
        assert err.startswith(b"cairn: "), err[-2000:]

    server.start()
    cli = Cli(cairn_bin, server.grpc)
    top = cli.ls("/")
    assert set(top) <= {"bench"}, top
    inos = {cli.stat("/")["ino"]}
    if top:
        entries = cli.ls("/bench")
        for name, e in entries.items():
            assert e["type"] == "file" and e["nlink"] == 1 and e["size"] == 0, (name, e)
            assert e["ino"] not in inos, f"inode {e['ino']} listed twice"
            inos.add(e["ino"])
        assert cli.stat("/bench")["nlink"] == 2
        for name in rng.sample(sorted(entries), min(20, len(entries))):
            assert cli.stat(f"/bench/{name}")["ino"] == entries[name]["ino"]
        inos.add(top["bench"]["ino"])
    # Inodes created after the crash are new numbers.
    cli.ok("mkdir", "/after")
    cli.ok("touch", *[f"/after/f{i}" for i in range(50)])
    fresh = [e["ino"] for e in cli.ls("/after").values()] + [cli.stat("/after")["ino"]]
    assert len(set(fresh)) == 51 and not set(fresh) & inos, "an inode number was reused after the crash"
    if top:
        cli.ok("rm", "-r", "/bench", timeout=120)
    assert list(cli.ls("/")) == ["after"] and cli.stat("/")["nlink"] == 3
    print(f"\nbench crash test: killed after {delay:.2f}s, {len(inos) - 1} inodes survived")
