#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test with ctest. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j2 --timeout 300
