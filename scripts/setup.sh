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
  libpq-dev                                         # PostgreSQL adapter (libpq)
  postgresql-15 postgresql-client-15 redis-server   # throwaway test servers (scripts/test-servers.sh)
  prometheus                                        # promtool, used by the metrics tests
  lua5.4                                            # runs the rate limiters' Redis Lua against the C++ twins
  curl wrk nginx-light python3                      # smoke and benchmark scripts
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

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build
echo "setup: built build/leaky-tokens"
