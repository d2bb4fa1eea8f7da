#!/usr/bin/env bash
# Benchmark: POST /api/v1/tokens/consume through `leaky-tokens serve` (API key auth, quota, token
# leaky bucket, in-process stub provider, group-committed outbox) side by side with nginx + limit_req
# proxying the same POST to a canned nginx upstream, in the same invocation, interleaved (nginx,
# ours, nginx, ours, ...), each measured run preceded by a 1-second warm-up. Two variants:
#   "1,000 users"          keys cycling over USERS users, big bucket: (almost) everything is 200;
#   "one key (contention)" one user, bucket capacity 1000 leaking 100/s: most requests are 429.
# Then the added latency at concurrency 1 (consume vs the direct stub chat, same key), the overshoot
# check (admitted tokens vs quota and bucket, and vs what the server debited), and peak RSS.
#
# Usage: scripts/bench/consume.sh [--duration SEC] [--runs N] [--connections C] [--threads T]
#                                 [--users N] [--binary PATH] [--smoke]
# --smoke: one 2-second run of everything, no warm-up, 50 users (unless --users is given), for CI.
# LT_BENCH_KEEP=1 keeps the temp dir (nginx conf and logs, wrk outputs, counts) for inspection.
# Needs: nginx, wrk, curl, python3 (Debian: apt-get install nginx-light wrk curl python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ORIG_ARGS=("$@")

DURATION=10
RUNS=3
CONNECTIONS=64
THREADS=2
USERS=""
BINARY="$REPO_ROOT/build/leaky-tokens"
SMOKE=0
WARMUP=1
CONSUME_PATH=/api/v1/tokens/consume
CHAT_PATH=/api/v1/openai/chat
QUOTA=100000                 # allowance of every benchmark user (the USER tier's cap)
OPEN_CAPACITY=1000000        # variant "1,000 users": a bucket that never limits
OPEN_RATE=1000000
CONTENDED_CAPACITY=1000      # variant "one key": most requests are 429
CONTENDED_RATE=100
LATENCY_QUOTA=1000000000     # the latency user makes ~10k req/s at -c1: fund it beyond 100,000

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "consume.sh: $*" >&2; exit 2; }
log() { echo "[consume.sh] $*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

while (($#)); do
  case "$1" in
    --duration) need_int "$1" "${2-}"; DURATION="$2"; shift 2 ;;
    --runs) need_int "$1" "${2-}"; RUNS="$2"; shift 2 ;;
    --connections) need_int "$1" "${2-}"; CONNECTIONS="$2"; shift 2 ;;
    --threads) need_int "$1" "${2-}"; THREADS="$2"; shift 2 ;;
    --users) need_int "$1" "${2-}"; USERS="$2"; shift 2 ;;
    --binary) [[ -n "${2-}" ]] || die "--binary needs a path"; BINARY="$2"; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
if ((SMOKE)); then DURATION=2; RUNS=1; WARMUP=0; USERS="${USERS:-50}"; fi
USERS="${USERS:-1000}"
((THREADS <= CONNECTIONS)) || die "--threads ($THREADS) must not exceed --connections ($CONNECTIONS)"
[[ "$BINARY" = /* ]] || BINARY="$PWD/$BINARY"

for tool in nginx wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian: apt-get install nginx-light wrk curl python3)"
done
HELPER=(python3 "$SCRIPT_DIR/consume_helper.py")
LUA="$SCRIPT_DIR/consume.lua"

# ---------------------------------------------------------------------------------------------
# Temp dir, clean-up (kills the servers, removes the temp dir)
WORK="$(mktemp -d /tmp/lt-bench-consume.XXXXXX)"
LT_A_PID=""   # leaky-tokens with a big bucket: "1,000 users" and the latency runs
LT_B_PID=""   # leaky-tokens with the contended bucket: "one key"
NGINX_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_servers "$LT_A_PID" "$LT_B_PID" "$NGINX_PID"
  if [[ "${LT_BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ports handed out by free_port (lib.sh) so far.
USED_PORTS=" "

# ---------------------------------------------------------------------------------------------
# Private copy of the binary (the build directory may be relinked while we measure).
private_binary "$BINARY" "$WORK/leaky-tokens"
LT="$WORK/leaky-tokens"
LT_VERSION="$("$LT" version 2>/dev/null | head -n1)"

# ---------------------------------------------------------------------------------------------
# Start the two leaky-tokens instances (fresh data dirs). The bucket settings are global, hence two.
# start_lt NAME PORT CAPACITY RATE [EXTRA --set ...] -> sets STARTED_PID
start_lt() {
  local name=$1 port=$2 capacity=$3 rate=$4; shift 4
  mkdir -p "$WORK/data-$name"
  local cmd=("$LT" serve --set "server.port=$port" --set "storage.data-dir=$WORK/data-$name"
             --set log.access=false --set log.level=warn
             --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1
             --set "token.bucket.capacity=$capacity" --set "token.bucket.leak-rate-per-second=$rate"
             "${EDGE_SET[@]}" "$@")
  printf '%q ' "${cmd[@]}" >"$WORK/cmd-$name.txt"
  log "starting leaky-tokens ($name) on 127.0.0.1:$port"
  (cd "$WORK" && exec "${cmd[@]}") >"$WORK/leaky-tokens-$name.log" 2>&1 &
  STARTED_PID=$!
}
LT_A_PORT="$(free_port)"
LT_B_PORT="$(free_port)"
start_lt open "$LT_A_PORT" "$OPEN_CAPACITY" "$OPEN_RATE" \
  --set "token.tiers.levels.USER.quota-max-tokens=$LATENCY_QUOTA"
LT_A_PID=$STARTED_PID
start_lt contended "$LT_B_PORT" "$CONTENDED_CAPACITY" "$CONTENDED_RATE"
LT_B_PID=$STARTED_PID
for pair in "open $LT_A_PORT $LT_A_PID" "contended $LT_B_PORT $LT_B_PID"; do
  read -r name port pid <<<"$pair"
  if ! wait_http "http://127.0.0.1:$port/actuator/health" "$pid" "leaky-tokens ($name)"; then
    tail -n 20 "$WORK/leaky-tokens-$name.log" >&2 || true
    exit 1
  fi
done
LT_A_RSS_IDLE_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_A_PID/status")"
LT_A="http://127.0.0.1:$LT_A_PORT"
LT_B="http://127.0.0.1:$LT_B_PORT"

# ---------------------------------------------------------------------------------------------
# Seed through the public API (not measured): USERS users with one API key and QUOTA tokens each on
# the big-bucket instance, one latency user (LATENCY_QUOTA tokens) there too, one user on the
# contended instance. Files: one "userId apiKey" line per user.
PAIRS_USERS="$WORK/pairs-users.txt"
PAIRS_LATENCY="$WORK/pairs-latency.txt"
PAIRS_ONE="$WORK/pairs-one.txt"
seed_start=$SECONDS
"${HELPER[@]}" seed --base "$LT_A" --users "$USERS" --allowance "$QUOTA" --out "$PAIRS_USERS" \
  || die "seeding $USERS users failed"
"${HELPER[@]}" seed --base "$LT_A" --users 1 --allowance "$LATENCY_QUOTA" --out "$PAIRS_LATENCY" \
  --name-prefix bench-latency || die "seeding the latency user failed"
"${HELPER[@]}" seed --base "$LT_B" --users 1 --allowance "$QUOTA" --out "$PAIRS_ONE" \
  || die "seeding the contended user failed"
SEED_SECONDS=$((SECONDS - seed_start))
log "users ready in $SEED_SECONDS s"

# ---------------------------------------------------------------------------------------------
# Start nginx (reference): conf generated from the template into the temp prefix.
NGX_PREFIX="$WORK/nginx"
mkdir -p "$NGX_PREFIX/tmp" "$NGX_PREFIX/logs"
NGX_OPEN_PORT="$(free_port)"
NGX_CONTENDED_PORT="$(free_port)"
NGX_UPSTREAM_PORT="$(free_port)"
NGX_CONF="$NGX_PREFIX/nginx.conf"
render_nginx_conf "$SCRIPT_DIR/nginx-consume.conf.in" "$NGX_PREFIX" \
  "OPEN_PORT=$NGX_OPEN_PORT" "CONTENDED_PORT=$NGX_CONTENDED_PORT" "UPSTREAM_PORT=$NGX_UPSTREAM_PORT" \
  "RATE=$CONTENDED_RATE" "BURST=$CONTENDED_CAPACITY" >"$NGX_CONF"
log "starting nginx: proxies 127.0.0.1:$NGX_OPEN_PORT (open), :$NGX_CONTENDED_PORT (contended) -> upstream :$NGX_UPSTREAM_PORT"
nginx -c "$NGX_CONF" -p "$NGX_PREFIX/" >"$NGX_PREFIX/stderr.log" 2>&1 &
NGINX_PID=$!
# GET on an exact POST-only location still answers 200 (`return 200` ignores the method). The
# contended proxy is not probed with GET here: that would spend from its bucket (harmless anyway).
if ! wait_http "http://127.0.0.1:$NGX_UPSTREAM_PORT$CONSUME_PATH" "$NGINX_PID" nginx \
   || ! wait_http "http://127.0.0.1:$NGX_OPEN_PORT$CONSUME_PATH" "$NGINX_PID" nginx; then
  cat "$NGX_PREFIX/stderr.log" "$NGX_PREFIX/error.log" >&2 2>/dev/null || true
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# Probes: one POST to each target must be 200 with a JSON body; admitted probes are counted (they
# debit the quota like any request). probe NAME URL PAIRS_FILE MODE [COUNTS_FILE]
declare -A BODY_BYTES
mkdir -p "$WORK/counts-open" "$WORK/counts-latency" "$WORK/counts-contended" "$WORK/counts-nginx"
probe() {
  local name=$1 url=$2 pairs=$3 mode=$4 counts=${5-} user_id key body out="$WORK/probe-$1.json" code
  read -r user_id key <"$pairs"
  if [[ "$mode" == chat ]]; then body='{"prompt":"u0"}'
  else body="{\"userId\":\"$user_id\",\"provider\":\"openai\",\"tokens\":1,\"prompt\":\"u0\"}"; fi
  code="$(curl -s -o "$out" -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
          -H "X-Api-Key: $key" -d "$body" "$url" || true)"
  if [[ -n "$counts" && "$code" == 200 ]]; then printf 'u 0 1\ns 200 1\n' >"$counts"; fi
  [[ "$code" == 200 ]] || { log "probe POST $url answered '$code'"; cat "$out" >&2 2>/dev/null || true; exit 1; }
  BODY_BYTES[$name]="$(wc -c <"$out")"
}
probe ours-open "$LT_A$CONSUME_PATH" "$PAIRS_USERS" consume "$WORK/counts-open/probe.txt"
probe ours-latency "$LT_A$CONSUME_PATH" "$PAIRS_LATENCY" consume "$WORK/counts-latency/probe.txt"
probe ours-chat "$LT_A$CHAT_PATH" "$PAIRS_LATENCY" chat
probe nginx-open "http://127.0.0.1:$NGX_OPEN_PORT$CONSUME_PATH" "$PAIRS_USERS" consume

# ---------------------------------------------------------------------------------------------
# wrk helpers

# parse_wrk FILE -> "req_per_s p50_ms p99_ms non2xx socket_errors requests"
# count_200 FILE -> the number of 200s consume.lua counted (its "lt-counts:" line)
count_200() { sed -n 's/^lt-counts: 200=\([0-9]*\).*/\1/p' "$1"; }
# count_status FILE CODE -> the number of responses with that status (0 if none)
count_status() { local n; n="$(grep -o " status$2=[0-9]*" "$1" | cut -d= -f2)"; echo "${n:-0}"; }

# The machine is shared: measure how much CPU went to processes other than wrk and the servers
# during each measured run. cpu_snapshot prints "busy total benchmark" in jiffies.
BENCH_PIDS=()
BENCH_PIDS=("$LT_A_PID" "$LT_B_PID" "$NGINX_PID")
for st in /proc/[0-9]*/stat; do
  awk -v pp="$NGINX_PID" '{ sub(/^.*\) /, ""); exit !($2 == pp) }' "$st" 2>/dev/null \
    && BENCH_PIDS+=("$(basename "$(dirname "$st")")")
done

declare -A RPS P50 P99 NON2XX SOCKERR OK200 R429 REQS
OTHER_CPU=""
INVOCATIONS_OPEN=0; INVOCATIONS_LATENCY=0; INVOCATIONS_CONTENDED=0

# measure KEY URL PAIRS MODE THREADS CONNECTIONS COUNTS_DIR RUN: warm-up, then the measured run.
# Every invocation against leaky-tokens' consume writes its admitted counts to COUNTS_DIR.
measure() {
  local key=$1 url=$2 pairs=$3 mode=$4 t=$5 c=$6 counts_dir=$7 run=$8 out other rps p50 p99 non2xx sock req
  export LT_BENCH_PAIRS_FILE="$pairs" LT_BENCH_MODE="$mode"
  if ((WARMUP > 0)); then
    LT_BENCH_COUNTS_FILE="${counts_dir:+$counts_dir/warm-$run.txt}" \
      wrk -t"$t" -c"$c" -d"${WARMUP}s" -s "$LUA" "$url" >"$WORK/warm-$key-$run.txt" 2>&1 \
      || { cat "$WORK/warm-$key-$run.txt" >&2; die "wrk warm-up failed against $url"; }
  fi
  out="$WORK/wrk-$key-$run.txt"
  cpu_before="$(cpu_snapshot)"
  LT_BENCH_COUNTS_FILE="${counts_dir:+$counts_dir/run-$run.txt}" \
    wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s "$LUA" "$url" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk failed against $url"; }
  other="$(other_cpu_pct "$cpu_before" "$(cpu_snapshot)")"
  OTHER_CPU+="$other "
  read -r rps p50 p99 non2xx sock req < <(parse_wrk "$out") || true
  if [[ "$rps" == PARSE_ERROR ]]; then cat "$out" >&2; die "could not parse wrk output ($key, run $run)"; fi
  RPS[$key]+="$rps "; P50[$key]+="$p50 "; P99[$key]+="$p99 "
  NON2XX[$key]=$((${NON2XX[$key]:-0} + non2xx)); SOCKERR[$key]=$((${SOCKERR[$key]:-0} + sock))
  OK200[$key]=$((${OK200[$key]:-0} + $(count_200 "$out"))); R429[$key]=$((${R429[$key]:-0} + $(count_status "$out" 429)))
  REQS[$key]=$((${REQS[$key]:-0} + req))
  log "run $run/$RUNS $key: $rps req/s, p50 $p50 ms, p99 $p99 ms, $req requests, 200s $(count_200 "$out"), non-2xx $non2xx, socket errors $sock, other processes ${other}% CPU"
  for pid in "$LT_A_PID" "$LT_B_PID"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK"/leaky-tokens-*.log >&2; die "leaky-tokens died during the run"; }
  done
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the run"
}

uptime_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu_before="$(cpu_snapshot)"; sleep 1
other_idle="$(other_cpu_pct "$cpu_before" "$(cpu_snapshot)")"
if ((other_idle > 10)); then
  log "warning: other processes use ${other_idle}% of the CPU before the runs: the numbers will be skewed"
fi
PER_INVOCATION=$((WARMUP > 0 ? 2 : 1))

# Variant 1: USERS users, big bucket.
for run in $(seq "$RUNS"); do
  measure nginx-open "http://127.0.0.1:$NGX_OPEN_PORT$CONSUME_PATH" "$PAIRS_USERS" consume \
    "$THREADS" "$CONNECTIONS" "" "$run"
  measure ours-open "$LT_A$CONSUME_PATH" "$PAIRS_USERS" consume "$THREADS" "$CONNECTIONS" \
    "$WORK/counts-open" "$run"
  INVOCATIONS_OPEN=$((INVOCATIONS_OPEN + PER_INVOCATION))
done

# Added latency at concurrency 1: consume vs the direct stub chat, same key, interleaved.
for run in $(seq "$RUNS"); do
  measure lat-consume "$LT_A$CONSUME_PATH" "$PAIRS_LATENCY" consume 1 1 "$WORK/counts-latency" "$run"
  measure lat-chat "$LT_A$CHAT_PATH" "$PAIRS_LATENCY" chat 1 1 "" "$run"
  INVOCATIONS_LATENCY=$((INVOCATIONS_LATENCY + PER_INVOCATION))
done
LT_A_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_A_PID/status")"
LT_A_RSS_END_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_A_PID/status")"

# Variant 2: one key, contended bucket. The phase's elapsed time bounds what the bucket may admit.
CONTENDED_START="$EPOCHREALTIME"
probe ours-contended "$LT_B$CONSUME_PATH" "$PAIRS_ONE" consume "$WORK/counts-contended/probe.txt"
for run in $(seq "$RUNS"); do
  measure nginx-contended "http://127.0.0.1:$NGX_CONTENDED_PORT$CONSUME_PATH" "$PAIRS_ONE" consume \
    "$THREADS" "$CONNECTIONS" "$WORK/counts-nginx" "$run"
  measure ours-contended "$LT_B$CONSUME_PATH" "$PAIRS_ONE" consume "$THREADS" "$CONNECTIONS" \
    "$WORK/counts-contended" "$run"
  INVOCATIONS_CONTENDED=$((INVOCATIONS_CONTENDED + PER_INVOCATION))
done
CONTENDED_SECONDS="$(awk -v a="$CONTENDED_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
LT_B_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_B_PID/status")"

# ---------------------------------------------------------------------------------------------
# Overshoot and server cross-check, after wrk has exited and in-flight requests have settled.
sleep 1
status=0
CHECKS=""
run_check() {
  local out rc=0
  out="$("${HELPER[@]}" check "$@")" || rc=$?
  ((rc == 0)) || { echo "$out" >&2; die "the overshoot check could not run"; }
  CHECKS+="$(grep -v '^STATUS ' <<<"$out")"$'\n'
  local st; st="$(grep '^STATUS ' <<<"$out" | sed 's/^STATUS //')"
  if [[ "$st" != ok ]]; then echo "FAIL: $st" >&2; status=1; fi
}
run_check --base "$LT_A" --pairs "$PAIRS_USERS" --counts "$WORK/counts-open/*.txt" --funded "$QUOTA" \
  --label "$(commas "$USERS") users" --inflight $((CONNECTIONS * INVOCATIONS_OPEN))
run_check --base "$LT_A" --pairs "$PAIRS_LATENCY" --counts "$WORK/counts-latency/*.txt" \
  --funded "$LATENCY_QUOTA" --label "latency user (-c1)" --inflight "$INVOCATIONS_LATENCY"
run_check --base "$LT_B" --pairs "$PAIRS_ONE" --counts "$WORK/counts-contended/*.txt" --funded "$QUOTA" \
  --label "one key (contention)" --inflight $((CONNECTIONS * INVOCATIONS_CONTENDED)) \
  --capacity "$CONTENDED_CAPACITY" --rate "$CONTENDED_RATE" --phase-seconds "$CONTENDED_SECONDS"
# nginx's limit_req admits at most burst + 1 at once: informational bound for the reference.
NGINX_ADMITTED="$(cat "$WORK"/counts-nginx/*.txt | awk '$1 == "s" && $2 == 200 { n += $3 } END { print n + 0 }')"
NGINX_BOUND="$(awk -v c="$CONTENDED_CAPACITY" -v r="$CONTENDED_RATE" -v t="$CONTENDED_SECONDS" \
               'BEGIN { printf "%.0f", c + 1 + r * (t + 1) }')"

# ---------------------------------------------------------------------------------------------
# Report (stdout: markdown; progress went to stderr)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.1f%%", 100 * a / b }'; }
cmd_str="scripts/bench/consume.sh"
((${#ORIG_ARGS[@]})) && cmd_str+="$(printf ' %q' "${ORIG_ARGS[@]}")"

# row VARIANT CONFIG KEY NGINX_KEY
row() {
  local variant=$1 config=$2 key=$3 ref=$4 med lo hi p50 p99 ratio
  med="$(median <<<"${RPS[$key]}")"; read -r lo hi < <(minmax <<<"${RPS[$key]}")
  p50="$(median <<<"${P50[$key]}")"; p99="$(median <<<"${P99[$key]}")"
  if [[ "$key" == "$ref" ]]; then
    ratio="1.00 (reference)"
  else
    ratio="$(awk -v a="$med" -v b="$(median <<<"${RPS[$ref]}")" -v c="$p99" -v d="$(median <<<"${P99[$ref]}")" \
             'BEGIN { printf "**%.2f** (p99 %.2f×)", a / b, c / d }')"
  fi
  printf '| %s | %s | %s (%s–%s) | %.2f | %.2f | %s |\n' "$variant" "$config" "$(commas "$med")" \
    "$(commas "$lo")" "$(commas "$hi")" "$p50" "$p99" "$ratio"
}
USERS_LABEL="$(commas "$USERS") users"
echo
echo "### POST $CONSUME_PATH — leaky-tokens vs nginx limit_req proxy"
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, keep-alive, tokens=1 per request;" \
     "median of $RUNS run(s) (min–max), interleaved nginx/ours, ${WARMUP}s warm-up before each run;" \
     "$(nproc) cores shared by wrk and the servers. Ratio: our median req/s ÷ nginx's (and our p99 ÷ nginx's)."
echo
echo "| variant | config | median req/s (min–max) | p50 ms | p99 ms | ratio ours/nginx |"
echo "|---|---|---:|---:|---:|---:|"
row "$USERS_LABEL" "nginx limit_req (never rejects) → canned upstream; $(pct "${OK200[nginx-open]}" "${REQS[nginx-open]}") 200" nginx-open nginx-open
row "$USERS_LABEL" "leaky-tokens: bucket $(commas "$OPEN_CAPACITY") / $(commas "$OPEN_RATE") per s, quota $(commas "$QUOTA") each; $(pct "${OK200[ours-open]}" "${REQS[ours-open]}") 200" ours-open nginx-open
row "one key (contention)" "nginx limit_req rate=${CONTENDED_RATE}r/s burst=$CONTENDED_CAPACITY nodelay → canned upstream; $(pct "${OK200[nginx-contended]}" "${REQS[nginx-contended]}") 200, rest 429" nginx-contended nginx-contended
row "one key (contention)" "leaky-tokens: bucket $CONTENDED_CAPACITY / $CONTENDED_RATE per s, quota $(commas "$QUOTA"); $(pct "${OK200[ours-contended]}" "${REQS[ours-contended]}") 200, rest 429" ours-contended nginx-contended
echo
us() { awk -v m="$1" 'BEGIN { printf "%.0f", m * 1000 }'; }
LC50="$(median <<<"${P50[lat-consume]}")"; LC99="$(median <<<"${P99[lat-consume]}")"
LH50="$(median <<<"${P50[lat-chat]}")"; LH99="$(median <<<"${P99[lat-chat]}")"
echo "- added latency at concurrency 1 (\`wrk -t1 -c1 -d${DURATION}s\`, one key, big bucket; medians of $RUNS run(s)):" \
     "consume p50 $(us "$LC50") µs / p99 $(us "$LC99") µs ($(commas "$(median <<<"${RPS[lat-consume]}")") req/s);" \
     "direct stub chat p50 $(us "$LH50") µs / p99 $(us "$LH99") µs ($(commas "$(median <<<"${RPS[lat-chat]}")") req/s);" \
     "**added p50 $(awk -v a="$LC50" -v b="$LH50" 'BEGIN { printf "%.0f", (a - b) * 1000 }') µs, p99 $(awk -v a="$LC99" -v b="$LH99" 'BEGIN { printf "%.0f", (a - b) * 1000 }') µs**"
echo "- leaky-tokens peak RSS (VmHWM) after all runs: **$(to_mb "$LT_A_HWM_KB") MB** ($USERS_LABEL instance; idle after start $(to_mb "$LT_A_RSS_IDLE_KB") MB, at end $(to_mb "$LT_A_RSS_END_KB") MB); one-key instance $(to_mb "$LT_B_HWM_KB") MB"
echo "- overshoot check (must be 0) and server cross-check (quota debited vs 200s counted by wrk; wrk drops in-flight responses when it stops, which can only make the server's figure larger):"
printf '%s' "$CHECKS" | sed 's/^/  /'
echo "  - nginx reference, one key: $(commas "$NGINX_ADMITTED") admitted in total ≤ $(commas "$NGINX_BOUND") (burst + 1 + rate × (elapsed + 1 s)), for comparison"
echo "- response body bytes (probe): leaky-tokens consume ${BODY_BYTES[ours-open]}, nginx canned ${BODY_BYTES[nginx-open]}, leaky-tokens stub chat ${BODY_BYTES[ours-chat]}"
echo "- setup (not measured): $USERS_LABEL + 2 registered, keyed and funded in $SEED_SECONDS s"
GIT_REV="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "- binary: $LT_VERSION ($BINARY, tree $GIT_REV); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(nproc) cores; loadavg before: $uptime_before"
other_max="$(tr ' ' '\n' <<<"$OTHER_CPU" | grep -v '^$' | sort -n | tail -n1)"
echo "- CPU taken by other processes during the measured runs (% of the machine, in run order): ${OTHER_CPU% } (${other_idle}% just before)$( ((other_max > 10)) && echo " — **noisy: other work competed with the benchmark**")"
echo "- command: \`$cmd_str\`"
echo "- wrk per run: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/bench/consume.lua <url>\` (latency: \`-t1 -c1\`)"
echo
for key in nginx-open ours-open nginx-contended ours-contended lat-consume lat-chat; do
  echo "errors: $key: non-2xx responses ${NON2XX[$key]}; socket errors ${SOCKERR[$key]}"
done
if ((${NON2XX[ours-open]} + ${NON2XX[lat-consume]} + ${NON2XX[lat-chat]} > 0)); then
  echo "FAIL: leaky-tokens answered non-2xx responses where everything should be 200" >&2; status=1
fi
if ((${NON2XX[nginx-open]} > 0)); then
  echo "FAIL: the nginx reference answered non-2xx responses (limit_req rejected?): comparison invalid" >&2; status=1
fi
if ((${OK200[ours-contended]} + ${R429[ours-contended]} != ${REQS[ours-contended]})); then
  echo "FAIL: one key: leaky-tokens answered statuses other than 200 and 429 (see the wrk outputs)" >&2; status=1
fi
for key in "${!SOCKERR[@]}"; do
  ((SOCKERR[$key] == 0)) || echo "warning: $key had ${SOCKERR[$key]} socket errors (connect/read/write/timeout)" >&2
done
exit "$status"
