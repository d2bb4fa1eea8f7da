#!/usr/bin/env bash
# Benchmark: POST /api/v1/openai/chat through `leaky-tokens serve` (the in-process stub provider
# answers) side by side with nginx + limit_req proxying the same POST to a canned nginx upstream.
# Both run in the same invocation, interleaved (nginx, ours, nginx, ours, ...), each measured run
# preceded by a 1-second warm-up; prints one markdown table with medians (min–max) of the runs.
#
# Usage: scripts/bench/chat.sh [--duration SEC] [--runs N] [--connections C] [--threads T]
#                              [--binary PATH] [--ceiling] [--smoke]
# LT_BENCH_KEEP=1 keeps the temp dir (nginx conf and logs, wrk outputs) for inspection.
# Needs: nginx, wrk, curl (Debian: apt-get install nginx-light wrk curl). See scripts/bench/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ORIG_ARGS=("$@")

DURATION=10
RUNS=3
CONNECTIONS=64
THREADS=2
BINARY="$REPO_ROOT/build/leaky-tokens"
CEILING=0
SMOKE=0
WARMUP=1
CHAT_PATH=/api/v1/openai/chat

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "chat.sh: $*" >&2; exit 2; }
log() { echo "[chat.sh] $*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

while (($#)); do
  case "$1" in
    --duration) need_int "$1" "${2-}"; DURATION="$2"; shift 2 ;;
    --runs) need_int "$1" "${2-}"; RUNS="$2"; shift 2 ;;
    --connections) need_int "$1" "${2-}"; CONNECTIONS="$2"; shift 2 ;;
    --threads) need_int "$1" "${2-}"; THREADS="$2"; shift 2 ;;
    --binary) [[ -n "${2-}" ]] || die "--binary needs a path"; BINARY="$2"; shift 2 ;;
    --ceiling) CEILING=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
if ((SMOKE)); then DURATION=2; RUNS=1; WARMUP=0; fi
((THREADS <= CONNECTIONS)) || die "--threads ($THREADS) must not exceed --connections ($CONNECTIONS)"
[[ "$BINARY" = /* ]] || BINARY="$PWD/$BINARY"

for tool in nginx wrk curl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian: apt-get install nginx-light wrk curl)"
done

# ---------------------------------------------------------------------------------------------
# Temp dir, clean-up (kills both servers, removes the temp dir)
LT_PID=""
NGINX_PID=""
BENCH_PID_VARS="LT_PID NGINX_PID"
bench_workdir chat

# ---------------------------------------------------------------------------------------------
# Private copy of the binary (the build directory may be relinked while we measure).
private_binary "$BINARY" "$WORK/leaky-tokens"
LT="$WORK/leaky-tokens"
LT_VERSION="$("$LT" version 2>/dev/null | head -n1)"

# ---------------------------------------------------------------------------------------------
# Start leaky-tokens
LT_PORT="$(free_port)"
mkdir -p "$WORK/data"
LT_CMD=("$LT" serve --set "server.port=$LT_PORT" --set "storage.data-dir=$WORK/data"
        --set log.access=false --set log.level=warn "${EDGE_SET[@]}")
log "starting leaky-tokens on 127.0.0.1:$LT_PORT"
(cd "$WORK" && exec "${LT_CMD[@]}") >"$WORK/leaky-tokens.log" 2>&1 &
LT_PID=$!
if ! wait_http "http://127.0.0.1:$LT_PORT/actuator/health" "$LT_PID" leaky-tokens; then
  tail -n 20 "$WORK/leaky-tokens.log" >&2 || true
  exit 1
fi
LT_RSS_IDLE_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_PID/status")"

# ---------------------------------------------------------------------------------------------
# Seed API keys through the public API: USERS users × KEYS_PER_USER keys (the default per-user limit
# is 100). Both sides get the same 1,000 keys. A binary without the auth module (register is 404)
# gets synthetic keys instead (bench-key-0000 ...).
USERS=10
KEYS_PER_USER=100
KEYS_FILE="$WORK/api-keys.txt"
LT_BASE="http://127.0.0.1:$LT_PORT"
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# seed_user U: register bench-user-U, create KEYS_PER_USER keys (one curl process, keep-alive),
# write them to $WORK/keys-U.txt. Exit 3: no auth module.
seed_user() {
  local u=$1 reg="$WORK/register-$1.json" cfg="$WORK/create-keys-$1.curlrc" out="$WORK/create-keys-$1.out"
  local code user_id token k n
  code="$(curl -s -o "$reg" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
          -d "{\"username\":\"bench-user-$u\",\"email\":\"bench-user-$u@localhost\",\"password\":\"bench-password-$u\"}" \
          "$LT_BASE/api/v1/auth/register" || true)"
  [[ "$code" == 404 ]] && return 3
  [[ "$code" == 201 ]] || { log "register bench-user-$u answered '$code'"; cat "$reg" >&2; return 1; }
  user_id="$(json_field userId <"$reg")"; token="$(json_field token <"$reg")"
  [[ -n "$user_id" && -n "$token" ]] || { log "cannot read userId/token from the register answer"; cat "$reg" >&2; return 1; }
  : >"$cfg"
  for k in $(seq "$KEYS_PER_USER"); do
    ((k == 1)) || echo "next" >>"$cfg"
    printf '%s\n' "url = \"$LT_BASE/api/v1/auth/api-keys\"" "silent" "max-time = 10" \
      "header = \"Content-Type: application/json\"" "header = \"Authorization: Bearer $token\"" \
      "data = \"{\\\"userId\\\":\\\"$user_id\\\",\\\"name\\\":\\\"bench-$k\\\"}\"" \
      "write-out = \"\\n\"" >>"$cfg"
  done
  curl -K "$cfg" >"$out" 2>&1 || true
  grep -o '"apiKey":"[^"]*"' "$out" | cut -d'"' -f4 >"$WORK/keys-$u.txt" || true
  n=$(wc -l <"$WORK/keys-$u.txt")
  ((n == KEYS_PER_USER)) || { log "bench-user-$u: expected $KEYS_PER_USER API keys, got $n"; head -c 2000 "$out" >&2; return 1; }
}
seed_start=$SECONDS
seed_pids=()
for u in $(seq "$USERS"); do seed_user "$u" & seed_pids+=($!); done
seed_rc=0
for pid in "${seed_pids[@]}"; do
  rc=0; wait "$pid" || rc=$?
  ((rc > seed_rc)) && seed_rc=$rc
done
if ((seed_rc == 3)); then
  log "no auth module (register is 404): using synthetic API keys"
  for k in $(seq 0 $((USERS * KEYS_PER_USER - 1))); do printf 'bench-key-%04d\n' "$k"; done >"$KEYS_FILE"
elif ((seed_rc != 0)); then
  exit 1
else
  for u in $(seq "$USERS"); do cat "$WORK/keys-$u.txt"; done >"$KEYS_FILE"
fi
N_KEYS=$(wc -l <"$KEYS_FILE")
log "$N_KEYS API keys ready in $((SECONDS - seed_start)) s"
export LT_BENCH_KEYS_FILE="$KEYS_FILE"

# ---------------------------------------------------------------------------------------------
# Start nginx (reference): conf generated from the template into the temp prefix.
NGX_PREFIX="$WORK/nginx"
mkdir -p "$NGX_PREFIX/tmp" "$NGX_PREFIX/logs"
NGX_PROXY_PORT="$(free_port)"
NGX_UPSTREAM_PORT="$(free_port)"
NGX_CONF="$NGX_PREFIX/nginx.conf"
render_nginx_conf "$SCRIPT_DIR/nginx-chat.conf.in" "$NGX_PREFIX" \
  "PROXY_PORT=$NGX_PROXY_PORT" "UPSTREAM_PORT=$NGX_UPSTREAM_PORT" >"$NGX_CONF"
log "starting nginx: proxy 127.0.0.1:$NGX_PROXY_PORT -> upstream 127.0.0.1:$NGX_UPSTREAM_PORT"
nginx -c "$NGX_CONF" -p "$NGX_PREFIX/" >"$NGX_PREFIX/stderr.log" 2>&1 &
NGINX_PID=$!
# GET on an exact POST-only location still answers 200 (`return 200` ignores the method).
if ! wait_http "http://127.0.0.1:$NGX_UPSTREAM_PORT$CHAT_PATH" "$NGINX_PID" nginx \
   || ! wait_http "http://127.0.0.1:$NGX_PROXY_PORT$CHAT_PATH" "$NGINX_PID" nginx; then
  cat "$NGX_PREFIX/stderr.log" "$NGX_PREFIX/error.log" >&2 2>/dev/null || true
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# Configurations: name | URL
CFG_NAMES=("nginx limit_req proxy → canned nginx upstream" "leaky-tokens → in-process stub")
CFG_KEYS=(nginx ours)
CFG_URLS=("http://127.0.0.1:$NGX_PROXY_PORT$CHAT_PATH" "http://127.0.0.1:$LT_PORT$CHAT_PATH")
if ((CEILING)); then
  CFG_NAMES+=("ceiling: canned nginx upstream direct (static return 200)")
  CFG_KEYS+=(ceiling)
  CFG_URLS+=("http://127.0.0.1:$NGX_UPSTREAM_PORT$CHAT_PATH")
fi

# Sanity check: one POST to each must be 200 with a JSON body; record body sizes.
declare -A BODY_BYTES
for i in "${!CFG_KEYS[@]}"; do
  out="$WORK/probe-${CFG_KEYS[$i]}.json"
  code="$(curl -s -o "$out" -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
          -H "X-Api-Key: $(head -n1 "$KEYS_FILE")" -d '{"prompt":"Hello from the benchmark"}' "${CFG_URLS[$i]}" || true)"
  [[ "$code" == 200 ]] || { log "probe POST ${CFG_URLS[$i]} answered '$code'"; cat "$out" >&2 2>/dev/null || true; exit 1; }
  BODY_BYTES[${CFG_KEYS[$i]}]="$(wc -c <"$out")"
done

# ---------------------------------------------------------------------------------------------
# wrk runs
WRK_ARGS=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPT_DIR/chat.lua")

# parse_wrk FILE -> "req_per_s p50_ms p99_ms non2xx socket_errors requests"

# The machine is shared: measure how much CPU went to processes other than wrk and the two servers
# during each measured run (builds, tests...). cpu_snapshot prints "busy total benchmark" in jiffies:
# machine-wide busy and total time from /proc/stat, and the CPU time of leaky-tokens, the nginx
# processes and this script's waited-for children (wrk, once it has exited).
BENCH_PIDS=()
# other_cpu_pct "BEFORE" "AFTER" -> percent of the machine's capacity used by other processes

declare -A RPS P50 P99 NON2XX SOCKERR
OTHER_CPU=""
WARM_NON2XX=0
for key in "${CFG_KEYS[@]}"; do RPS[$key]=""; P50[$key]=""; P99[$key]=""; NON2XX[$key]=0; SOCKERR[$key]=0; done

BENCH_PIDS=("$LT_PID" "$NGINX_PID")
for st in /proc/[0-9]*/stat; do
  awk -v pp="$NGINX_PID" '{ sub(/^.*\) /, ""); exit !($2 == pp) }' "$st" 2>/dev/null \
    && BENCH_PIDS+=("$(basename "$(dirname "$st")")")
done
uptime_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu_before="$(cpu_snapshot)"; sleep 1
other_idle="$(other_cpu_pct "$cpu_before" "$(cpu_snapshot)")"
if ((other_idle > 10)); then
  log "warning: other processes use ${other_idle}% of the CPU before the runs: the numbers will be skewed"
fi
for run in $(seq "$RUNS"); do
  for i in "${!CFG_KEYS[@]}"; do
    key="${CFG_KEYS[$i]}"; url="${CFG_URLS[$i]}"
    if ((WARMUP > 0)); then
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$SCRIPT_DIR/chat.lua" "$url" >"$WORK/warm.txt" 2>&1 \
        || { cat "$WORK/warm.txt" >&2; die "wrk warm-up failed against $url"; }
      if [[ "$key" == ours ]]; then
        w="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WORK/warm.txt")"
        WARM_NON2XX=$((WARM_NON2XX + ${w:-0}))
      fi
    fi
    out="$WORK/wrk-$key-$run.txt"
    cpu_before="$(cpu_snapshot)"
    wrk "${WRK_ARGS[@]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed against $url"; }
    other="$(other_cpu_pct "$cpu_before" "$(cpu_snapshot)")"
    OTHER_CPU+="$other "
    read -r rps p50 p99 non2xx sock req < <(parse_wrk "$out") || true
    if [[ "$rps" == PARSE_ERROR ]]; then cat "$out" >&2; die "could not parse wrk output ($key, run $run)"; fi
    RPS[$key]+="$rps "; P50[$key]+="$p50 "; P99[$key]+="$p99 "
    NON2XX[$key]=$((NON2XX[$key] + non2xx)); SOCKERR[$key]=$((SOCKERR[$key] + sock))
    log "run $run/$RUNS $key: $rps req/s, p50 $p50 ms, p99 $p99 ms, $req requests, non-2xx $non2xx, socket errors $sock, other processes ${other}% CPU"
    kill -0 "$LT_PID" 2>/dev/null || { tail -n 20 "$WORK/leaky-tokens.log" >&2; die "leaky-tokens died during the run"; }
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the run"
  done
done
LT_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_PID/status")"
LT_RSS_END_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_PID/status")"

# ---------------------------------------------------------------------------------------------
# Report (stdout: markdown; progress went to stderr)

KEY_KIND="API keys created through the auth API"
[[ "$(head -n1 "$KEYS_FILE")" == bench-key-* ]] && KEY_KIND="synthetic keys, no auth module"
NGINX_MED="$(median <<<"${RPS[nginx]}")"
OURS_MED="$(median <<<"${RPS[ours]}")"
cmd_str="scripts/bench/chat.sh"
((${#ORIG_ARGS[@]})) && cmd_str+="$(printf ' %q' "${ORIG_ARGS[@]}")"

echo
echo "### POST $CHAT_PATH — leaky-tokens vs nginx limit_req proxy"
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, keep-alive, $(commas "$N_KEYS") distinct X-Api-Key values ($KEY_KIND);" \
     "median of $RUNS run(s) (min–max), interleaved, ${WARMUP}s warm-up before each run."
echo
echo "| configuration | median req/s (min–max) | p50 ms | p99 ms | ratio ours/nginx (throughput) |"
echo "|---|---:|---:|---:|---:|"
for i in "${!CFG_KEYS[@]}"; do
  key="${CFG_KEYS[$i]}"
  med="$(median <<<"${RPS[$key]}")"; read -r lo hi < <(minmax <<<"${RPS[$key]}")
  p50="$(median <<<"${P50[$key]}")"; p99="$(median <<<"${P99[$key]}")"
  case "$key" in
    nginx) ratio="1.00 (reference)" ;;
    ours) ratio="$(awk -v a="$OURS_MED" -v b="$NGINX_MED" 'BEGIN { printf "**%.2f**", a / b }')" ;;
    *) ratio="$(awk -v a="$med" -v b="$NGINX_MED" 'BEGIN { printf "(%.2f× nginx proxy)", a / b }')" ;;
  esac
  printf '| %s | %s (%s–%s) | %.2f | %.2f | %s |\n' "${CFG_NAMES[$i]}" "$(commas "$med")" \
    "$(commas "$lo")" "$(commas "$hi")" "$p50" "$p99" "$ratio"
done
echo
echo "- leaky-tokens peak RSS (VmHWM): $(to_mb "$LT_HWM_KB") MB (RSS idle after start $(to_mb "$LT_RSS_IDLE_KB") MB, at end $(to_mb "$LT_RSS_END_KB") MB)"
echo "- response body bytes: leaky-tokens ${BODY_BYTES[ours]}, nginx canned upstream ${BODY_BYTES[nginx]}"
GIT_REV="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "- binary: $LT_VERSION ($BINARY, tree $GIT_REV); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(nproc) cores; loadavg before: $uptime_before"
other_max="$(tr ' ' '\n' <<<"$OTHER_CPU" | grep -v '^$' | sort -n | tail -n1)"
echo "- CPU taken by other processes during the measured runs (% of the machine, in run order): ${OTHER_CPU% } (${other_idle}% just before)$( ((other_max > 10)) && echo " — **noisy: other work competed with the benchmark**")"
echo "- command: \`$cmd_str\`"
echo "- wrk per run: \`wrk ${WRK_ARGS[*]/#$REPO_ROOT\//} <url>\`"
echo
status=0
for key in "${CFG_KEYS[@]}"; do
  echo "errors: non-2xx responses ${NON2XX[$key]} ($key); socket errors ${SOCKERR[$key]}"
done
if ((WARM_NON2XX > 0)); then
  echo "errors: non-2xx responses $WARM_NON2XX (ours, during warm-ups)"
fi
if ((NON2XX[ours] + WARM_NON2XX > 0)); then
  echo "FAIL: leaky-tokens answered non-2xx responses" >&2; status=1
fi
if ((NON2XX[nginx] > 0)); then
  echo "FAIL: the nginx reference answered non-2xx responses (limit_req rejected?): comparison invalid" >&2; status=1
fi
for key in "${CFG_KEYS[@]}"; do
  ((SOCKERR[$key] == 0)) || echo "warning: $key had ${SOCKERR[$key]} socket errors (connect/read/write/timeout)" >&2
done
exit "$status"
