#!/usr/bin/env bash
# CPU time of the server per request with tracing off / on (docs/operations.md, "Cost of
# observability"): for each variant, a fresh `leaky-tokens serve` (one I/O thread, access log off)
# takes `wrk -t1 -c4` for DURATION seconds on POST /api/v1/tokens/consume (API keys of 20 users,
# consume.lua) and on GET /api/v1/tokens/status; the server's utime+stime over the run divided by
# the requests wrk completed is printed per variant and run. Tracing variants post to a local sink
# (python http.server answering 200) whose CPU is not counted.
# Usage: scripts/bench/obs_cost.sh [--runs N] [--duration S] [--binary PATH] [--binary-b PATH]
#   --binary-b adds "B-tracing-off" (another build, e.g. main's, interleaved with this one's variants).
#   LT_OBS_TARGETS="consume status" (default) and LT_OBS_VARIANTS="off ratio-0 ratio-1" (default)
#   narrow a run.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
RUNS=3 DURATION=8 LT="$ROOT/build/leaky-tokens" LT_B=""
while (($#)); do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --binary) LT="$2"; shift 2 ;;
    --binary-b) LT_B="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
log() { echo "# $*" >&2; }
die() { echo "obs_cost: $*" >&2; exit 1; }
source "$SCRIPT_DIR/lib.sh"
USED_PORTS=" "
WORK="$(mktemp -d /tmp/lt-obs-cost.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

SINK_PORT="$(free_port)"
python3 - "$SINK_PORT" >/dev/null 2>&1 <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
PIDS+=($!)

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
HZ="$(getconf CLK_TCK)"

run_variant() {  # NAME BINARY SET...
  local name="$1" bin="$2"; shift 2
  local port; port="$(free_port)"
  rm -rf "$WORK/data-$name" "$WORK/pairs-$name.txt"
  "$bin" serve --set server.address=127.0.0.1 --set "server.port=$port" --set "storage.data-dir=$WORK/data-$name" \
    --set server.threads=1 --set log.access=false --set log.level=warn \
    --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1 \
    --set token.bucket.capacity=100000000 --set token.bucket.leak-rate-per-second=100000000 "${EDGE_SET[@]}" "$@" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/actuator/health" >/dev/null && break; sleep 0.1; done
  python3 "$SCRIPT_DIR/consume_helper.py" seed --base "http://127.0.0.1:$port" --users 20 --allowance 100000 \
    --out "$WORK/pairs-$name.txt" >/dev/null
  for target in ${LT_OBS_TARGETS:-consume status}; do
    local url="http://127.0.0.1:$port/api/v1/tokens/status" script=()
    if [[ $target == consume ]]; then
      url="http://127.0.0.1:$port"; script=(-s "$SCRIPT_DIR/consume.lua")
    fi
    LT_BENCH_PAIRS_FILE="$WORK/pairs-$name.txt" wrk -t1 -c4 -d1s "${script[@]}" "$url" >/dev/null 2>&1  # warm-up
    local before after out reqs
    before="$(cpu_ticks "$pid")"
    out="$(LT_BENCH_PAIRS_FILE="$WORK/pairs-$name.txt" wrk -t1 -c4 -d"${DURATION}s" "${script[@]}" "$url" 2>&1)"
    after="$(cpu_ticks "$pid")"
    reqs="$(awk '/requests in/ { print $1 }' <<<"$out")"
    local non2xx; non2xx="$(awk '/Non-2xx/ { print $NF }' <<<"$out")"
    awk -v n="$name" -v t="$target" -v r="$reqs" -v c=$((after - before)) -v hz="$HZ" -v d="$DURATION" -v e="${non2xx:-0}" \
      'BEGIN { printf "| %s | %s | %.0f req/s | %.2f µs | %d |\n", n, t, r / d, 1e6 * c / hz / r, e }'
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "| variant | request | throughput | server CPU per request | non-2xx |"
echo "|---|---|---|---|---|"
OTLP="tracing.otlp.endpoint=http://127.0.0.1:$SINK_PORT/v1/traces"
for run in $(seq "$RUNS"); do
  log "run $run of $RUNS"
  [[ -n "$LT_B" ]] && run_variant "B-tracing-off" "$LT_B"
  for v in ${LT_OBS_VARIANTS:-off ratio-0 ratio-1}; do
    case "$v" in
      off) run_variant "tracing-off" "$LT" ;;
      ratio-0) run_variant "tracing-ratio-0" "$LT" --set "$OTLP" --set tracing.sampling-ratio=0 ;;
      ratio-1) run_variant "tracing-ratio-1" "$LT" --set "$OTLP" --set tracing.sampling-ratio=1 ;;
    esac
  done
done
