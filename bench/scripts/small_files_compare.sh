#!/bin/bash
# 64 KiB small files written and read, volumes (--small-chunk-limit 128K,
# the default) vs one file per chunk (0), two `cairn server --chunk-servers
# 3` side by side, runs alternating (docs/BENCHMARKS.md, "File data").
#
# usage: bench/scripts/small_files_compare.sh CAIRN_BIN ROUNDS
set -euo pipefail
BIN=$1; ROUNDS=${2:-3}
start() {  # dir limit -> pid
  "$BIN" server --dir "$1" --chunk-servers 3 --listen 127.0.0.1:0 --http 127.0.0.1:0 \
    --small-chunk-limit "$2" --ready-file "$1/ready" > "$1.log" 2>&1 &
  echo $!
}
A=$(mktemp -d /tmp/cairn-small-vol.XXXX); B=$(mktemp -d /tmp/cairn-small-file.XXXX)
PA=$(start "$A" 128K); PB=$(start "$B" 0)
trap 'kill $PA $PB 2>/dev/null || true; wait $PA $PB 2>/dev/null || true; rm -rf "$A" "$B" "$A.log" "$B.log"' EXIT
for _ in $(seq 300); do [ -s "$A/ready" ] && [ -s "$B/ready" ] && break; sleep 0.1; done
meta_of() { /usr/bin/python3 -c "import json; print(json.load(open('$1/ready'))['grpc'])"; }
MA=$(meta_of "$A"); MB=$(meta_of "$B")
for _ in $(seq "$ROUNDS"); do
  for run in "volumes $MA" "files $MB"; do
    set -- $run
    timeout 600 "$BIN" bench data --meta "$2" --size 1M --threads 16 --small-files 3000 --json |
      tail -1 | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
load = open('/proc/loadavg').read().split()[0]
print('$1 small_write=%d small_read=%d load=%s' % (j['small_write_files_s'], j['small_read_files_s'], load))"
  done
done
