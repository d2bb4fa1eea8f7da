#!/usr/bin/env bash
# Per-request instruction budget of the consume path by stage (docs/benchmarks.md, issue 14).
# Seeds a data dir (200 users with an API key and a big quota, through the public API, natively),
# then runs `serve` on a copy of it under callgrind (one output file per thread), sends consume
# requests with wrk for SECONDS with instrumentation on, lets the background threads drain, dumps,
# and prints the stage table (callgrind_stages.py).
# Usage: scripts/bench/callgrind_consume.sh [--binary PATH] [--seconds N] [--connections C]
# Needs: valgrind (callgrind_control), wrk, curl, python3.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
BIN="$REPO_ROOT/build/leaky-tokens"; SECS=15; CONN=4
while (($#)); do
  case "$1" in
    --binary) BIN="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --connections) CONN="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--seconds N] [--connections C]" >&2; exit 2 ;;
  esac
done
WORK="$(mktemp -d /tmp/lt-callgrind.XXXXXX)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The consume benchmark's "1,000 users" settings.
serve_args() {
  SERVE_ARGS=(serve --set server.address=127.0.0.1 --set "server.port=$PORT" --set "storage.data-dir=$1"
    --set log.access=false --set log.level=warn
    --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1
    --set token.bucket.capacity=1000000 --set token.bucket.leak-rate-per-second=1000000
    --set token.tiers.levels.USER.quota-max-tokens=1000000000
    --set gateway.rate-limit.capacity=1000000000 --set gateway.rate-limit.routes.token-service.capacity=1000000000)
}
wait_ready() { for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/actuator/health" >/dev/null && return 0; sleep 0.2; done; return 1; }
mkdir -p "$WORK/seed"; serve_args "$WORK/seed"
"$BIN" "${SERVE_ARGS[@]}" >"$WORK/seed.log" 2>&1 & PID=$!
wait_ready
python3 "$SCRIPT_DIR/consume_helper.py" seed --base "http://127.0.0.1:$PORT" --users 200 --allowance 100000000 --out "$WORK/pairs.txt"
kill "$PID"; wait "$PID" || true
cp -r "$WORK/seed" "$WORK/data"; serve_args "$WORK/data"
valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$WORK/cg.out.%p" \
  "$BIN" "${SERVE_ARGS[@]}" >"$WORK/serve.log" 2>&1 & VPID=$!
wait_ready
LT_BENCH_PAIRS_FILE="$WORK/pairs.txt" wrk -t1 -c"$CONN" -d2s -s "$SCRIPT_DIR/consume.lua" "http://127.0.0.1:$PORT" >/dev/null
sleep 3
callgrind_control -i on "$VPID" >/dev/null
LT_BENCH_PAIRS_FILE="$WORK/pairs.txt" LT_BENCH_COUNTS_FILE="$WORK/counts.txt" \
  wrk -t1 -c"$CONN" -d"${SECS}s" -s "$SCRIPT_DIR/consume.lua" "http://127.0.0.1:$PORT" >"$WORK/wrk.txt"
sleep 6  # group commit, outbox relay and analytics drain
callgrind_control -d "$VPID" >/dev/null
kill "$VPID"; wait "$VPID" || true
N=$(awk '/^s 200/{print $3}' "$WORK/counts.txt")
echo "requests (all 200): $N; files in $WORK"
python3 "$SCRIPT_DIR/callgrind_stages.py" "$N" "$WORK"/cg.out.*.1-*
