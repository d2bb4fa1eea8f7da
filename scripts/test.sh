#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test with ctest. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Throwaway PostgreSQL and Redis on free loopback ports (data in a temp dir), stopped at the end; the
# tests find them through LT_TEST_POSTGRES_URL / LT_TEST_REDIS_URL.
scripts/test-servers.sh start
trap 'scripts/test-servers.sh stop' EXIT
set -a
. build/test-servers.env
set +a
cd build
ctest --output-on-failure -j2 --timeout 300
cd ..
# Keep the benchmark scripts from rotting: a 2-second run (no figures asserted).
scripts/bench/chat.sh --smoke > build/bench-chat-smoke.txt 2>&1 || { cat build/bench-chat-smoke.txt; exit 1; }
echo "bench smoke: chat ok"
scripts/bench/consume.sh --smoke > build/bench-consume-smoke.txt 2>&1 || { cat build/bench-consume-smoke.txt; exit 1; }
echo "bench smoke: consume ok"
