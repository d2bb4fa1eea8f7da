#!/usr/bin/env bash
# ctest openai_npm_client_test: starts `leaky-tokens serve` on a free port with a throwaway data
# directory and runs client-test.mjs with the official openai npm client against it.
# Skips (exit 77) with a visible message when node or the installed client is missing.
set -u
BIN="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED: node is not installed (the openai npm client test needs Node.js 20)"; exit 77
fi
if [ ! -d "$HERE/node_modules/openai" ]; then
  echo "SKIPPED: run 'npm ci --prefix tests/openai-client' (scripts/setup.sh does) to install the openai client"; exit 77
fi
DIR="$(mktemp -d)"
# A canned openai-compatible upstream (node) behind provider gemini: live upstream streaming.
node "$HERE/fake-upstream.mjs" >"$DIR/upstream.port" 2>"$DIR/upstream.log" &
UPID=$!
for _ in $(seq 1 50); do [ -s "$DIR/upstream.port" ] && break; sleep 0.1; done
UPORT="$(head -n1 "$DIR/upstream.port")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN" serve --set server.port="$PORT" --set server.address=127.0.0.1 --set storage.data-dir="$DIR" \
  --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1 \
  --set providers.openai.stream.chunks=10 --set providers.openai.stream.delay=50ms \
  --set providers.gemini.type=openai-compatible --set providers.gemini.base-url="http://127.0.0.1:$UPORT/v1" \
  --set log.access=false >"$DIR/serve.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" "$UPID" 2>/dev/null; wait "$PID" "$UPID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/actuator/health" >/dev/null 2>&1 && break
  sleep 0.1
done
LT_BASE_URL="http://127.0.0.1:$PORT" node "$HERE/client-test.mjs"
RC=$?
[ $RC -ne 0 ] && tail -n 30 "$DIR/serve.log"
exit $RC
