#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (-DLT_FUZZ=ON: every library instrumented, with
# AddressSanitizer + UndefinedBehaviorSanitizer) in build-fuzz/ and runs each for a bounded time on a
# copy of its seed corpus (fuzz/corpus/<name>/). A crash, leak, sanitizer report or timeout fails the
# run and leaves the reproducer in build-fuzz/findings/<name>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 30 s; targets: all)
#   LT_FUZZ_JOBS=N  parallel fuzzing jobs per target (default 1)
#
# CI runs it from scripts/test.sh with a short budget; run it locally for longer.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request json_body jwt config endpoints)

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release -DLT_FUZZ=ON \
    -DLT_BUILD_TESTS=OFF >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build build-fuzz --target "${build_targets[@]}" -j"$(nproc)"

status=0
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t"
  findings="build-fuzz/findings/$t"
  mkdir -p "$work" "$findings"
  cp -n "fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
  log="build-fuzz/fuzz-$t.log"
  echo "fuzz: $t for ${seconds}s"
  parallel=()
  if [ "${LT_FUZZ_JOBS:-1}" -gt 1 ]; then parallel=(-fork="$LT_FUZZ_JOBS" -ignore_crashes=0); fi
  # -rss_limit_mb: the endpoints target hosts the whole application; the others stay far below.
  if ! "build-fuzz/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=8192 \
      "${parallel[@]}" -print_final_stats=1 -artifact_prefix="$findings/" "$work" fuzz/corpus/"$t" \
      >"$log" 2>&1; then
    echo "fuzz: $t FAILED (reproducer in $findings/):"
    tail -n 40 "$log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" | tr '\n' ' '
    echo
  fi
done
exit $status
