#!/usr/bin/env bash
# Benchmark of the OpenAI-compatible surface, all in one run:
#  1. non-streamed POST /v1/chat/completions (API key, exact metering on) through leaky-tokens against
#     the in-process stub, and against a canned nginx upstream (provider type openai-compatible, keep-alive
#     pool), beside nginx limit_req proxying the same canned upstream; interleaved runs, medians (min–max);
#  2. streams: time to the first content chunk and the gap between chunks, direct to a streaming
#     upstream (openai_stream.py, CHUNKS chunks INTERVAL ms apart) and through leaky-tokens, at
#     concurrency 1 and 64; the difference is what the gateway adds.
#
# Usage: scripts/bench/openai.sh [--duration SEC] [--runs N] [--connections C] [--streams N]
#                                [--binary PATH] [--smoke]
# Needs: nginx, wrk, curl, python3. LT_BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
DURATION=10
RUNS=3
CONNECTIONS=64
STREAMS=256
CHUNKS=20
INTERVAL=20
BINARY="$REPO_ROOT/build/leaky-tokens"
SMOKE=0

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "openai.sh: $*" >&2; exit 2; }
log() { echo "[openai.sh] $*" >&2; }
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"

while (($#)); do
  case "$1" in
    --duration) need_int "$1" "${2-}"; DURATION="$2"; shift 2 ;;
    --runs) need_int "$1" "${2-}"; RUNS="$2"; shift 2 ;;
    --connections) need_int "$1" "${2-}"; CONNECTIONS="$2"; shift 2 ;;
    --streams) need_int "$1" "${2-}"; STREAMS="$2"; shift 2 ;;
    --binary) BINARY="$2"; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
if ((SMOKE)); then DURATION=2; RUNS=1; STREAMS=64; fi
[[ "$BINARY" = /* ]] || BINARY="$PWD/$BINARY"
for tool in nginx wrk curl python3; do command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"; done

LT_PID="" NGINX_PID="" UP_PID=""
BENCH_PID_VARS="LT_PID NGINX_PID UP_PID"
bench_workdir openai

private_binary "$BINARY" "$WORK/leaky-tokens"
LT="$WORK/leaky-tokens"

# Canned upstream + nginx proxy (one nginx), streaming upstream (python).
UPSTREAM_PORT="$(free_port)"; PROXY_PORT="$(free_port)"; STREAM_PORT="$(free_port)"; LT_PORT="$(free_port)"
mkdir -p "$WORK/nginx/tmp"
render_nginx_conf "$SCRIPT_DIR/nginx-openai.conf.in" "$WORK/nginx" "UPSTREAM_PORT=$UPSTREAM_PORT" \
  "PROXY_PORT=$PROXY_PORT" >"$WORK/nginx/nginx.conf"
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" >"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
python3 "$SCRIPT_DIR/openai_stream.py" upstream "$STREAM_PORT" "$CHUNKS" "$INTERVAL" >"$WORK/upstream.log" 2>&1 &
UP_PID=$!

mkdir -p "$WORK/data"
(cd "$WORK" && exec "$LT" serve --set "server.port=$LT_PORT" --set "storage.data-dir=$WORK/data" \
  --set log.access=false --set log.level=warn \
  --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1 \
  --set token.bucket.capacity=1000000000 --set token.bucket.leak-rate-per-second=1000000000 \
  --set token.tiers.levels.USER.quota-max-tokens=1000000000000 "${EDGE_SET[@]}" \
  --set providers.gemini.type=openai-compatible --set "providers.gemini.base-url=http://127.0.0.1:$UPSTREAM_PORT/v1" \
  --set providers.qwen.type=openai-compatible --set "providers.qwen.base-url=http://127.0.0.1:$STREAM_PORT/v1" \
  --set providers.gemini.pool.max-idle=256 --set providers.qwen.pool.max-idle=256 \
  --set token.provider.bulkhead.max-concurrent-calls=1000 --set server.max-in-flight=100000) >"$WORK/leaky-tokens.log" 2>&1 &
LT_PID=$!
wait_http "http://127.0.0.1:$LT_PORT/actuator/health" "$LT_PID" leaky-tokens || { tail -n 20 "$WORK/leaky-tokens.log" >&2; exit 1; }
LT="http://127.0.0.1:$LT_PORT"

# One user with a large allowance on each provider and an API key (not measured).
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf -X POST "$LT/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d '{"username":"bench","email":"bench@example.com","password":"bench-password-1"}' >"$WORK/user.json"
USER_ID="$(json "['userId']" <"$WORK/user.json")"; USER_TOKEN="$(json "['token']" <"$WORK/user.json")"
ROOT_TOKEN="$(curl -sf -X POST "$LT/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d '{"username":"root","password":"root-password-1"}' | json "['token']")"
for p in openai gemini qwen; do
  curl -sf -X PUT "$LT/api/v1/tokens/quota" -H "Authorization: Bearer $ROOT_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"userId\":\"$USER_ID\",\"provider\":\"$p\",\"allowanceTokens\":1000000000000}" >/dev/null
done
KEY="$(curl -sf -X POST "$LT/api/v1/auth/api-keys" -H "Authorization: Bearer $USER_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"userId\":\"$USER_ID\",\"name\":\"bench\"}" | json "['apiKey']")"

# 1. Non-streamed: interleaved runs of the three targets.
declare -A RPS P50 P99 ERR
run_wrk() {  # NAME URL MODEL
  local name=$1 url=$2 model=$3 out="$WORK/wrk-$1-$4.txt"
  LT_BENCH_KEY="$KEY" LT_BENCH_MODEL="$model" wrk -t2 -c"$CONNECTIONS" -d1s -s "$SCRIPT_DIR/openai.lua" "$url" >/dev/null 2>&1 || true
  LT_BENCH_KEY="$KEY" LT_BENCH_MODEL="$model" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPT_DIR/openai.lua" "$url" >"$out" 2>&1
  read -r rps p50 p99 non2xx sock _req <<<"$(parse_wrk "$out")"
  RPS[$name]+="$rps "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; ERR[$name]=$(( ${ERR[$name]:-0} + non2xx + sock ))
}
for run in $(seq 1 "$RUNS"); do
  log "non-streamed run $run/$RUNS"
  run_wrk nginx "http://127.0.0.1:$PROXY_PORT" canned "$run"
  run_wrk upstream "$LT" gemini/canned "$run"
  run_wrk stub "$LT" openai/gpt-4o-mini "$run"
done
row() {
  local name=$1 label=$2 r lo hi
  r="$(echo "${RPS[$name]}" | median)"; read -r lo hi <<<"$(echo "${RPS[$name]}" | minmax)"
  printf '| %s | %s (%s–%s) | %s | %s | %s |\n' "$label" "$(commas "$r")" "$(commas "$lo")" "$(commas "$hi")" \
    "$(echo "${P50[$name]}" | median)" "$(echo "${P99[$name]}" | median)" "${ERR[$name]}"
}
echo
echo "Non-streamed POST /v1/chat/completions, $RUNS × ${DURATION}s, $CONNECTIONS connections, $(nproc) cores shared with the load generator:"
echo
echo "| Target | req/s median (min–max) | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|"
row nginx "nginx limit_req → canned upstream"
row upstream "leaky-tokens → canned upstream (openai-compatible)"
row stub "leaky-tokens, stub provider"

# 2. Streams: direct vs through the gateway, concurrency 1 and 64.
echo
echo "Streams of $CHUNKS chunks ${INTERVAL} ms apart (ms; added = through the gateway − direct):"
echo
echo "| Concurrency | path | first chunk p50 | first chunk p99 | chunk gap p50 | chunk gap p99 | streams | errors |"
echo "|---|---|---|---|---|---|---|---|"
for conc in 1 64; do
  n=$STREAMS; ((conc == 1)) && n=$(( STREAMS < 50 ? STREAMS : 50 ))
  direct="$(python3 "$SCRIPT_DIR/openai_stream.py" measure "http://127.0.0.1:$STREAM_PORT/v1/chat/completions" none canned "$conc" "$n")"
  gateway="$(python3 "$SCRIPT_DIR/openai_stream.py" measure "$LT/v1/chat/completions" "$KEY" qwen/canned "$conc" "$n")"
  for pair in "direct:$direct" "gateway:$gateway"; do
    python3 -c "import json,sys; d=json.loads(sys.argv[2]); print('| %s | %s | %s | %s | %s | %s | %s | %s |' % (sys.argv[3], sys.argv[1], d['ttfc_ms_p50'], d['ttfc_ms_p99'], d['gap_ms_p50'], d['gap_ms_p99'], d['streams'], d['errors']))" \
      "${pair%%:*}" "${pair#*:}" "$conc"
  done
  python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print('| %s | **added** | %.2f | %.2f | %.2f | %.2f | | |' % (sys.argv[3], b['ttfc_ms_p50']-a['ttfc_ms_p50'], b['ttfc_ms_p99']-a['ttfc_ms_p99'], b['gap_ms_p50']-a['gap_ms_p50'], b['gap_ms_p99']-a['gap_ms_p99']))" \
    "$direct" "$gateway" "$conc"
done
echo
echo "leaky-tokens $("$WORK/leaky-tokens" version 2>/dev/null | head -n1), peak RSS $(to_mb "$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_PID/status")") MB"
