#!/bin/bash
# Metadata throughput and CPU per operation under different settings, side
# by side (docs/BENCHMARKS.md, "Batching", "Read cache and serial
# validation"). One fresh `cairn meta` on a temporary RocksDB store per
# run, runs alternating between the settings.
#
# usage: [BENCH_DIR=/a/b/bench] bench/scripts/meta_batch_compare.sh CAIRN_BIN FILES "SETTINGS" ROUNDS THREADS
#   A setting is BATCH (the client's --batch-in-flight) or BATCH:META_ARGS
#   (extra `cairn meta` arguments, commas for spaces), e.g.
#   bench/scripts/meta_batch_compare.sh build/bin/cairn 100000 "0 2" 2 8
#   bench/scripts/meta_batch_compare.sh build/bin/cairn 40000 "2:--read-cache,0 2" 3 8
# Prints per run: ops/s of each phase, the server's and the client's CPU
# (utime + stime) per operation over the four phases, and the server's
# mean time in Create and GetAttr (its /metrics), in microseconds.
set -euo pipefail
BIN=$1; FILES=$2; SETTINGS=$3; ROUNDS=${4:-2}; THREADS=${5:-8}
TCK=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
for _ in $(seq "$ROUNDS"); do
  for setting in $SETTINGS; do
    b=${setting%%:*}
    extra=""
    [[ $setting == *:* ]] && extra=${setting#*:}
    D=$(mktemp -d /tmp/cairn-metabench.XXXX)
    # shellcheck disable=SC2046
    "$BIN" meta --store "rocksdb:$D/store" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
      --ready-file "$D/ready" $(tr , ' ' <<< "$extra") > "$D/log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do [ -s "$D/ready" ] && break; sleep 0.1; done
    ADDR=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/ready'))['grpc'])")
    HTTP=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/ready'))['http'])")
    S0=$(cpu_seconds $PID)
    /usr/bin/time -f "%U %S" -o "$D/time" timeout 600 "$BIN" bench meta --meta "$ADDR" \
      --files "$FILES" --threads "$THREADS" --batch-in-flight "$b" \
      ${BENCH_DIR:+--dir "$BENCH_DIR"} --json > "$D/out"
    S1=$(cpu_seconds $PID)
    curl -s "http://$HTTP/metrics" > "$D/metrics"
    /usr/bin/python3 - "$D" "$setting" "$THREADS" "$FILES" "$S0" "$S1" <<'PY'
import json, re, sys
d, b, threads, files, s0, s1 = sys.argv[1:]
metrics = open(d + "/metrics").read()
def mean_us(op):
    def get(kind):
        m = re.search(r'cairn_meta_request_duration_seconds_%s\{op="%s"\} (\S+)' % (kind, op),
                      metrics)
        return float(m.group(1)) if m else 0.0
    count = get("count")
    return get("sum") / count * 1e6 if count else 0.0
j = json.loads(open(d + "/out").read().splitlines()[-1])
user, system = map(float, open(d + "/time").read().split()[-2:])
ops = 4 * int(files)
load = open("/proc/loadavg").read().split()[0]
print(f"setting={b} threads={threads} " +
      " ".join(f"{k}={j[k]:.0f}" for k in ("create", "stat", "rename", "unlink")) +
      f" server_us_op={(float(s1) - float(s0)) * 1e6 / ops:.0f}"
      f" client_us_op={(user + system) * 1e6 / ops:.0f}"
      f" create_us={mean_us('Create'):.0f} getattr_us={mean_us('GetAttr'):.0f} load={load}")
PY
    kill $PID; wait $PID 2>/dev/null || true
    rm -rf "$D"
  done
done
