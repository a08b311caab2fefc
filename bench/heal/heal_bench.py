#!/usr/bin/python3
"""Time to heal after a chunk server dies, and what clients get meanwhile.

For each cluster size (default 4, 6 and 8 chunk servers, three replicas,
every server on a network host of its own, built with the fault harness in
tests/fault/faultlib):

1. writes the dataset (default 1 GiB in 8 files, `put` of a directory,
   4 files at once) and times it: the load rate;
2. measures a client's write and read throughput on the healthy cluster:
   `put` of one probe file (default 256 MiB), then `cat` of it;
3. SIGKILLs one chunk server; meta marks it DOWN after --down-after and
   OUT after --out-after, and the survivors backfill its PGs;
4. as soon as it is OUT, measures the same read (the same file) and write
   (a new probe file) again, while recovery runs; how much of each probe
   overlapped recovery is reported (the share of its duration before the
   moment every PG was healthy again);
5. waits until every PG has three healthy members, none recovering, no
   bytes left: the time to heal, from the kill and from OUT.

Prints a table and one JSON object (also written to --json-out). Every
step has a deadline; the cluster (processes, namespaces, data) is removed
after each size whatever happens. Needs root (network namespaces), `ip`
and `nft`, like the fault tests.

    CAIRN_BIN=build/bin/cairn /usr/bin/python3 bench/heal/heal_bench.py \
        --sizes 4,6,8 --data 1G --probe 256M --recovery-rate 32MiB
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fault"))

from faultlib import MIB, Cluster, Dataset, Network, wait_for  # noqa: E402

GIB = 1024 * MIB


def parse_size(text):
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": MIB, "G": GIB}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * mult)


class StatusSampler:
    """Samples `admin status --json` from one client every `interval`
    seconds on a thread: (monotonic time, PGs recovering or degraded,
    bytes left) per sample. (While something copies, one status takes a
    second: it measures the rate.)"""

    def __init__(self, cluster, client, interval=0.5):
        self.cluster = cluster
        self.client = client
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                st = self.client.status(timeout=10)
                by = st["recovery"]["pgs_by_state"]
                self.samples.append((time.monotonic(), by["recovering"] + by["degraded"],
                                     st["recovery"]["bytes_left"]))
            except Exception:  # noqa: BLE001 - a missed sample is not an error
                pass
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)



def timed(client, *args, timeout):
    r = client.run(*args, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {r!r}")
    return r.seconds


def timed_read(client, remote, size, timeout):
    """`cat` to /dev/null; seconds."""
    p = client.spawn("cat", remote)
    r = p.wait(timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"cat {remote} failed: {r!r}")
    return r.seconds


def run_size(binary, n, args, sources, probes):
    net = Network()
    cluster = None
    sampler = None
    result = {"chunk_servers": n}
    try:
        cluster = Cluster(binary, net, n, client_hosts=2,
                          meta_args=["--down-after", str(args.down_after),
                                     "--out-after", str(args.out_after)],
                          chunk_args=["--recovery-rate", args.recovery_rate])
        cluster.start(timeout=120)
        client, watcher = cluster.clients
        timeout = 60 + 4 * (args.data + 2 * args.probe) / MIB  # 0.25 MiB/s at worst

        # 1. the dataset
        secs = timed(client, "put", "-r", "-j", "4", sources, "/data", timeout=timeout)
        result["load_mib_s"] = args.data / MIB / secs
        cluster.wait_pgs_healthy(timeout=120)

        # 2. healthy cluster
        w = timed(client, "put", probes[0], "/probe-before", timeout=timeout)
        r = timed_read(client, "/probe-before", args.probe, timeout)
        result["before"] = {"write_mib_s": args.probe / MIB / w,
                            "read_mib_s": args.probe / MIB / r}

        # 3. the failure
        st = cluster.status()
        victim = cluster.chunks[-1]
        vid = victim.node_id
        result["victim_chains"] = sum(1 for pg in st["pgs"] if vid in pg["chain"])
        result["victim_mib"] = cluster.disk_bytes(victim) / MIB
        sampler = StatusSampler(cluster, watcher).start()
        t_kill = time.monotonic()
        victim.crash()

        def out():
            states = {x["id"]: x["state"] for x in cluster.status()["nodes"]}
            return states[vid] == "out"
        wait_for(out, args.down_after + args.out_after + 60, 0.2, f"node {vid} out")
        t_out = time.monotonic()
        result["out_s"] = t_out - t_kill

        # 4. while recovering: the read first (it is short), then the write
        t = time.monotonic()
        r = timed_read(client, "/probe-before", args.probe, timeout)
        tr = time.monotonic()
        w = timed(client, "put", probes[1], "/probe-during", timeout=timeout)
        tw = time.monotonic()

        # 5. healed
        cluster.wait_pgs_healthy(timeout=args.heal_timeout, interval=0.2)
        t_healed = time.monotonic()
        sampler.stop()

        def overlap(start, end):
            return max(0.0, min(end, t_healed) - start) / (end - start)
        result["during"] = {"write_mib_s": args.probe / MIB / w,
                            "read_mib_s": args.probe / MIB / r,
                            "read_overlap": overlap(t, tr),
                            "write_overlap": overlap(tr, tw)}
        result["heal_from_kill_s"] = t_healed - t_kill
        result["heal_from_out_s"] = t_healed - t_out
        peak = max((s[2] for s in sampler.samples), default=0)
        result["peak_bytes_left_mib"] = peak / MIB
        # Whatever overlapped the probes, the recovery alone moved the
        # victim's share in (heal - out) seconds.
        result["recovery_mib_s"] = (result["victim_mib"] / result["heal_from_out_s"]
                                    if result["heal_from_out_s"] > 0 else None)
        for k in ("write_mib_s", "read_mib_s"):
            result["during"][k.replace("mib_s", "ratio")] = (result["during"][k] /
                                                             result["before"][k])
        # Sanity: the dataset reads back whole.
        code, size, _, err = client.read_digest("/probe-during", timeout=timeout)
        assert code == 0 and size == args.probe, (code, size, err)
        return result
    finally:
        if sampler:
            sampler.stop()
        if cluster:
            net.heal()
            cluster.close()
        net.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4,6,8", help="chunk servers per run, comma separated")
    ap.add_argument("--data", default="1G", help="dataset written before the failure")
    ap.add_argument("--files", type=int, default=8, help="files the dataset is split into")
    ap.add_argument("--probe", default="256M", help="size of each throughput probe file")
    ap.add_argument("--recovery-rate", default="32MiB",
                    help="chunk servers' --recovery-rate (0: unlimited)")
    ap.add_argument("--down-after", type=float, default=2)
    ap.add_argument("--out-after", type=float, default=4)
    ap.add_argument("--heal-timeout", type=float, default=900)
    ap.add_argument("--json-out", default="", help="also write the JSON here")
    args = ap.parse_args()
    args.data = parse_size(args.data)
    args.probe = parse_size(args.probe)
    binary = os.environ.get("CAIRN_BIN") or str(REPO / "build" / "bin" / "cairn")
    sizes = [int(s) for s in args.sizes.split(",") if s]

    work = Path(tempfile.mkdtemp(prefix="cairn-heal-bench-"))
    try:
        ds = Dataset(work / "src")
        src_dir = work / "src" / "data"
        src_dir.mkdir()
        per = args.data // args.files
        for i in range(args.files):
            ds.source(f"data/f{i}", per if i < args.files - 1 else args.data - per * i)
        probes = [str(ds.source(f"probe{i}", args.probe).path) for i in range(2)]
        results = []
        for n in sizes:
            t = time.monotonic()
            print(f"--- {n} chunk servers", flush=True)
            res = run_size(binary, n, args, str(src_dir), probes)
            res["bench_s"] = time.monotonic() - t
            print(json.dumps(res), flush=True)
            results.append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"data {args.data / GIB:.2f} GiB, probes {args.probe / MIB:.0f} MiB, "
          f"--recovery-rate {args.recovery_rate}, --down-after {args.down_after:g}, "
          f"--out-after {args.out_after:g}")
    head = ("nodes", "load MiB/s", "victim MiB", "OUT s", "heal s (kill)", "heal s (OUT)",
            "recov MiB/s", "write before", "write during", "ratio", "read before",
            "read during", "ratio", "overlap w/r")
    print(" | ".join(head))
    for r in results:
        b, d = r["before"], r["during"]
        ov = "/".join(f"{d[k]:.0%}" for k in ("write_overlap", "read_overlap"))
        print(" | ".join([str(r["chunk_servers"]), f"{r['load_mib_s']:.0f}",
                          f"{r['victim_mib']:.0f}", f"{r['out_s']:.1f}",
                          f"{r['heal_from_kill_s']:.1f}", f"{r['heal_from_out_s']:.1f}",
                          f"{r['recovery_mib_s']:.0f}",
                          f"{b['write_mib_s']:.0f}", f"{d['write_mib_s']:.0f}",
                          f"{d['write_ratio']:.2f}", f"{b['read_mib_s']:.0f}",
                          f"{d['read_mib_s']:.0f}", f"{d['read_ratio']:.2f}", ov]))
    out = {"data_bytes": args.data, "probe_bytes": args.probe,
           "recovery_rate": args.recovery_rate, "down_after": args.down_after,
           "out_after": args.out_after, "results": results}
    print(json.dumps(out))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
