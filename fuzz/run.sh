#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in build-fuzz/ and runs each
# for SECONDS (default 30). Fails (exit 1) if a target crashes, leaks,
# hits UB or times out; the reproducer is left in build-fuzz/artifacts/.
#
#   fuzz/run.sh [SECONDS]
#
# Environment: BUILD_DIR (default <repo>/build-fuzz), FUZZ_TARGETS
# (default "fuzz_names fuzz_keys fuzz_data_frame").
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [[ "$SECONDS_PER_TARGET" -eq 0 ]]; then
  echo "usage: $0 [SECONDS]   (a positive integer; default 30)" >&2
  exit 2
fi

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build-fuzz}"
TARGETS=(${FUZZ_TARGETS:-fuzz_names fuzz_keys fuzz_data_frame})

for tool in clang-14 clang++-14 cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz/run.sh: $tool not found" >&2; exit 1; }
done

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON -DBUILD_TESTING=OFF
fi
ninja -C "$BUILD_DIR" "${TARGETS[@]}"

# Leak detection stays on; UBSan reports abort (see fuzz/CMakeLists.txt).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in "${TARGETS[@]}"; do
  seeds="$REPO/fuzz/corpus/$t"
  # New inputs go to a scratch corpus in the build dir; the checked-in
  # seed corpus is read only, so runs never dirty the tree.
  work="$BUILD_DIR/corpus/$t"
  artifacts="$BUILD_DIR/artifacts/$t/"
  mkdir -p "$work" "$artifacts"
  echo "=== $t: ${SECONDS_PER_TARGET}s ==="
  # -max_len 9000: long enough to cross the 4096-byte path limit.
  if ! "$BUILD_DIR/bin/$t" "$work" "$seeds" \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=9000 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 \
      -artifact_prefix="$artifacts" 2>"$BUILD_DIR/$t.log"; then
    echo "FAIL: $t crashed; log: $BUILD_DIR/$t.log; reproducer(s):" >&2
    ls -1 "$artifacts" >&2 || true
    tail -n 60 "$BUILD_DIR/$t.log" >&2
    status=1
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)' "$BUILD_DIR/$t.log" || true
    echo "ok: $t"
  fi
done
exit $status
