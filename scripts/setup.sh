#!/usr/bin/env bash
# Installs every build and test dependency from Debian (idempotent) and builds only what
# `leaky-tokens serve` needs: build/leaky-tokens (Release), the admin console included. The test
# executables are built by scripts/test.sh. Usage: scripts/setup.sh [extra cmake args...]
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
  openssl                                           # the TLS tests make a throwaway CA with its CLI
  buildah debootstrap                               # scripts/container-test.sh: builds and runs the image without Docker
  chromium                                          # the console's browser test (playwright-core drives it; no browser download)
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

# Node.js and npm build the admin console (console/, vite) and run the npm-based tests. Debian's own
# packages are used unless a Node.js is installed already (e.g. NodeSource's, which bundles npm).
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
# Every npm tree is pinned by its committed package-lock.json (npm ci; only the npm registry is used).
npm ci --prefix console --no-audit --no-fund --loglevel=error             # vite, for the console build
npm ci --prefix tests/openai-client --no-audit --no-fund --loglevel=error # the official openai client
npm ci --prefix tests/console --no-audit --no-fund --loglevel=error       # playwright-core (system Chromium)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --target leaky-tokens
echo "setup: built build/leaky-tokens (tests: scripts/test.sh builds them)"
