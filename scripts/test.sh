#!/usr/bin/env bash
# Installs dependencies, builds, starts throwaway PostgreSQL and Redis servers on loopback, runs every
# test with ctest (the contract suites on every adapter, the integration scenarios on both profiles,
# the multi-process tests), stops the servers, then smoke-runs the benchmark scripts and the container
# build. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "stage: setup.sh (dependencies + leaky-tokens) done after ${SECONDS} s"
cmake --build build        # the test executables (setup.sh builds only leaky-tokens)
echo "stage: test build done after ${SECONDS} s"
scripts/test-servers.sh start
trap 'scripts/test-servers.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. build/test-servers.env
set +a
(cd build && ctest --output-on-failure -j2 --timeout 300)
echo "stage: ctest done after ${SECONDS} s"
# ---- Issue 15: sanitizers and fuzzing (separate build dirs; see fuzz/README.md) ----------------------
# ASan + UBSan build of the hostile-input suites, run on the same test servers.
scripts/sanitize.sh
# Each libFuzzer target for a bounded time (LT_FUZZ_SECONDS, default 30) on its seed corpus. The
# endpoints target builds the whole application with clang: CI runs the library targets only unless
# LT_FUZZ_TARGETS says otherwise.
# shellcheck disable=SC2086
scripts/fuzz.sh "${LT_FUZZ_SECONDS:-30}" ${LT_FUZZ_TARGETS:-http_request json_body jwt config}
echo "stage: sanitizers and fuzzing done after ${SECONDS} s"
# ----------------------------------------------------------------------------------------------------
# Keep the benchmark scripts from rotting: a 2-second run (no figures asserted).
scripts/bench/chat.sh --smoke > build/bench-chat-smoke.txt 2>&1 || { cat build/bench-chat-smoke.txt; exit 1; }
echo "bench smoke: chat ok"
scripts/bench/consume.sh --smoke > build/bench-consume-smoke.txt 2>&1 || { cat build/bench-consume-smoke.txt; exit 1; }
echo "bench smoke: consume ok"
scripts/bench/soak.sh --smoke > build/bench-soak-smoke.txt 2>&1 || { cat build/bench-soak-smoke.txt; exit 1; }
echo "bench smoke: soak ok"
# The production image: built with buildah from the Dockerfile, started, health-checked (no Docker
# engine needed; about 20 min cold on 2 cores, under a minute when its caches are warm).
# LT_SKIP_CONTAINER_TEST=1 skips it.
if [ "${LT_SKIP_CONTAINER_TEST:-0}" != 1 ]; then
  scripts/container-test.sh
  echo "stage: container test done after ${SECONDS} s"
fi
