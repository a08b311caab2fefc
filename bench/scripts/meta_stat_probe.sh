#!/bin/bash
# Where a stat's CPU goes (docs/BENCHMARKS.md, "Batches on streams"): a
# fresh `cairn meta` on a temporary RocksDB store, `cairn bench meta` with
# 8 threads; once the server has answered 2,000 GetAttr (the stat phase),
# two seconds of: the CPU time of both processes, the machine's context
# switches and the server's GetAttr and Batch counts, per stat. With
# PERF=1 also `perf record -a` over the same window (its file is kept and
# printed).
#
# usage: [PERF=1] [FILES=100000] bench/scripts/meta_stat_probe.sh CAIRN_BIN
set -euo pipefail
BIN=$1
D=$(mktemp -d /tmp/cairn-statprobe.XXXX)
"$BIN" meta --store "rocksdb:$D/store" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --ready-file "$D/ready" > "$D/log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$D/ready" ] && break; sleep 0.1; done
A=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/ready'))['grpc'])")
H=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/ready'))['http'])")
count() {
  curl -s "http://$H/metrics" |
    awk -v op="$1" '$1 == "cairn_meta_request_duration_seconds_count{op=\"" op "\"}" {print $2}'
}
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
switches() { awk '$1 == "ctxt" {print $2}' /proc/stat; }
"$BIN" bench meta --meta "$A" --files "${FILES:-100000}" --threads 8 --json > "$D/out" &
B=$!
for _ in $(seq 6000); do
  n=$(count GetAttr)
  [ -n "$n" ] && [ "${n%.*}" -gt 2000 ] && break
  sleep 0.05
done
g0=$(count GetAttr); b0=$(count Batch); s0=$(cpu $P); c0=$(cpu $B); x0=$(switches)
if [ -n "${PERF:-}" ]; then
  perf record -a -o "$D/perf.data" -- sleep 2 > /dev/null 2>&1
else
  sleep 2
fi
g1=$(count GetAttr); b1=$(count Batch); s1=$(cpu $P); c1=$(cpu $B); x1=$(switches)
wait $B
tail -1 "$D/out"
/usr/bin/python3 -c "
n = $g1 - $g0
print(f'stats {n:.0f}  ops/batch {n / ($b1 - $b0):.2f}  server_us/stat {($s1 - $s0) * 1e6 / n:.1f}'
      f'  client_us/stat {($c1 - $c0) * 1e6 / n:.1f}  switches/stat {($x1 - $x0) / n:.2f}')"
kill $P
wait $P 2>/dev/null || true
if [ -n "${PERF:-}" ]; then
  echo "perf: $D/perf.data"
else
  rm -rf "$D"
fi
