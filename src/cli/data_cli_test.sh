#!/usr/bin/env bash
# End-to-end test of the data commands of the `cairn` binary: starts
# `cairn server` (meta + 3 chunk servers, ports 0) on a scratch directory,
# drives put, get, cat, stat --chunks, policy, admin status and bench data,
# checks content, outputs, errors and exit codes, then stops the server
# with SIGTERM.
# Usage: data_cli_test.sh PATH/TO/cairn
set -u
CAIRN=${1:?usage: data_cli_test.sh CAIRN_BINARY}
WORK=$(mktemp -d)
SERVER_PID=
passed=0
failed=0

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; fi
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
  out=$(tr -d "\\0" <"$WORK/out")
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

"$CAIRN" server --dir "$WORK/data" --chunk-servers 3 --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --ready-file "$WORK/ready.json" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 200); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
if [ ! -s "$WORK/ready.json" ]; then echo "server did not start"; cat "$WORK/server.err"; exit 1; fi
export CAIRN_META=$(json_get 'd["grpc"]' <"$WORK/ready.json")
L=$WORK/local
mkdir -p "$L"

# Files of awkward sizes around a small chunk size: 0, 1, chunk-1, chunk,
# chunk+1, several chunks.
expect mkdir 0 "" "" -- "$CAIRN" mkdir /small
expect policy-set 0 "*" "" -- "$CAIRN" policy set /small --chunk-size 64K
expect policy-get-json 0 "*" "" -- "$CAIRN" policy get --json /small
[ "$(json_get '(d["stored"]["chunk_size"], d["effective"]["chunk_size"], d["stored"]["replicas"], d["effective"]["replicas"])' <"$WORK/out")" = "(65536, 65536, 0, 3)" ] && ok || bad "policy json $(cat "$WORK/out")"
expect policy-set-replicas 0 "*" "" -- "$CAIRN" policy set /small --replicas 2
expect policy-get 0 "*" "" -- "$CAIRN" policy get /small
grep -q "replicas:   2" "$WORK/out" && grep -q "chunk size: 64.0 KiB" "$WORK/out" && ok || bad "policy text $(cat "$WORK/out")"
expect policy-bad-size 1 "" "chunk size must be" -- "$CAIRN" policy set /small --chunk-size 1000
expect policy-nothing 1 "" "nothing to change" -- "$CAIRN" policy set /small
for n in 0 1 65535 65536 65537 300000; do
  head -c "$n" /dev/urandom >"$L/f$n"
  expect "put-$n" 0 "" "" -- "$CAIRN" put "$L/f$n" "/small/f$n"
  expect "get-$n" 0 "" "" -- "$CAIRN" get "/small/f$n" "$L/g$n"
  cmp -s "$L/f$n" "$L/g$n" && ok || bad "content of f$n differs"
done
expect cat 0 "*" "" -- "$CAIRN" cat /small/f1 /small/f65537
cat "$L/f1" "$L/f65537" | cmp -s - "$WORK/out" && ok || bad "cat content differs"
expect cat-missing 1 "" "cairn: /small/nope: No such file or directory" -- "$CAIRN" cat /small/nope
expect cat-dir 1 "" "cairn: /small: Is a directory" -- "$CAIRN" cat /small
expect get-stdout 0 "*" "" -- "$CAIRN" get /small/f65536 -
cmp -s "$L/f65536" "$WORK/out" && ok || bad "get - content differs"
printf 'from stdin\n' | "$CAIRN" put - /small/stdin && ok || bad "put from stdin"
expect cat-stdin 0 "from stdin" "" -- "$CAIRN" cat /small/stdin

# stat --chunks: 300000 bytes in 64 KiB slots = 5 chunks of 2 replicas.
expect stat-chunks-json 0 "*" "" -- "$CAIRN" stat --chunks --json /small/f300000
[ "$(json_get '(d["size"], d["chunk_size"], d["replicas"], len(d["chunks"]), [c["length"] for c in d["chunks"]], [len(c["nodes"]) for c in d["chunks"]][0], len(d["chunks"][0]["id"]))' <"$WORK/out")" = "(300000, 65536, 2, 5, [65536, 65536, 65536, 65536, 37856], 2, 32)" ] && ok || bad "stat --chunks json $(cat "$WORK/out")"
expect stat-chunks 0 "*" "" -- "$CAIRN" stat --chunks /small/f300000
grep -q "Chunks: 5 slots of 65536 bytes, 2 replicas" "$WORK/out" && ok || bad "stat --chunks text $(cat "$WORK/out")"

# Into an existing directory, several at once, and the errors cp gives.
expect put-into-dir 0 "" "" -- "$CAIRN" put "$L/f1" "$L/f65535" /small
expect put-into-dir-check 0 "*" "" -- "$CAIRN" stat /small/f1
expect put-many-not-dir 1 "" "target '/small/f1' is not a directory" -- "$CAIRN" put "$L/f1" "$L/f0" /small/f1
expect put-missing 1 "" "nope: No such file or directory" -- "$CAIRN" put "$L/nope" /small/x
expect put-noparent 1 "" "cairn: /none/x: No such file or directory" -- "$CAIRN" put "$L/f1" /none/x
expect put-dir-no-r 1 "" "-r not specified" -- "$CAIRN" put "$L" /tree

# Trees with -r and -j.
mkdir -p "$WORK/tree/a/b"
for i in 1 2 3 4 5 6 7 8; do head -c $((i * 20000)) /dev/urandom >"$WORK/tree/a/b/x$i"; done
echo top >"$WORK/tree/top"
ln -s top "$WORK/tree/link"
expect put-r 0 "" "" -- "$CAIRN" put -r -j 4 "$WORK/tree" /
expect ls-tree 0 "$(printf 'a\nlink\ntop')" "" -- "$CAIRN" ls /tree
expect get-r 0 "" "" -- "$CAIRN" get -r -j 3 /tree "$WORK/back"
diff -r "$WORK/tree" "$WORK/back" >/dev/null && ok || bad "tree differs after put -r / get -r"
[ "$(readlink "$WORK/back/link")" = "top" ] && ok || bad "symlink not recreated"
expect get-dir-no-r 1 "" "-r not specified" -- "$CAIRN" get /tree "$WORK/x"

# The cluster map.
expect admin-status-json 0 "*" "" -- "$CAIRN" admin status --json
[ "$(json_get '(d["pg_count"] > 0, d["replicas"], len(d["nodes"]), [n["state"] for n in d["nodes"]], len(d["pgs"]) == d["pg_count"], all(len(p["chain"]) == 3 for p in d["pgs"]))' <"$WORK/out")" = "(True, 3, 3, ['up', 'up', 'up'], True, True)" ] && ok || bad "admin status json $(cat "$WORK/out")"
expect admin-status 0 "*" "" -- "$CAIRN" admin status
grep -q "3 of 3 nodes up" "$WORK/out" && ok || bad "admin status text $(cat "$WORK/out")"

# The data bench, with the local comparison.
expect bench-data 0 "*" "" -- "$CAIRN" bench data --size 3M --threads 2 --small-files 20 --json --local "$WORK/benchlocal"
[ "$(json_get 'all(d[k] > 0 for k in ("write_mib_s", "read_mib_s", "small_write_files_s", "small_read_files_s")) and all(d["local"][k] > 0 for k in ("write_mib_s", "read_mib_s", "small_write_files_s", "small_read_files_s"))' <"$WORK/out")" = "True" ] && ok || bad "bench data json $(cat "$WORK/out")"
expect bench-data-cleaned 1 "" "No such file or directory" -- "$CAIRN" stat /bench-data

kill -TERM "$SERVER_PID"
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID" && ok || bad "server exit status"
SERVER_PID=

echo "data_cli_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
