#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the tests (-DLT_SANITIZE=ON, g++) in
# build-asan/, then runs the chosen test executables under it. Any sanitizer report fails the run.
#
#   scripts/sanitize.sh [TEST_EXECUTABLE...]
#
# Default: the suites over the code hostile input reaches first (HTTP kernel, JSON, JWT, crypto,
# config loader, auth with its limiter, names and key handling, the token limiter scripts): they need
# the core, the auth module and two adapters only. The whole suite (security_test, integration_test, …)
# builds the whole application a second time, which does not fit CI's budget on 2 cores;
# LT_SANITIZE_ALL=1 runs it all, or name executables (e.g. security_test) to add them.
# Servers: the tests read LT_TEST_POSTGRES_URL / LT_TEST_REDIS_URL like the normal run.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(unit_core_test unit_crypto_test unit_config_test unit_metrics_test auth_test token_limiter_test)
fi
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLT_SANITIZE=ON >/dev/null
fi
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if [ "${LT_SANITIZE_ALL:-0}" = 1 ]; then
  cmake --build build-asan -j"$(nproc)"
  (cd build-asan && ctest --output-on-failure -j2 --timeout 600)
  exit
fi
started=$SECONDS
extra=()
for t in "${tests[@]}"; do
  # Suites that start the real executable need it sanitized too.
  case "$t" in security_test|integration_test|e2e_*|cli_test) extra=(leaky-tokens) ;; esac
done
cmake --build build-asan --target "${tests[@]}" "${extra[@]}" -j"$(nproc)"
echo "sanitize: built in $((SECONDS - started)) s"
status=0
for t in "${tests[@]}"; do
  t0=$SECONDS
  if build-asan/tests/"$t" >"build-asan/$t.log" 2>&1; then
    echo "sanitize: $t passed in $((SECONDS - t0)) s"
  else
    echo "sanitize: $t FAILED:"
    tail -n 60 "build-asan/$t.log"
    status=1
  fi
done
exit $status
