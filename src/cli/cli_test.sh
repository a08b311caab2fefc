#!/usr/bin/env bash
# End-to-end test of the `cairn` binary: starts `cairn meta` (memory store,
# ports 0), drives every client command and checks outputs, errors and
# exit codes, then stops the server with SIGTERM.
# Usage: cli_test.sh PATH/TO/cairn
set -u
CAIRN=${1:?usage: cli_test.sh CAIRN_BINARY}
WORK=$(mktemp -d)
META_PID=
passed=0
failed=0

cleanup() {
  if [ -n "$META_PID" ] && kill -0 "$META_PID" 2>/dev/null; then kill -KILL "$META_PID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect NAME WANT_RC WANT_STDOUT WANT_STDERR_SUBSTRING -- CMD...
expect() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 5
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  local out err
  out=$(cat "$WORK/out")
  err=$(cat "$WORK/err")
  if [ "$rc" != "$want_rc" ]; then bad "$name: exit $rc, want $want_rc (stderr: $err)"; return; fi
  if [ "$want_out" != "*" ] && [ "$out" != "$want_out" ]; then
    bad "$name: stdout [$out], want [$want_out]"; return
  fi
  if [ -n "$want_err" ] && [[ "$err" != *"$want_err"* ]]; then
    bad "$name: stderr [$err] lacks [$want_err]"; return
  fi
  ok
}

json_get() {  # json_get EXPR < json
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

"$CAIRN" meta --store memory --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --ready-file "$WORK/ready.json" >"$WORK/meta.out" 2>"$WORK/meta.err" &
META_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
if [ ! -s "$WORK/ready.json" ]; then echo "meta did not start"; cat "$WORK/meta.err"; exit 1; fi
GRPC=$(json_get 'd["grpc"]' <"$WORK/ready.json")
HTTP=$(json_get 'd["http"]' <"$WORK/ready.json")
PID=$(json_get 'd["pid"]' <"$WORK/ready.json")
[ "$PID" = "$META_PID" ] && ok || bad "ready file pid $PID, want $META_PID"
grep -qx "cairn meta: serving grpc=$GRPC http=$HTTP" "$WORK/meta.out" && ok || bad "serving line: $(cat "$WORK/meta.out")"
export CAIRN_META=$GRPC

# Help and usage.
expect help 0 "*" "" -- "$CAIRN" --help
grep -q "mkdir" "$WORK/out" && ok || bad "help lacks mkdir"
expect sub-help 0 "*" "" -- "$CAIRN" ls --help
grep -q -- "--json" "$WORK/out" && ok || bad "ls help lacks --json"
# A bad meta option is refused before anything starts.
expect meta-bad-read-cache 1 "" "bad --read-cache 'lots'" -- \
  "$CAIRN" meta --store memory --listen 127.0.0.1:0 --http 127.0.0.1:0 --read-cache lots
expect meta-huge-read-cache 1 "" "bad --read-cache '65GiB'" -- \
  "$CAIRN" meta --store memory --listen 127.0.0.1:0 --http 127.0.0.1:0 --read-cache 65GiB
expect no-command 2 "" "subcommand is required" -- "$CAIRN"
expect missing-arg 2 "" "PATH is required" -- "$CAIRN" mkdir
expect unknown-command 2 "" "" -- "$CAIRN" frobnicate
expect bad-option 2 "" "" -- "$CAIRN" ls --bogus

# Directories and files.
expect mkdir-p 0 "" "" -- "$CAIRN" mkdir -p /a/b/c
expect mkdir-exists 1 "" "cairn: /a: File exists" -- "$CAIRN" mkdir /a
expect mkdir-p-exists 0 "" "" -- "$CAIRN" mkdir -p /a
expect mkdir-noparent 1 "" "cairn: /x/y: No such file or directory" -- "$CAIRN" mkdir /x/y
expect mkdir-mode 0 "" "" -- "$CAIRN" mkdir -m 700 /private
expect touch 0 "" "" -- "$CAIRN" touch a/f /a/g
expect ls 0 "$(printf 'b\nf\ng')" "" -- "$CAIRN" ls /a
expect ls-relative 0 "$(printf 'b\nf\ng')" "" -- "$CAIRN" ls a/b/..
expect ls-root 0 "$(printf 'a\nprivate')" "" -- "$CAIRN" ls
expect stat-json 0 "*" "" -- "$CAIRN" stat --json /a/f
[ "$(json_get '(d["name"], d["type"], d["mode"], d["nlink"], d["size"])' <"$WORK/out")" = "('/a/f', 'file', 420, 1, 0)" ] && ok || bad "stat json $(cat "$WORK/out")"
expect stat-json-many 0 "*" "" -- "$CAIRN" stat --json /a/f /private
[ "$(json_get '[(e["name"], e["type"], e["mode"]) for e in d]' <"$WORK/out")" = "[('/a/f', 'file', 420), ('/private', 'dir', 448)]" ] && ok || bad "stat json many $(cat "$WORK/out")"
expect stat-text 0 "*" "" -- "$CAIRN" stat /a
grep -q "Type: dir" "$WORK/out" && grep -q "(0755/drwxr-xr-x)" "$WORK/out" && ok || bad "stat text $(cat "$WORK/out")"
expect stat-missing 1 "" "cairn: /nope: No such file or directory" -- "$CAIRN" stat /nope

# Links.
expect symlink 0 "" "" -- "$CAIRN" ln -s /a/f /a/s
expect hardlink 0 "" "" -- "$CAIRN" ln /a/f /a/h
expect hardlink-exists 1 "" "cairn: /a/h: File exists" -- "$CAIRN" ln /a/f /a/h
expect readlink 0 "/a/f" "" -- "$CAIRN" readlink /a/s
expect readlink-file 1 "" "cairn: /a/f: Invalid argument" -- "$CAIRN" readlink /a/f
expect ls-l 0 "*" "" -- "$CAIRN" ls -l /a
grep -Eq '^lrwxrwxrwx +1 +0 +0 +4 [0-9-]+ [0-9:]+ s -> /a/f$' "$WORK/out" && ok || bad "ls -l symlink: $(cat "$WORK/out")"
grep -Eq '^-rw-r--r-- +2 +0 +0 +0 [0-9-]+ [0-9:]+ f$' "$WORK/out" && ok || bad "ls -l file: $(cat "$WORK/out")"
grep -Eq '^drwxr-xr-x +3 .* b$' "$WORK/out" && ok || bad "ls -l dir: $(cat "$WORK/out")"
expect ls-json 0 "*" "" -- "$CAIRN" ls --json /a
[ "$(json_get '[(e["name"], e["type"], e.get("target")) for e in d]' <"$WORK/out")" = "[('b', 'dir', None), ('f', 'file', None), ('g', 'file', None), ('h', 'file', None), ('s', 'symlink', '/a/f')]" ] && ok || bad "ls json $(cat "$WORK/out")"
json_get 'sorted(d[0].keys())' <"$WORK/out" | grep -q "'atime_ns', 'ctime_ns', 'gid', 'ino', 'mode', 'mtime_ns', 'name', 'nlink', 'size', 'type', 'uid'" && ok || bad "ls json keys"
expect ls-file 0 "/a/f" "" -- "$CAIRN" ls /a/f

# Rename.
expect mv-into-dir 0 "" "" -- "$CAIRN" mv /a/g /a/b
expect mv-moved 0 "$(printf 'c\ng')" "" -- "$CAIRN" ls /a/b
expect mv-rename 0 "" "" -- "$CAIRN" mv /a/b/g /a/g2
expect mv-missing 1 "" "cairn: /a/nope: No such file or directory" -- "$CAIRN" mv /a/nope /a/x
expect mv-noclobber 1 "" "File exists" -- "$CAIRN" mv -n /a/g2 /a/f

# Removal.
expect rm-missing 1 "" "cairn: /a/nope: No such file or directory" -- "$CAIRN" rm /a/nope
expect rm-force 0 "" "" -- "$CAIRN" rm -f /a/nope
expect rm-dir 1 "" "cairn: /a: Is a directory" -- "$CAIRN" rm /a
expect rmdir-notempty 1 "" "cairn: /a: Directory not empty" -- "$CAIRN" rmdir /a
expect rmdir-file 1 "" "cairn: /a/f: Not a directory" -- "$CAIRN" rmdir /a/f
expect rm-file 0 "" "" -- "$CAIRN" rm /a/h
expect rm-root 1 "" "refusing to remove '/'" -- "$CAIRN" rm -r /

# Extended attributes.
expect xattr-set 0 "" "" -- "$CAIRN" xattr set /a/f user.color blue
expect xattr-get 0 "blue" "" -- "$CAIRN" xattr get /a/f user.color
expect xattr-create 1 "" "cairn: /a/f: File exists" -- "$CAIRN" xattr set --create /a/f user.color red
expect xattr-list 0 "user.color" "" -- "$CAIRN" xattr list /a/f
expect xattr-rm 0 "" "" -- "$CAIRN" xattr rm /a/f user.color
expect xattr-missing 1 "" "cairn: /a/f: No data available" -- "$CAIRN" xattr get /a/f user.color

# Capacity.
expect df 0 "*" "" -- "$CAIRN" df
grep -q "^cairn " "$WORK/out" && ok || bad "df: $(cat "$WORK/out")"
expect df-json 0 "*" "" -- "$CAIRN" statfs --json
[ "$(json_get 'd["name_max"]' <"$WORK/out")" = "255" ] && ok || bad "df json"

# Recursive removal.
expect rm-r 0 "" "" -- "$CAIRN" rm -r /a
expect rm-r-gone 1 "" "No such file or directory" -- "$CAIRN" stat /a
expect rm-rf-missing 0 "" "" -- "$CAIRN" rm -rf /a

# Bench.
expect bench 0 "*" "" -- "$CAIRN" bench meta --files 300 --threads 4 --json
[ "$(json_get 'all(isinstance(d[k], (int, float)) and d[k] > 0 for k in ("create","stat","rename","unlink")) and d["files"] == 300' <"$WORK/out")" = "True" ] && ok || bad "bench json $(cat "$WORK/out")"
expect bench-cleaned 0 "private" "" -- "$CAIRN" ls /

# HTTP endpoints.
http_get() { python3 -c "import sys,urllib.request as u; r=u.urlopen('http://$HTTP'+sys.argv[1]); print(r.status); print(r.read().decode())" "$1"; }
[ "$(http_get /healthz | sed -n 1p)" = "200" ] && ok || bad "healthz"
[ "$(http_get /readyz | sed -n 1p)" = "200" ] && ok || bad "readyz"
http_get /metrics | grep -q '^cairn_meta_requests_total{op="Create"} ' && ok || bad "metrics"

# Unreachable server.
expect unreachable 1 "" "cannot reach the meta server at 127.0.0.1:1" -- "$CAIRN" ls --meta 127.0.0.1:1 --timeout 5 /

# Graceful stop.
kill -TERM "$META_PID"
wait "$META_PID"
rc=$?
[ "$rc" = 0 ] && ok || bad "meta exit $rc after SIGTERM"
grep -q 'msg="meta stopped"' "$WORK/meta.err" && ok || bad "no stop log: $(cat "$WORK/meta.err")"
META_PID=

echo "cli_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
