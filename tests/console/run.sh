#!/usr/bin/env bash
# ctest console_browser_test: starts `leaky-tokens serve` on a free port with a throwaway data
# directory and runs console.test.mjs (playwright-core + /usr/bin/chromium). Fails (does not skip)
# when Chromium or playwright-core is missing: scripts/setup.sh installs both.
set -u
BIN="$1"
ARTIFACTS="$2"
HERE="$(cd "$(dirname "$0")" && pwd)"
CHROMIUM="${LT_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "FAIL: $CHROMIUM not found (apt-get install chromium; scripts/setup.sh does)"; exit 1; }
[ -d "$HERE/node_modules/playwright-core" ] || { echo "FAIL: run 'npm ci --prefix tests/console' (scripts/setup.sh does)"; exit 1; }
. "$HERE/../first_hour/lib.sh"
start_server
LT_BASE_URL="$URL" LT_ARTIFACTS="$ARTIFACTS" LT_ROOT_PASSWORD="$ROOT_PASSWORD" LT_CHROMIUM="$CHROMIUM" \
  node "$HERE/console.test.mjs"
RC=$?
[ $RC -ne 0 ] && tail -n 30 "$DIR/serve.log"
exit $RC
