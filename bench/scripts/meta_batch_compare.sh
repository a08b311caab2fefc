#!/bin/bash
# Metadata throughput and CPU per operation, batching off vs on, side by
# side (docs/BENCHMARKS.md, "Batching"). One fresh `cairn meta` on a
# temporary RocksDB store per run, runs alternating between the settings.
#
# usage: bench/scripts/meta_batch_compare.sh CAIRN_BIN FILES "SETTINGS" ROUNDS THREADS
#   e.g. bench/scripts/meta_batch_compare.sh build/bin/cairn 100000 "0 2" 2 8
# Prints per run: ops/s of each phase, and the server's and the client's
# CPU (utime + stime) per operation over the four phases, in microseconds.
set -euo pipefail
BIN=$1; FILES=$2; SETTINGS=$3; ROUNDS=${4:-2}; THREADS=${5:-8}
TCK=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
for _ in $(seq "$ROUNDS"); do
  for b in $SETTINGS; do
    D=$(mktemp -d /tmp/cairn-metabench.XXXX)
    "$BIN" meta --store "rocksdb:$D/store" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
      --ready-file "$D/ready" > "$D/log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do [ -s "$D/ready" ] && break; sleep 0.1; done
    ADDR=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/ready'))['grpc'])")
    S0=$(cpu_seconds $PID)
    /usr/bin/time -f "%U %S" -o "$D/time" timeout 600 "$BIN" bench meta --meta "$ADDR" \
      --files "$FILES" --threads "$THREADS" --batch-in-flight "$b" --json > "$D/out"
    S1=$(cpu_seconds $PID)
    /usr/bin/python3 - "$D" "$b" "$THREADS" "$FILES" "$S0" "$S1" <<'PY'
import json, sys
d, b, threads, files, s0, s1 = sys.argv[1:]
j = json.loads(open(d + "/out").read().splitlines()[-1])
user, system = map(float, open(d + "/time").read().split()[-2:])
ops = 4 * int(files)
load = open("/proc/loadavg").read().split()[0]
print(f"batch={b} threads={threads} " +
      " ".join(f"{k}={j[k]:.0f}" for k in ("create", "stat", "rename", "unlink")) +
      f" server_us_op={(float(s1) - float(s0)) * 1e6 / ops:.0f}"
      f" client_us_op={(user + system) * 1e6 / ops:.0f} load={load}")
PY
    kill $PID; wait $PID 2>/dev/null || true
    rm -rf "$D"
  done
done
