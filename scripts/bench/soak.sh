#!/usr/bin/env bash
# Soak: memory of `leaky-tokens serve` (embedded profile) under a steady consume load across many API
# keys (issue 14: "peak RSS <= 64 MB and flat (+-10 %) over a 10-minute run across 100,000 keys").
#
# 1. starts `serve` once on a fresh data dir (migrations run), stops it (SIGTERM);
# 2. seeds KEYS users straight into its SQLite database (soak_seed.py: user, USER role, one API key,
#    a funded openai pool each; registering them over HTTP would hash KEYS passwords);
# 3. restarts `serve` on the seeded dir and checks a few random keys with one real consume each (200);
# 4. runs wrk with consume.lua cycling over all KEYS keys (POST /api/v1/tokens/consume, X-Api-Key) for
#    DURATION seconds, sampling VmRSS/VmHWM (/proc/<pid>/status), RssAnon/RssFile, the data dir size
#    (du -sb) and the committed consumes (token_commit_items, /actuator/prometheus) every SAMPLE seconds;
# 5. prints a markdown summary: RSS min/median/max, first and last minute, flatness after a 60 s
#    warm-up ((max - min) / median, and the largest deviation from the median), VmHWM at the end,
#    requests, req/s, non-2xx, how many keys were used, and the command line.
#
# Usage: scripts/bench/soak.sh [--binary PATH] [--keys N] [--duration SEC] [--sample SEC]
#                              [--connections C] [--threads T] [--smoke] [--set KEY=VALUE ...]
# Defaults: build/leaky-tokens, 100000 keys, 600 s, a sample every 10 s, 8 connections, 1 thread.
# --set KEY=VALUE (repeatable) is passed on to `serve` (e.g. a second run with one setting changed);
#   the environment is inherited too (e.g. MALLOC_CONF=prof:true for a jemalloc heap profile).
# --smoke: 2000 keys, 20 s, a sample every 2 s, warm-up 10 s (for CI: the memory verdict is printed
#   but does not fail the run).
# Exit status: 1 when a probe or any request of the load was not 200, or (full runs) when the peak RSS
# exceeds 64 MB or an RSS sample after the warm-up lies more than 10 % from the median.
# LT_BENCH_KEEP=1 keeps the temp dir (samples.tsv, wrk output, server log, pairs file, data dir).
# The bucket never limits (capacity and leak rate 1,000,000) and the edge limiter's capacities are out
# of reach (lib.sh EDGE_SET; LT_EDGE=off turns it off): every request is admitted and debits 1 token.
# Needs: wrk, curl, python3 (Debian: apt-get install wrk curl python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ORIG_ARGS=("$@")

BINARY="$REPO_ROOT/build/leaky-tokens"
KEYS=100000
DURATION=600
SAMPLE=10
CONNECTIONS=8
THREADS=1
SMOKE=0
WARMUP=60
ALLOWANCE=1000000000         # every user's openai pool: never runs dry
TIER_CAP=1000000000          # USER tier quota-max-tokens (default 100,000 would cap the pool)
TARGET_KB=$((64 * 1024))     # issue 14: peak RSS <= 64 MB
FLAT_PCT=10                  # issue 14: flat +-10 %
CONSUME_PATH=/api/v1/tokens/consume
EXTRA_SET=()                 # --set KEY=VALUE (repeatable): passed on to `serve`, after the defaults

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "soak.sh: $*" >&2; exit 2; }
log() { echo "[soak.sh] $*" >&2; }
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"

while (($#)); do
  case "$1" in
    --binary) [[ -n "${2-}" ]] || die "--binary needs a path"; BINARY="$2"; shift 2 ;;
    --keys) need_int "$1" "${2-}"; KEYS="$2"; shift 2 ;;
    --duration) need_int "$1" "${2-}"; DURATION="$2"; shift 2 ;;
    --sample) need_int "$1" "${2-}"; SAMPLE="$2"; shift 2 ;;
    --connections) need_int "$1" "${2-}"; CONNECTIONS="$2"; shift 2 ;;
    --threads) need_int "$1" "${2-}"; THREADS="$2"; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --set) [[ "${2-}" == *=* ]] || die "--set needs KEY=VALUE"; EXTRA_SET+=(--set "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
if ((SMOKE)); then KEYS=2000; DURATION=20; SAMPLE=2; WARMUP=10; fi
((THREADS <= CONNECTIONS)) || die "--threads ($THREADS) must not exceed --connections ($CONNECTIONS)"
((WARMUP < DURATION)) || WARMUP=$((DURATION / 2))
[[ "$BINARY" = /* ]] || BINARY="$PWD/$BINARY"
for tool in wrk curl python3 du; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian: apt-get install wrk curl python3)"
done

# ---------------------------------------------------------------------------------------------
# Temp dir and clean-up (stops the server and wrk, removes the temp dir unless LT_BENCH_KEEP=1).
LT_PID=""
WRK_PID=""
BENCH_PID_VARS="WRK_PID LT_PID"
bench_workdir soak

private_binary "$BINARY" "$WORK/leaky-tokens"
LT="$WORK/leaky-tokens"
LT_VERSION="$("$LT" version 2>/dev/null | head -n1)"
LT_TREE="$(git -C "$(dirname "$BINARY")" describe --always --dirty 2>/dev/null || echo unknown)"  # when copied
DATA="$WORK/data"
mkdir -p "$DATA"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"

# start_lt LOG_NAME: `serve` on DATA (embedded profile), sets LT_PID; returns when /actuator/health is 200.
LT_CMD=("$LT" serve --set server.address=127.0.0.1 --set "server.port=$PORT"
        --set "storage.data-dir=$DATA"
        --set log.access=false --set log.level=warn
        --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1
        --set token.bucket.capacity=1000000 --set token.bucket.leak-rate-per-second=1000000
        --set "token.tiers.levels.USER.quota-max-tokens=$TIER_CAP"
        "${EDGE_SET[@]}" "${EXTRA_SET[@]}")
start_lt() {
  log "starting leaky-tokens ($1) on $BASE"
  (cd "$WORK" && exec "${LT_CMD[@]}") >"$WORK/leaky-tokens-$1.log" 2>&1 &
  LT_PID=$!
  if ! wait_http "$BASE/actuator/health" "$LT_PID" "leaky-tokens ($1)"; then
    tail -n 20 "$WORK/leaky-tokens-$1.log" >&2 || true
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Migrations, then the seed straight into the stopped server's database.
start_lt migrate
stop_servers "$LT_PID"; LT_PID=""
PAIRS="$WORK/pairs.txt"
seed_start=$SECONDS
python3 "$SCRIPT_DIR/soak_seed.py" --db "$DATA/leaky-tokens.db" --users "$KEYS" --allowance "$ALLOWANCE" \
  --out "$PAIRS" || die "seeding $KEYS users failed"
SEED_SECONDS=$((SECONDS - seed_start))
start_lt soak
RSS_IDLE_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_PID/status")"

# A few random keys (and the first and the last), one real consume each: 200 proves the seed (API key
# hash, role, pool) is what the server expects.
PROBES=0
while read -r user_id key; do
  body="{\"userId\":\"$user_id\",\"provider\":\"openai\",\"tokens\":1,\"prompt\":\"probe\"}"
  code="$(curl -s -o "$WORK/probe.json" -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
          -H "X-Api-Key: $key" -d "$body" "$BASE$CONSUME_PATH" || true)"
  if [[ "$code" != 200 ]]; then
    log "probe consume for user $user_id answered '$code'"; cat "$WORK/probe.json" >&2 2>/dev/null || true
    exit 1
  fi
  PROBES=$((PROBES + 1))
done < <({ head -n1 "$PAIRS"; tail -n1 "$PAIRS"; shuf -n 5 "$PAIRS"; })
log "$PROBES probe consumes answered 200"

# ---------------------------------------------------------------------------------------------
# Load and samples. wrk runs in the background; one sample every SAMPLE seconds from its start until
# it exits (the last one right after). Columns: seconds since start, VmRSS, VmHWM, RssAnon, RssFile
# (kB), data dir bytes, token_commit_items (consumes committed so far), the largest
# event_consumer_lag_seconds (how far the slowest event consumer, e.g. analytics, is behind).
SAMPLES="$WORK/samples.tsv"
COUNTS="$WORK/counts.txt"
printf 't_s\trss_kb\thwm_kb\tanon_kb\tfile_kb\tdata_bytes\tcommitted\tlag_s\n' >"$SAMPLES"
sample() {
  local t=$1 st m
  st="$(awk '/^(VmRSS|VmHWM|RssAnon|RssFile):/ { v[$1] = $2 } END { print v["VmRSS:"], v["VmHWM:"], v["RssAnon:"], v["RssFile:"] }' \
        "/proc/$LT_PID/status" 2>/dev/null)" || return 1
  m="$(curl -s --max-time 2 "$BASE/actuator/prometheus" | awk '
        $1 == "token_commit_items" { c = sprintf("%.0f", $2) }
        $1 ~ /^event_consumer_lag_seconds[{]/ && $2 + 0 > lag { lag = $2 + 0 }
        END { printf "%s %.1f", (c == "" ? "NA" : c), lag }' || true)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" ${st} "$(du -sb "$DATA" | cut -f1)" ${m:-NA NA} >>"$SAMPLES"
}
uptime_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s over $KEYS keys, a sample every ${SAMPLE}s"
t0=$SECONDS
sample 0
LT_BENCH_PAIRS_FILE="$PAIRS" LT_BENCH_COUNTS_FILE="$COUNTS" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$SCRIPT_DIR/consume.lua" "$BASE$CONSUME_PATH" \
  >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
next=$SAMPLE
while kill -0 "$WRK_PID" 2>/dev/null; do
  sleep 0.5
  if ((SECONDS - t0 >= next)); then
    kill -0 "$LT_PID" 2>/dev/null || die "leaky-tokens exited during the load (see $WORK/leaky-tokens-soak.log)"
    sample "$((SECONDS - t0))"
    next=$((next + SAMPLE))
  fi
done
wait "$WRK_PID" || { cat "$WORK/wrk.txt" >&2; WRK_PID=""; die "wrk failed"; }
WRK_PID=""
sample "$((SECONDS - t0))"
uptime_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# Summary.
read -r RPS P50 P99 NON2XX SOCKERR REQS <<<"$(parse_wrk "$WORK/wrk.txt")"
[[ "$RPS" != PARSE_ERROR ]] || { cat "$WORK/wrk.txt" >&2; die "cannot parse wrk's output"; }
KEYS_USED="$(awk '$1 == "u" { n++ } END { print n + 0 }' "$COUNTS")"
HITS_MIN="$(awk '$1 == "u" { if (min == "" || $3 < min) min = $3 } END { print min + 0 }' "$COUNTS")"
HWM_END_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_PID/status")"
LAST_T="$(tail -n1 "$SAMPLES" | cut -f1)"
col() { awk -F'\t' -v lo="$1" -v hi="$2" -v c="$3" 'NR > 1 && $1 >= lo && $1 <= hi { printf "%s ", $c }' "$SAMPLES"; }
ALL="$(col 1 "$LAST_T" 2)"              # every sample under load (t = 0 is before the first request)
FIRST="$(col 1 60 2)"
LAST="$(col "$((LAST_T > 60 ? LAST_T - 60 : 1))" "$LAST_T" 2)"
STEADY="$(col "$WARMUP" "$LAST_T" 2)"
read -r ALL_MIN ALL_MAX <<<"$(minmax <<<"$ALL")"
ALL_MED="$(median <<<"$ALL")"
read -r ST_MIN ST_MAX <<<"$(minmax <<<"$STEADY")"
ST_MED="$(median <<<"$STEADY")"
FLATNESS="$(awk -v a="$ST_MIN" -v b="$ST_MAX" -v m="$ST_MED" 'BEGIN { printf "%.1f", 100 * (b - a) / m }')"
DEVIATION="$(awk -v a="$ST_MIN" -v b="$ST_MAX" -v m="$ST_MED" 'BEGIN { d = (b - m > m - a) ? b - m : m - a; printf "%.1f", 100 * d / m }')"
range_mb() { local lo hi; read -r lo hi <<<"$(minmax <<<"$1")"; echo "$(to_mb "$(median <<<"$1")") MB (range $(to_mb "$lo")–$(to_mb "$hi"))"; }
DATA_START="$(awk -F'\t' 'NR == 2 { print $6 }' "$SAMPLES")"
DATA_END="$(tail -n1 "$SAMPLES" | cut -f6)"
cmd_str="scripts/bench/soak.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}"

echo
echo "### Soak: $(commas "$KEYS") keys, $DURATION s (embedded profile)"
echo
echo "| minute | VmRSS MB (min–max) | VmHWM MB | RssAnon MB (max) | RssFile MB | data dir MB | consumes committed in the minute | consumer lag s (max) |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'\t' -v last_m="$(((DURATION + 59) / 60))" 'NR > 2 {
    m = int(($1 - 1) / 60) + 1
    if (m > last_m) m = last_m   # the sample right after wrk stopped belongs to the last minute
    if (!(m in lo) || $2 < lo[m]) lo[m] = $2
    if ($2 > hi[m]) hi[m] = $2
    hwm[m] = $3; file[m] = $5; data[m] = $6
    if ($4 > anon[m]) anon[m] = $4
    if ($8 != "NA" && $8 + 0 > lag[m]) lag[m] = $8 + 0
    if ($7 != "NA") last[m] = $7
    if (m > maxm) maxm = m
  }
  NR == 2 { base = $7 }
  END {
    prev = base
    for (m = 1; m <= maxm; m++) {
      if (!(m in lo)) continue
      d = (m in last && prev != "NA") ? sprintf("%.0f", last[m] - prev) : "NA"
      if (m in last) prev = last[m]
      printf "| %d | %.1f–%.1f | %.1f | %.1f | %.1f | %.1f | %s | %.1f |\n", m, lo[m] / 1024, hi[m] / 1024, hwm[m] / 1024,
        anon[m] / 1024, file[m] / 1024, data[m] / 1048576, d, lag[m]
    }
  }' "$SAMPLES"
echo
echo "- VmRSS over the run ($(wc -w <<<"$ALL") samples, every $SAMPLE s): min $(to_mb "$ALL_MIN") MB, median $(to_mb "$ALL_MED") MB, max **$(to_mb "$ALL_MAX") MB** (idle after start, before the load: $(to_mb "$RSS_IDLE_KB") MB)"
echo "- VmRSS in the first minute: $(range_mb "$FIRST"); in the last minute: $(range_mb "$LAST")"
echo "- flatness after a $WARMUP s warm-up: (max − min) / median = ($(to_mb "$ST_MAX") − $(to_mb "$ST_MIN")) / $(to_mb "$ST_MED") MB = **$FLATNESS %**; largest deviation from the median $DEVIATION %"
echo "- VmHWM (peak RSS) at the end: **$(to_mb "$HWM_END_KB") MB** (target ≤ 64 MB)"
echo "- data dir: $(awk -v b="$DATA_START" 'BEGIN { printf "%.1f", b / 1048576 }') MB at the start of the load, $(awk -v b="$DATA_END" 'BEGIN { printf "%.1f", b / 1048576 }') MB at the end"
echo "- requests: $(commas "$REQS") in $DURATION s, $(commas "$RPS") req/s, p50 $P50 ms, p99 $P99 ms; non-2xx: $NON2XX; socket errors: $SOCKERR"
echo "- keys used: $(commas "$KEYS_USED") of $(commas "$KEYS") (every key at least $HITS_MIN times); $PROBES probe consumes before the load"
echo "- setup (not measured): $(commas "$KEYS") users seeded into SQLite in $SEED_SECONDS s"
echo "- binary: $LT_VERSION ($BINARY, tree $LT_TREE); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(nproc) cores; loadavg before: $uptime_before, after: $uptime_after"
echo "- command: \`$cmd_str\`"
echo "- wrk: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/bench/consume.lua <url>/api/v1/tokens/consume\` (LT_BENCH_PAIRS_FILE: the $(commas "$KEYS") seeded keys)"

status=0
if ((NON2XX > 0)); then echo "FAIL: $NON2XX non-2xx responses (every request should be 200)" >&2; status=1; fi
if ((KEYS_USED < KEYS)); then echo "warning: only $KEYS_USED of $KEYS keys were used (run longer)" >&2; fi
verdict=PASS
if ((HWM_END_KB > TARGET_KB)); then verdict=FAIL; echo "peak RSS $(to_mb "$HWM_END_KB") MB exceeds 64 MB" >&2; fi
if awk -v d="$DEVIATION" -v f="$FLAT_PCT" 'BEGIN { exit !(d > f) }'; then
  verdict=FAIL; echo "RSS not flat: a sample after the warm-up lies $DEVIATION % from the median (> $FLAT_PCT %)" >&2
fi
echo "- issue 14 memory target (peak ≤ 64 MB, every sample after the warm-up within ±$FLAT_PCT % of the median): **$verdict**"
if [[ "$verdict" == FAIL ]] && ((!SMOKE)); then status=1; fi
exit "$status"
