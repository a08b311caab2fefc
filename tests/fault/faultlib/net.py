"""Hosts on a private network made of Linux network namespaces.

Topology of one run (RUN is a random id, unique among the runs alive on the
machine; SUBNET a private /24 reserved for the run):

    namespace cf<RUN>-br     a bridge `br0`, one port `p<N>` per host
    namespace cf<RUN>-<host> loopback + `eth0` (10.A.B.N/24), the other
                             end of the veth pair whose bridge end is p<N>

Nothing is created in, or changed in, the root namespace: the veth pairs are
created inside the bridge namespace and one end is moved into the host's.
Traffic therefore only ever flows between the run's namespaces.

Faults:
- `Host.link_down()` / `link_up()`: the host's bridge port goes down: the
  host is cut off from everyone (its own loopback keeps working).
- `Network.block(src, dst, how)`: packets from src to dst are lost. With
  `how="drop"` (default) the bridge drops them (an nftables rule in the
  bridge namespace's `bridge cairn` table): neither end is told, senders
  see timeouts, exactly as with a broken switch. With `how="unreachable"`
  a route in src's namespace refuses them at once (EHOSTUNREACH), as a
  router answering "no route" would. One direction only: dst's packets
  still reach src (TCP between them stalls all the same, since its
  acknowledgements are lost; datagrams get through one way).
- `Network.partition(group_a, group_b, how)`: block both directions
  between every host of a and every host of b.
- `Network.heal()`: every block removed, every link up.

Cleanup: `Network.close()` deletes every namespace of the run (which
destroys the bridge and the veth pairs with them) and the run's reservation.
A run that died without closing (SIGKILL of pytest) is found by the next
`Network()` through its reservation file in RUN_DIR, whose owner pid is no
longer alive, and its namespaces, temporary directory and reservation are
removed then (`reap_stale_runs`).

Thread-safety: none; use from one thread (pytest's main thread).
"""

import ctypes
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"
NFT = shutil.which("nft") or "/usr/sbin/nft"
NETNS_DIR = Path("/run/netns")
RUN_DIR = Path("/run/cairn-fault")  # one reservation file per live run
CMD_TIMEOUT = 20.0
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


class NetError(Exception):
    pass


def ip(*args, check=True, timeout=CMD_TIMEOUT):
    """Runs `ip ARGS...`; raises NetError with its stderr on failure."""
    p = subprocess.run([IP, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise NetError(f"ip {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def nft(ns, script):
    """Runs the nftables `script` inside namespace `ns` (never the root
    namespace); returns its output."""
    p = subprocess.run([NFT, "-f", "-"], input=script, capture_output=True, text=True,
                       timeout=CMD_TIMEOUT, preexec_fn=lambda: enter_netns(ns))
    if p.returncode != 0:
        raise NetError(f"nft in {ns}: exit {p.returncode}: {p.stderr.strip()}\n{script}")
    return p.stdout


def enter_netns(name):
    """Moves the calling process (a child between fork and exec) into the
    network namespace `name`. Raises OSError on failure."""
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_start_time(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _delete_namespaces(prefix):
    if not NETNS_DIR.is_dir():
        return
    for ns in sorted(NETNS_DIR.iterdir()):
        if ns.name.startswith(prefix):
            ip("netns", "delete", ns.name, check=False)


def reap_stale_runs():
    """Removes what runs whose owner died left behind (namespaces,
    temporary directory, reservation). Returns the ids of the runs reaped."""
    reaped = []
    if not RUN_DIR.is_dir():
        return reaped
    for f in RUN_DIR.glob("*.json"):
        try:
            info = json.loads(f.read_text())
            pid, start = int(info["pid"]), info.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if _pid_alive(pid) and _pid_start_time(pid) == start:
            continue
        _delete_namespaces(f"cf{info['run']}-")
        tmp = info.get("tmp")
        if tmp and Path(tmp).name.startswith("cairn-fault-") and Path(tmp).is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        f.unlink(missing_ok=True)
        reaped.append(info["run"])
    return reaped


class Host:
    """One namespace with one address on the run's bridge.

    `ns` is the namespace name, `ip` the host's address, `port` the name of
    its bridge port (inside the bridge namespace)."""

    def __init__(self, net, name, index):
        self.net = net
        self.name = name
        self.index = index
        self.ns = f"{net.prefix}{name}"
        self.ip = f"{net.subnet}.{index}"
        self.port = f"p{index}"

    def __repr__(self):
        return f"Host({self.name} {self.ip})"

    def addr(self, port):
        return f"{self.ip}:{port}"

    def run_ip(self, *args, check=True):
        return ip("-n", self.ns, *args, check=check)

    def preexec(self):
        """A preexec_fn (for subprocess) that moves the child into this
        host's namespace."""
        ns = self.ns

        def enter():
            enter_netns(ns)
        return enter

    def link_down(self):
        ip("-n", self.net.bridge_ns, "link", "set", self.port, "down")

    def link_up(self):
        ip("-n", self.net.bridge_ns, "link", "set", self.port, "up")


class Network:
    """The bridge namespace and the hosts of one run. Create with
    `Network(tmp_root)`; always `close()` it (the pytest fixture does)."""

    def __init__(self, tmp_parent=None):
        reap_stale_runs()
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.hosts = {}
        self._blocks = {}  # (src host name, dst host name) -> how
        self._closed = False
        # A run id and a /24 nobody else alive holds (reserved by creating
        # the reservation file exclusively).
        for _ in range(100):
            run = secrets.token_hex(3)
            a, b = 64 + secrets.randbelow(128), secrets.randbelow(256)
            subnet = f"10.{a}.{b}"
            taken = set()
            for f in RUN_DIR.glob("*.json"):
                try:
                    taken.add(json.loads(f.read_text()).get("subnet"))
                except (OSError, ValueError):
                    pass
            if subnet in taken or any(NETNS_DIR.glob(f"cf{run}-*")):
                continue
            try:
                fd = os.open(RUN_DIR / f"{run}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            break
        else:
            raise NetError("no free run id / subnet")
        self.run = run
        self.subnet = subnet
        self.prefix = f"cf{run}-"
        self.bridge_ns = f"{self.prefix}br"
        self.tmp = Path(tmp_parent or os.environ.get("CAIRN_FAULT_TMP") or "/tmp") / \
            f"cairn-fault-{run}"
        with os.fdopen(fd, "w") as f:
            json.dump({"run": run, "subnet": subnet, "pid": os.getpid(),
                       "start": _pid_start_time(os.getpid()), "tmp": str(self.tmp)}, f)
        self._reservation = RUN_DIR / f"{run}.json"
        try:
            self.tmp.mkdir(parents=True)
            ip("netns", "add", self.bridge_ns)
            ip("-n", self.bridge_ns, "link", "set", "lo", "up")
            ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            nft(self.bridge_ns, "add table bridge cairn\n"
                "add chain bridge cairn forward { type filter hook forward priority 0; "
                "policy accept; }\n")
        except BaseException:
            self.close()
            raise

    def add_host(self, name):
        """A new host `name` (letters, digits, '-'; at most 12 characters)."""
        assert not self._closed
        assert name not in self.hosts and name != "br", name
        assert name.replace("-", "").isalnum() and len(name) <= 12, name
        index = len(self.hosts) + 1
        assert index < 255
        h = Host(self, name, index)
        ip("netns", "add", h.ns)
        self.hosts[name] = h
        ip("-n", h.ns, "link", "set", "lo", "up")
        ip("-n", self.bridge_ns, "link", "add", h.port, "type", "veth", "peer", "name", "eth0",
           "netns", h.ns)
        ip("-n", self.bridge_ns, "link", "set", h.port, "master", "br0")
        ip("-n", self.bridge_ns, "link", "set", h.port, "up")
        ip("-n", h.ns, "addr", "add", f"{h.ip}/24", "dev", "eth0")
        ip("-n", h.ns, "link", "set", "eth0", "up")
        return h

    def host(self, name):
        return self.hosts[name]

    # --- faults -----------------------------------------------------------

    def block(self, src, dst, how="drop"):
        """Loses packets from host src to host dst (see the module doc for
        `how`). Idempotent; a new `how` replaces the old one."""
        assert how in ("drop", "unreachable"), how
        assert src is not dst
        key = (src.name, dst.name)
        old = self._blocks.get(key)
        if old == how:
            return
        if old is not None:
            self.unblock(src, dst)
        self._blocks[key] = how
        if how == "unreachable":
            src.run_ip("route", "add", "unreachable", f"{dst.ip}/32")
        else:
            self._apply_drops()
        # Sockets keep cached routes only until the routing table changes,
        # and the bridge looks at every frame: both take effect at once.

    def unblock(self, src, dst):
        key = (src.name, dst.name)
        how = self._blocks.pop(key, None)
        if how == "unreachable":
            src.run_ip("route", "del", "unreachable", f"{dst.ip}/32")
        elif how == "drop":
            self._apply_drops()

    def partition(self, group_a, group_b, how="drop"):
        """No traffic between any host of group_a and any host of group_b
        (both directions); traffic inside each group is untouched."""
        for a in group_a:
            for b in group_b:
                self.block(a, b, how)
                self.block(b, a, how)

    def heal(self):
        """Removes every block and brings every link up."""
        for src, dst in list(self._blocks):
            self.unblock(self.hosts[src], self.hosts[dst])
        for h in self.hosts.values():
            h.link_up()

    def _apply_drops(self):
        """Replaces the bridge's drop rules with those of self._blocks, in
        one nftables transaction."""
        lines = ["flush chain bridge cairn forward"]
        for (src, dst), how in sorted(self._blocks.items()):
            if how == "drop":
                lines.append(f"add rule bridge cairn forward ip saddr {self.hosts[src].ip} "
                             f"ip daddr {self.hosts[dst].ip} counter drop")
        nft(self.bridge_ns, "\n".join(lines) + "\n")

    def drop_counters(self):
        """The bridge's drop rules as text, with their packet counters."""
        return nft(self.bridge_ns, "list chain bridge cairn forward\n")

    def blocks(self):
        """{(src name, dst name): how} of the blocks in force."""
        return dict(self._blocks)

    # --- cleanup ----------------------------------------------------------

    def close(self):
        """Deletes every namespace of the run, the temporary directory
        (unless keep_tmp) and the reservation. Idempotent."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for h in self.hosts.values():
            p = ip("netns", "delete", h.ns, check=False)
            if p.returncode != 0:
                errors.append(p.stderr.strip())
        ip("netns", "delete", self.bridge_ns, check=False)
        # Anything left with our prefix (a host half made when add_host failed).
        _delete_namespaces(self.prefix)
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._reservation.unlink(missing_ok=True)
        left = [n.name for n in NETNS_DIR.glob(f"{self.prefix}*")] if NETNS_DIR.is_dir() else []
        if left:
            raise NetError(f"namespaces left after close: {left} ({errors})")


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Calls predicate() until it returns a true value (returned) or
    `timeout` seconds pass (AssertionError naming `what` and the last value
    or exception)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - report the last failure
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
