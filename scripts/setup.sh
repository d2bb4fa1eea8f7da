#!/usr/bin/env bash
# Installs every build and test dependency from Debian (idempotent) and builds leaky-tokens in
# ./build (Release). Usage: scripts/setup.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev            # Asio, Beast, JSON (an unversioned libboost-*-dev conflicts)
  libspdlog-dev libfmt-dev libyaml-cpp-dev libexpected-dev doctest-dev
  libsqlite3-dev libssl-dev libcrypt-dev libjemalloc-dev
  libpq-dev libhiredis-dev librdkafka-dev           # the PostgreSQL, Redis and Kafka adapters
  postgresql redis-server                           # throwaway servers for the tests (scripts/test-servers.sh)
  prometheus                                        # promtool, used by the metrics tests
  lua5.4                                            # runs the rate limiters' Redis Lua against the C++ twins
  libicu-dev                                        # user names: NFKC_Casefold + confusable skeleton (auth)
  clang libclang-rt-14-dev                          # libFuzzer targets (scripts/fuzz.sh, -DLT_FUZZ=ON)
  curl wrk nginx-light python3                      # smoke and benchmark scripts
  buildah debootstrap                               # scripts/container-test.sh: builds and runs the image without Docker
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The prometheus package may start a server; we only need promtool.
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

# The official openai npm client for the ctest openai_npm_client_test (pinned by its package-lock.json).
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/openai-client --no-audit --no-fund --loglevel=error
else
  echo "setup: npm not found; openai_npm_client_test will be skipped (install Node.js 20)"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build
echo "setup: built build/leaky-tokens"
