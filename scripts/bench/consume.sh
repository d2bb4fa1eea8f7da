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
#                                 [--profile embedded|production] [--processes 1|2]
#                                 [--split] [--binary-b PATH]
# --smoke: one 2-second run of everything, no warm-up, 50 users (unless --users is given), for CI.
# --profile production: `serve --profile production` on a throwaway PostgreSQL 15 (durable: fsync and
#   synchronous_commit on) + Redis 7 started by scripts/test-servers.sh, and Kafka = librdkafka's mock
#   cluster (build/lt-kafka-mock, as scripts/run-with-env.sh does: no Kafka broker here); all stopped at the end.
# --processes 2: two `serve` processes per variant sharing the same stores (production profile only);
#   the load is split by running two wrk at once, one per process, each with half the threads and
#   connections; req/s and requests are summed, p50/p99 are the worse of the two.
# --split (embedded profile): adds split mode beside the embedded run, interleaved in the same run:
#   per variant two `serve` processes, each its own data dir (SQLite), registry.url + cluster.secret:
#   `--modules gateway,registry,auth` (API keys verify locally) and `--modules token,providers,analytics`
#   (usage events stay local); every consume crosses the gateway -> token signed HTTP proxy hop.
#   LT_SPLIT_FRONT / LT_SPLIT_BACK override the two module lists.
# --binary-b PATH (or LT_BIN_B=PATH; embedded profile): adds "embedded (B)", the same variants on a
#   second binary, interleaved with the first: before/after comparisons of two builds in one run.
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
PROFILE=embedded
PROCESSES=1
SPLIT=0
BINARY_B="${LT_BIN_B:-}"
SPLIT_FRONT="${LT_SPLIT_FRONT:-gateway,registry,auth}"
SPLIT_BACK="${LT_SPLIT_BACK:-token,providers,analytics}"
CONSUME_PATH=/api/v1/tokens/consume
CHAT_PATH=/api/v1/openai/chat
QUOTA=100000                 # allowance of every benchmark user (the USER tier's cap)
OPEN_CAPACITY=1000000        # variant "1,000 users": a bucket that never limits
OPEN_RATE=1000000
CONTENDED_CAPACITY=1000      # variant "one key": most requests are 429
CONTENDED_RATE=100
LATENCY_QUOTA=1000000000     # the latency user makes ~10k req/s at -c1: fund it beyond 100,000

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
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
    --profile) [[ "${2-}" == embedded || "${2-}" == production ]] || die "--profile needs embedded or production"
               PROFILE="$2"; shift 2 ;;
    --processes) [[ "${2-}" == 1 || "${2-}" == 2 ]] || die "--processes needs 1 or 2"; PROCESSES="$2"; shift 2 ;;
    --split) SPLIT=1; shift ;;
    --binary-b) [[ -n "${2-}" ]] || die "--binary-b needs a path"; BINARY_B="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
if ((SMOKE)); then DURATION=2; RUNS=1; WARMUP=0; USERS="${USERS:-50}"; fi
USERS="${USERS:-1000}"
if ((PROCESSES > 1)); then
  [[ "$PROFILE" == production ]] || die "--processes 2 needs --profile production (the embedded stores are one process's)"
  ((CONNECTIONS >= 2 && CONNECTIONS % 2 == 0)) || die "--processes 2 needs an even --connections"
fi
if ((SPLIT)) || [[ -n "$BINARY_B" ]]; then
  [[ "$PROFILE" == embedded ]] || die "--split and --binary-b need the embedded profile"
  ((PROCESSES == 1)) || die "--split and --binary-b do not combine with --processes 2"
fi
((THREADS <= CONNECTIONS)) || die "--threads ($THREADS) must not exceed --connections ($CONNECTIONS)"
[[ "$BINARY" = /* ]] || BINARY="$PWD/$BINARY"
[[ -z "$BINARY_B" || "$BINARY_B" = /* ]] || BINARY_B="$PWD/$BINARY_B"

for tool in nginx wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (Debian: apt-get install nginx-light wrk curl python3)"
done
HELPER=(python3 "$SCRIPT_DIR/consume_helper.py")
LUA="$SCRIPT_DIR/consume.lua"

# ---------------------------------------------------------------------------------------------
# Temp dir, clean-up (kills the servers, removes the temp dir)
LT_A_PID=""   # leaky-tokens with a big bucket: "1,000 users" and the latency runs
LT_B_PID=""   # leaky-tokens with the contended bucket: "one key"
LT_A2_PID=""  # --processes 2: the second process of each variant, on the same stores
LT_B2_PID=""
EXTRA_PIDS=() # --split (gateway and token processes of each variant) and --binary-b instances
NGINX_PID=""
KAFKA_PID=""  # --profile production: librdkafka mock cluster
SERVERS_ENV="" # --profile production: scripts/test-servers.sh env file (PostgreSQL + Redis)
BENCH_PID_VARS="LT_A_PID LT_B_PID LT_A2_PID LT_B2_PID EXTRA_PIDS NGINX_PID KAFKA_PID"
# shellcheck disable=SC2317  # invoked by bench_cleanup
bench_cleanup_extra() {
  if [[ -n "$SERVERS_ENV" ]]; then
    LT_TEST_SERVERS_ENV="$SERVERS_ENV" "$REPO_ROOT/scripts/test-servers.sh" stop >/dev/null 2>&1 || true
  fi
}
bench_workdir consume

# ---------------------------------------------------------------------------------------------
# Private copy of the binary (the build directory may be relinked while we measure).
private_binary "$BINARY" "$WORK/leaky-tokens"
LT="$WORK/leaky-tokens"
LT_VERSION="$("$LT" version 2>/dev/null | head -n1)"
if [[ -n "$BINARY_B" ]]; then
  private_binary "$BINARY_B" "$WORK/leaky-tokens-b"
  LT_VERSION_B="$("$WORK/leaky-tokens-b" version 2>/dev/null | head -n1)"
fi

# ---------------------------------------------------------------------------------------------
# Production profile: throwaway PostgreSQL + Redis (scripts/test-servers.sh, durable PostgreSQL) and
# the librdkafka mock cluster; one database and one Redis database per variant.
PROFILE_ARGS=()
declare -A PROFILE_ENV_OPEN PROFILE_ENV_CONTENDED
if [[ "$PROFILE" == production ]]; then
  command -v psql >/dev/null 2>&1 || die "'psql' not found (Debian: apt-get install postgresql-client)"
  KAFKA_MOCK="$(dirname "$BINARY")/lt-kafka-mock"
  [[ -x "$KAFKA_MOCK" ]] || die "no $KAFKA_MOCK (cmake --build build --target lt-kafka-mock)"
  cp "$KAFKA_MOCK" "$WORK/lt-kafka-mock"
  SERVERS_ENV="$WORK/test-servers.env"
  log "starting throwaway PostgreSQL + Redis (scripts/test-servers.sh)"
  LT_TEST_SERVERS_ENV="$SERVERS_ENV" "$REPO_ROOT/scripts/test-servers.sh" start >"$WORK/test-servers.log" 2>&1 \
    || { cat "$WORK/test-servers.log" >&2; die "scripts/test-servers.sh start failed"; }
  # shellcheck disable=SC1090
  . "$SERVERS_ENV"
  PG_BASE="${LT_TEST_POSTGRES_URL%/*}"
  for db in lt_bench_open lt_bench_contended; do
    psql "$LT_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null \
      || die "cannot create database $db"
  done
  "$WORK/lt-kafka-mock" --brokers 1 >"$WORK/kafka-mock.log" 2>&1 &
  KAFKA_PID=$!
  KAFKA_BROKERS=""
  for _ in $(seq 100); do
    KAFKA_BROKERS="$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka-mock.log")"
    [[ -n "$KAFKA_BROKERS" ]] && break
    sleep 0.05
  done
  [[ -n "$KAFKA_BROKERS" ]] || { cat "$WORK/kafka-mock.log" >&2; die "lt-kafka-mock did not start"; }
  # The mock cluster has no Admin API: topics are auto-created (as in scripts/run-with-env.sh).
  PROFILE_ARGS=(--profile production --set storage.events.create-topics=false)
  # The profile stores JWT signing keys encrypted (auth.jwt.key-encryption-key): a throwaway passphrase.
  BENCH_KEK="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  PROFILE_ENV_OPEN=([LEAKY_SQL_URL]="$PG_BASE/lt_bench_open" [LEAKY_REDIS_URL]="${LT_TEST_REDIS_URL%/*}/1"
                    [LEAKY_KAFKA_BROKERS]="$KAFKA_BROKERS" [LEAKY_KEY_ENCRYPTION_KEY]="$BENCH_KEK")
  PROFILE_ENV_CONTENDED=([LEAKY_SQL_URL]="$PG_BASE/lt_bench_contended" [LEAKY_REDIS_URL]="${LT_TEST_REDIS_URL%/*}/2"
                         [LEAKY_KAFKA_BROKERS]="$KAFKA_BROKERS" [LEAKY_KEY_ENCRYPTION_KEY]="$BENCH_KEK")
fi

# Start the leaky-tokens instances (fresh data dirs). The bucket settings are global, hence one
# instance (or, with --processes 2, two processes on the same stores) per variant.
# start_lt NAME STORES PORT CAPACITY RATE [EXTRA --set ...] -> sets STARTED_PID (STORES: open|contended)
# START_BIN (default: the private copy of --binary) and START_MODULES (`serve --modules`, default: all).
START_BIN=""; START_MODULES=""
start_lt() {
  local name=$1 stores=$2 port=$3 capacity=$4 rate=$5; shift 5
  mkdir -p "$WORK/data-$name"
  local envs=() k
  if [[ "$PROFILE" == production ]]; then
    if [[ "$stores" == open ]]; then
      for k in "${!PROFILE_ENV_OPEN[@]}"; do envs+=("$k=${PROFILE_ENV_OPEN[$k]}"); done
    else
      for k in "${!PROFILE_ENV_CONTENDED[@]}"; do envs+=("$k=${PROFILE_ENV_CONTENDED[$k]}"); done
    fi
  fi
  local cmd=("${START_BIN:-$LT}" serve ${START_MODULES:+--modules "$START_MODULES"} "${PROFILE_ARGS[@]}" --set server.address=127.0.0.1 --set "server.port=$port"
             --set "storage.data-dir=$WORK/data-$name"
             --set log.access=false --set log.level=warn
             --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password=root-password-1
             --set "token.bucket.capacity=$capacity" --set "token.bucket.leak-rate-per-second=$rate"
             "${EDGE_SET[@]}" "$@")
  { ((${#envs[@]})) && printf '%q ' env "${envs[@]}"; printf '%q ' "${cmd[@]}"; } >"$WORK/cmd-$name.txt"
  log "starting leaky-tokens ($name, $PROFILE profile${START_MODULES:+, modules $START_MODULES}) on 127.0.0.1:$port"
  (cd "$WORK" && exec env "${envs[@]}" "${cmd[@]}") >"$WORK/leaky-tokens-$name.log" 2>&1 &
  STARTED_PID=$!
}
await_lt() {  # NAME PORT PID
  if ! wait_http "http://127.0.0.1:$2/actuator/health" "$3" "leaky-tokens ($1)"; then
    tail -n 20 "$WORK/leaky-tokens-$1.log" >&2 || true
    exit 1
  fi
}
LT_A_PORT="$(free_port)"
LT_B_PORT="$(free_port)"
start_lt open open "$LT_A_PORT" "$OPEN_CAPACITY" "$OPEN_RATE" \
  --set "token.tiers.levels.USER.quota-max-tokens=$LATENCY_QUOTA"
LT_A_PID=$STARTED_PID
# One process at a time on a fresh database: the first one runs the migrations.
await_lt open "$LT_A_PORT" "$LT_A_PID"
start_lt contended contended "$LT_B_PORT" "$CONTENDED_CAPACITY" "$CONTENDED_RATE"
LT_B_PID=$STARTED_PID
await_lt contended "$LT_B_PORT" "$LT_B_PID"
LT_A2=""; LT_B2=""
if ((PROCESSES > 1)); then
  LT_A2_PORT="$(free_port)"
  LT_B2_PORT="$(free_port)"
  start_lt open2 open "$LT_A2_PORT" "$OPEN_CAPACITY" "$OPEN_RATE" \
    --set "token.tiers.levels.USER.quota-max-tokens=$LATENCY_QUOTA"
  LT_A2_PID=$STARTED_PID
  start_lt contended2 contended "$LT_B2_PORT" "$CONTENDED_CAPACITY" "$CONTENDED_RATE"
  LT_B2_PID=$STARTED_PID
  await_lt open2 "$LT_A2_PORT" "$LT_A2_PID"
  await_lt contended2 "$LT_B2_PORT" "$LT_B2_PID"
  LT_A2="http://127.0.0.1:$LT_A2_PORT"
  LT_B2="http://127.0.0.1:$LT_B2_PORT"
fi
LT_A_RSS_IDLE_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_A_PID/status")"
LT_A="http://127.0.0.1:$LT_A_PORT"
LT_B="http://127.0.0.1:$LT_B_PORT"

# The targets measured beside nginx, interleaved: "ours" (the embedded or production run above),
# "split" (--split) and "oursB" (--binary-b). Per target: the big-bucket URL, the contended URL, the
# label in the table and the processes whose peak RSS is reported ("name:pid" pairs).
TARGETS=(ours)
declare -A URL_OPEN URL_CONTENDED TARGET_LABEL RSS_OPEN RSS_CONTENDED
URL_OPEN[ours]="$LT_A"; URL_CONTENDED[ours]="$LT_B"
RSS_OPEN[ours]="process:$LT_A_PID"; RSS_CONTENDED[ours]="process:$LT_B_PID"
if [[ -n "$BINARY_B" ]]; then
  TARGETS+=(oursB)
  START_BIN="$WORK/leaky-tokens-b"
  port="$(free_port)"
  start_lt openB open "$port" "$OPEN_CAPACITY" "$OPEN_RATE" --set "token.tiers.levels.USER.quota-max-tokens=$LATENCY_QUOTA"
  await_lt openB "$port" "$STARTED_PID"; EXTRA_PIDS+=("$STARTED_PID")
  URL_OPEN[oursB]="http://127.0.0.1:$port"; RSS_OPEN[oursB]="process:$STARTED_PID"
  port="$(free_port)"
  start_lt contendedB contended "$port" "$CONTENDED_CAPACITY" "$CONTENDED_RATE"
  await_lt contendedB "$port" "$STARTED_PID"; EXTRA_PIDS+=("$STARTED_PID")
  URL_CONTENDED[oursB]="http://127.0.0.1:$port"; RSS_CONTENDED[oursB]="process:$STARTED_PID"
  START_BIN=""
fi
# start_split NAME CAPACITY RATE [EXTRA --set ...]: the front process (SPLIT_FRONT: gateway, registry,
# auth) with the registry, then the back process (SPLIT_BACK: token, providers, analytics) registering
# there; each its own data dir. Ready when the gateway proxies a token route (the back process is in
# its instance table). Sets SPLIT_URL and SPLIT_RSS.
start_split() {
  local name=$1 capacity=$2 rate=$3 gw_port tok_port gw_pid; shift 3
  gw_port="$(free_port)"; tok_port="$(free_port)"
  local cluster=(--set "registry.url=http://127.0.0.1:$gw_port" --set registry.fetch-interval=1s)
  START_MODULES="$SPLIT_FRONT"
  start_lt "$name-front" open "$gw_port" "$capacity" "$rate" "${cluster[@]}" "$@"
  gw_pid=$STARTED_PID; EXTRA_PIDS+=("$gw_pid")
  await_lt "$name-front" "$gw_port" "$gw_pid"
  START_MODULES="$SPLIT_BACK"
  start_lt "$name-back" open "$tok_port" "$capacity" "$rate" "${cluster[@]}" "$@"
  EXTRA_PIDS+=("$STARTED_PID")
  await_lt "$name-back" "$tok_port" "$STARTED_PID"
  START_MODULES=""
  if ! wait_http "http://127.0.0.1:$gw_port/api/v1/tokens/status" "$gw_pid" "split gateway ($name) -> token"; then
    tail -n 20 "$WORK/leaky-tokens-$name-front.log" "$WORK/leaky-tokens-$name-back.log" >&2 || true
    exit 1
  fi
  SPLIT_URL="http://127.0.0.1:$gw_port"
  SPLIT_RSS="front:$gw_pid back:$STARTED_PID"
}
if ((SPLIT)); then
  TARGETS+=(split)
  # Every call between the processes is signed with it (CONTRACT 34); a fresh one per run.
  LEAKY_CLUSTER_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export LEAKY_CLUSTER_SECRET
  start_split split-open "$OPEN_CAPACITY" "$OPEN_RATE" --set "token.tiers.levels.USER.quota-max-tokens=$LATENCY_QUOTA"
  URL_OPEN[split]="$SPLIT_URL"; RSS_OPEN[split]="$SPLIT_RSS"
  start_split split-contended "$CONTENDED_CAPACITY" "$CONTENDED_RATE"
  URL_CONTENDED[split]="$SPLIT_URL"; RSS_CONTENDED[split]="$SPLIT_RSS"
fi
if [[ "$PROFILE" == production ]]; then
  TARGET_LABEL[ours]="leaky-tokens production profile ($PROCESSES process$( ((PROCESSES > 1)) && echo es): PostgreSQL 15 durable + Redis 7 + Kafka mock, quota reservation $(grep -o 'token.quota.reservation=[a-z]*' "$WORK/cmd-open.txt" | cut -d= -f2 || true))"
  TARGET_LABEL[ours]="${TARGET_LABEL[ours]/reservation )/reservation auto → shared)}"
else
  TARGET_LABEL[ours]="leaky-tokens embedded profile"
fi
TARGET_LABEL[oursB]="leaky-tokens embedded profile, **binary B**"
TARGET_LABEL[split]="leaky-tokens **split mode** (2 processes, SQLite each: front $SPLIT_FRONT → back $SPLIT_BACK)"

# ---------------------------------------------------------------------------------------------
# Seed through the public API (not measured): USERS users with one API key and QUOTA tokens each on
# the big-bucket instance, one latency user (LATENCY_QUOTA tokens) there too, one user on the
# contended instance. Files: one "userId apiKey" line per user.
# Every target is seeded the same way (its own users: each has its own stores).
declare -A PAIRS_USERS PAIRS_LATENCY PAIRS_ONE
seed_start=$SECONDS
for t in "${TARGETS[@]}"; do
  PAIRS_USERS[$t]="$WORK/pairs-users-$t.txt"
  PAIRS_LATENCY[$t]="$WORK/pairs-latency-$t.txt"
  PAIRS_ONE[$t]="$WORK/pairs-one-$t.txt"
  "${HELPER[@]}" seed --base "${URL_OPEN[$t]}" --users "$USERS" --allowance "$QUOTA" --out "${PAIRS_USERS[$t]}" \
    || die "seeding $USERS users failed ($t)"
  "${HELPER[@]}" seed --base "${URL_OPEN[$t]}" --users 1 --allowance "$LATENCY_QUOTA" --out "${PAIRS_LATENCY[$t]}" \
    --name-prefix bench-latency || die "seeding the latency user failed ($t)"
  "${HELPER[@]}" seed --base "${URL_CONTENDED[$t]}" --users 1 --allowance "$QUOTA" --out "${PAIRS_ONE[$t]}" \
    || die "seeding the contended user failed ($t)"
done
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
mkdir -p "$WORK/counts-nginx"
for t in "${TARGETS[@]}"; do mkdir -p "$WORK/counts-open-$t" "$WORK/counts-latency-$t" "$WORK/counts-contended-$t"; done
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
for t in "${TARGETS[@]}"; do
  probe "$t-open" "${URL_OPEN[$t]}$CONSUME_PATH" "${PAIRS_USERS[$t]}" consume "$WORK/counts-open-$t/probe.txt"
  probe "$t-latency" "${URL_OPEN[$t]}$CONSUME_PATH" "${PAIRS_LATENCY[$t]}" consume "$WORK/counts-latency-$t/probe.txt"
  probe "$t-chat" "${URL_OPEN[$t]}$CHAT_PATH" "${PAIRS_LATENCY[$t]}" chat
done
probe nginx-open "http://127.0.0.1:$NGX_OPEN_PORT$CONSUME_PATH" "${PAIRS_USERS[ours]}" consume

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
BENCH_PIDS=("$LT_A_PID" "$LT_B_PID" "$NGINX_PID" $LT_A2_PID $LT_B2_PID $KAFKA_PID "${EXTRA_PIDS[@]}")
PARENTS=("$NGINX_PID")
if [[ "$PROFILE" == production ]]; then
  # PostgreSQL's postmaster and its backends (the pools connected at start), and Redis.
  PG_MASTER="$(head -n1 "$LT_TEST_SERVERS_DIR/pg/postmaster.pid" 2>/dev/null || true)"
  [[ -n "$PG_MASTER" ]] && { BENCH_PIDS+=("$PG_MASTER"); PARENTS+=("$PG_MASTER"); }
  [[ -n "${LT_TEST_REDIS_PID:-}" ]] && BENCH_PIDS+=("$LT_TEST_REDIS_PID")
fi
for parent in "${PARENTS[@]}"; do
  for st in /proc/[0-9]*/stat; do
    awk -v pp="$parent" '{ sub(/^.*\) /, ""); exit !($2 == pp) }' "$st" 2>/dev/null \
      && BENCH_PIDS+=("$(basename "$(dirname "$st")")")
  done
done

declare -A RPS P50 P99 NON2XX SOCKERR OK200 R429 REQS
OTHER_CPU=""
INVOCATIONS_OPEN=0; INVOCATIONS_LATENCY=0; INVOCATIONS_CONTENDED=0

# wrk_run T C DURATION URL COUNTS_FILE OUT [--latency]: one wrk invocation with consume.lua.
wrk_run() {
  local t=$1 c=$2 d=$3 url=$4 counts=$5 out=$6; shift 6
  LT_BENCH_COUNTS_FILE="$counts" wrk -t"$t" -c"$c" -d"$d" "$@" -s "$LUA" "$url" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk failed against $url"; }
}

# wrk_split T C DURATION "URL1 URL2" COUNTS_PREFIX OUT_PREFIX: --processes 2, one wrk per process at
# once, each with half the threads (at least 1) and half the connections. Outputs OUT_PREFIX-1.txt, -2.txt.
wrk_split() {
  local t=$1 c=$2 d=$3 urls=$4 counts=$5 out=$6 half_t pids=() i=0 url
  half_t=$(( t / 2 > 0 ? t / 2 : 1 ))
  for url in $urls; do
    i=$((i + 1))
    ( wrk_run "$half_t" $((c / 2)) "$d" "$url" "${counts:+$counts-p$i.txt}" "$out-$i.txt" --latency ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || die "wrk failed (split run)"; done
}

# measure KEY URLS PAIRS MODE THREADS CONNECTIONS COUNTS_DIR RUN: warm-up, then the measured run.
# URLS: one URL, or (--processes 2) two URLs separated by a space: one wrk per URL, at once.
# Every invocation against leaky-tokens' consume writes its admitted counts to COUNTS_DIR.
measure() {
  local key=$1 url=$2 pairs=$3 mode=$4 t=$5 c=$6 counts_dir=$7 run=$8 out other rps p50 p99 non2xx sock req ok200 r429
  export LT_BENCH_PAIRS_FILE="$pairs" LT_BENCH_MODE="$mode"
  local split=0
  [[ "$url" == *" "* ]] && split=1
  if ((WARMUP > 0)); then
    if ((split)); then
      wrk_split "$t" "$c" "${WARMUP}s" "$url" "${counts_dir:+$counts_dir/warm-$run}" "$WORK/warm-$key-$run"
    else
      wrk_run "$t" "$c" "${WARMUP}s" "$url" "${counts_dir:+$counts_dir/warm-$run.txt}" "$WORK/warm-$key-$run.txt"
    fi
  fi
  cpu_before="$(cpu_snapshot)"
  if ((split)); then
    wrk_split "$t" "$c" "${DURATION}s" "$url" "${counts_dir:+$counts_dir/run-$run}" "$WORK/wrk-$key-$run"
    local outs=("$WORK/wrk-$key-$run-1.txt" "$WORK/wrk-$key-$run-2.txt")
  else
    wrk_run "$t" "$c" "${DURATION}s" "$url" "${counts_dir:+$counts_dir/run-$run.txt}" "$WORK/wrk-$key-$run.txt" --latency
    local outs=("$WORK/wrk-$key-$run.txt")
  fi
  other="$(other_cpu_pct "$cpu_before" "$(cpu_snapshot)")"
  OTHER_CPU+="$other "
  # Sum req/s, requests, errors and counts over the wrk outputs; p50/p99: the worse of them.
  local trps=0 tp50=0 tp99=0 tnon=0 tsock=0 treq=0 tok=0 t429=0
  for out in "${outs[@]}"; do
    read -r rps p50 p99 non2xx sock req < <(parse_wrk "$out") || true
    if [[ "$rps" == PARSE_ERROR ]]; then cat "$out" >&2; die "could not parse wrk output ($key, run $run)"; fi
    trps="$(awk -v a="$trps" -v b="$rps" 'BEGIN { printf "%.2f", a + b }')"
    tp50="$(awk -v a="$tp50" -v b="$p50" 'BEGIN { print (b > a ? b : a) }')"
    tp99="$(awk -v a="$tp99" -v b="$p99" 'BEGIN { print (b > a ? b : a) }')"
    tnon=$((tnon + non2xx)); tsock=$((tsock + sock)); treq=$((treq + req))
    ok200="$(count_200 "$out")"; tok=$((tok + ${ok200:-0})); r429="$(count_status "$out" 429)"; t429=$((t429 + r429))
  done
  RPS[$key]+="$trps "; P50[$key]+="$tp50 "; P99[$key]+="$tp99 "
  NON2XX[$key]=$((${NON2XX[$key]:-0} + tnon)); SOCKERR[$key]=$((${SOCKERR[$key]:-0} + tsock))
  OK200[$key]=$((${OK200[$key]:-0} + tok)); R429[$key]=$((${R429[$key]:-0} + t429))
  REQS[$key]=$((${REQS[$key]:-0} + treq))
  log "run $run/$RUNS $key: $trps req/s, p50 $tp50 ms, p99 $tp99 ms, $treq requests, 200s $tok, non-2xx $tnon, socket errors $tsock, other processes ${other}% CPU"
  for pid in "$LT_A_PID" "$LT_B_PID" $LT_A2_PID $LT_B2_PID "${EXTRA_PIDS[@]}"; do
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
  measure nginx-open "http://127.0.0.1:$NGX_OPEN_PORT$CONSUME_PATH" "${PAIRS_USERS[ours]}" consume \
    "$THREADS" "$CONNECTIONS" "" "$run"
  measure ours-open "$LT_A$CONSUME_PATH${LT_A2:+ $LT_A2$CONSUME_PATH}" "${PAIRS_USERS[ours]}" consume "$THREADS" "$CONNECTIONS" \
    "$WORK/counts-open-ours" "$run"
  for t in "${TARGETS[@]:1}"; do
    measure "$t-open" "${URL_OPEN[$t]}$CONSUME_PATH" "${PAIRS_USERS[$t]}" consume "$THREADS" "$CONNECTIONS" \
      "$WORK/counts-open-$t" "$run"
  done
  INVOCATIONS_OPEN=$((INVOCATIONS_OPEN + PER_INVOCATION))
done

# Added latency at concurrency 1: consume vs the direct stub chat, same key, interleaved. (Split
# mode proxies the chat route too: its consume is compared with the embedded run's direct chat.)
for run in $(seq "$RUNS"); do
  for t in "${TARGETS[@]}"; do
    measure "lat-consume-$t" "${URL_OPEN[$t]}$CONSUME_PATH" "${PAIRS_LATENCY[$t]}" consume 1 1 "$WORK/counts-latency-$t" "$run"
    [[ "$t" == split ]] || measure "lat-chat-$t" "${URL_OPEN[$t]}$CHAT_PATH" "${PAIRS_LATENCY[$t]}" chat 1 1 "" "$run"
  done
  INVOCATIONS_LATENCY=$((INVOCATIONS_LATENCY + PER_INVOCATION))
done
# rss_of "name:pid ..." -> "name peak X MB, " per process (VmHWM); LT_A's figures are kept apart.
rss_of() {
  local pair out=""
  for pair in $1; do out+="${pair%%:*} $(to_mb "$(awk '/^VmHWM:/ {print $2}' "/proc/${pair#*:}/status")") MB, "; done
  echo "${out%, }"
}
declare -A HWM_OPEN HWM_CONTENDED
for t in "${TARGETS[@]}"; do HWM_OPEN[$t]="$(rss_of "${RSS_OPEN[$t]}")"; done
LT_A_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_A_PID/status")"
LT_A_RSS_END_KB="$(awk '/^VmRSS:/ {print $2}' "/proc/$LT_A_PID/status")"

# Variant 2: one key, contended bucket. The phase's elapsed time bounds what the bucket may admit
# (one phase for all targets: they are probed at its start and measured in turn to its end).
CONTENDED_START="$EPOCHREALTIME"
for t in "${TARGETS[@]}"; do
  probe "$t-contended" "${URL_CONTENDED[$t]}$CONSUME_PATH" "${PAIRS_ONE[$t]}" consume "$WORK/counts-contended-$t/probe.txt"
done
for run in $(seq "$RUNS"); do
  measure nginx-contended "http://127.0.0.1:$NGX_CONTENDED_PORT$CONSUME_PATH" "${PAIRS_ONE[ours]}" consume \
    "$THREADS" "$CONNECTIONS" "$WORK/counts-nginx" "$run"
  measure ours-contended "$LT_B$CONSUME_PATH${LT_B2:+ $LT_B2$CONSUME_PATH}" "${PAIRS_ONE[ours]}" consume "$THREADS" "$CONNECTIONS" \
    "$WORK/counts-contended-ours" "$run"
  for t in "${TARGETS[@]:1}"; do
    measure "$t-contended" "${URL_CONTENDED[$t]}$CONSUME_PATH" "${PAIRS_ONE[$t]}" consume "$THREADS" "$CONNECTIONS" \
      "$WORK/counts-contended-$t" "$run"
  done
  INVOCATIONS_CONTENDED=$((INVOCATIONS_CONTENDED + PER_INVOCATION))
done
CONTENDED_SECONDS="$(awk -v a="$CONTENDED_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
for t in "${TARGETS[@]}"; do HWM_CONTENDED[$t]="$(rss_of "${RSS_CONTENDED[$t]}")"; done
LT_B_HWM_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$LT_B_PID/status")"

# ---------------------------------------------------------------------------------------------
# Overshoot and server cross-check, after wrk has exited and in-flight requests have settled.
sleep 1
status=0
CHECKS=""
run_check() {
  local out rc=0
  out="$("${HELPER[@]}" check "$@")" || rc=$?
  ((rc == 0)) || { echo "$out" >&2; tail -n 5 "$WORK"/leaky-tokens-*.log >&2 2>/dev/null; die "the overshoot check could not run"; }
  CHECKS+="$(grep -v '^STATUS ' <<<"$out")"$'\n'
  local st; st="$(grep '^STATUS ' <<<"$out" | sed 's/^STATUS //')"
  if [[ "$st" != ok ]]; then echo "FAIL: $st" >&2; status=1; fi
}
declare -A TARGET_NAME=([ours]="" [oursB]="binary B, " [split]="split mode, ")
for t in "${TARGETS[@]}"; do
  run_check --base "${URL_OPEN[$t]}" --pairs "${PAIRS_USERS[$t]}" --counts "$WORK/counts-open-$t/*.txt" --funded "$QUOTA" \
    --label "${TARGET_NAME[$t]}$(commas "$USERS") users" --inflight $((CONNECTIONS * INVOCATIONS_OPEN))
  run_check --base "${URL_OPEN[$t]}" --pairs "${PAIRS_LATENCY[$t]}" --counts "$WORK/counts-latency-$t/*.txt" \
    --funded "$LATENCY_QUOTA" --label "${TARGET_NAME[$t]}latency user (-c1)" --inflight "$INVOCATIONS_LATENCY"
  run_check --base "${URL_CONTENDED[$t]}" --pairs "${PAIRS_ONE[$t]}" --counts "$WORK/counts-contended-$t/*.txt" --funded "$QUOTA" \
    --label "${TARGET_NAME[$t]}one key (contention)" --inflight $((CONNECTIONS * INVOCATIONS_CONTENDED)) \
    --capacity "$CONTENDED_CAPACITY" --rate "$CONTENDED_RATE" --phase-seconds "$CONTENDED_SECONDS"
done
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
uptime_after="$(cut -d' ' -f1-3 /proc/loadavg)"
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
for t in "${TARGETS[@]}"; do
  row "$USERS_LABEL" "${TARGET_LABEL[$t]}: bucket $(commas "$OPEN_CAPACITY") / $(commas "$OPEN_RATE") per s, quota $(commas "$QUOTA") each; $(pct "${OK200[$t-open]}" "${REQS[$t-open]}") 200" "$t-open" nginx-open
done
row "one key (contention)" "nginx limit_req rate=${CONTENDED_RATE}r/s burst=$CONTENDED_CAPACITY nodelay → canned upstream; $(pct "${OK200[nginx-contended]}" "${REQS[nginx-contended]}") 200, rest 429" nginx-contended nginx-contended
for t in "${TARGETS[@]}"; do
  row "one key (contention)" "${TARGET_LABEL[$t]}: bucket $CONTENDED_CAPACITY / $CONTENDED_RATE per s, quota $(commas "$QUOTA"); $(pct "${OK200[$t-contended]}" "${REQS[$t-contended]}") 200, rest 429" "$t-contended" nginx-contended
done
echo
us() { awk -v m="$1" 'BEGIN { printf "%.0f", m * 1000 }'; }
for t in "${TARGETS[@]}"; do
  chat_t=$t; [[ "$t" == split ]] && chat_t=ours
  LC50="$(median <<<"${P50[lat-consume-$t]}")"; LC99="$(median <<<"${P99[lat-consume-$t]}")"
  LH50="$(median <<<"${P50[lat-chat-$chat_t]}")"; LH99="$(median <<<"${P99[lat-chat-$chat_t]}")"
  echo "- ${TARGET_NAME[$t]}added latency at concurrency 1 (\`wrk -t1 -c1 -d${DURATION}s\`, one key, big bucket; medians of $RUNS run(s)):" \
       "consume p50 $(us "$LC50") µs / p99 $(us "$LC99") µs ($(commas "$(median <<<"${RPS[lat-consume-$t]}")") req/s);" \
       "direct stub chat$([[ "$chat_t" != "$t" ]] && echo " (embedded run's)") p50 $(us "$LH50") µs / p99 $(us "$LH99") µs ($(commas "$(median <<<"${RPS[lat-chat-$chat_t]}")") req/s);" \
       "**added p50 $(awk -v a="$LC50" -v b="$LH50" 'BEGIN { printf "%.0f", (a - b) * 1000 }') µs, p99 $(awk -v a="$LC99" -v b="$LH99" 'BEGIN { printf "%.0f", (a - b) * 1000 }') µs**"
done
echo "- leaky-tokens peak RSS (VmHWM) after all runs: **$(to_mb "$LT_A_HWM_KB") MB** ($USERS_LABEL instance; idle after start $(to_mb "$LT_A_RSS_IDLE_KB") MB, at end $(to_mb "$LT_A_RSS_END_KB") MB); one-key instance $(to_mb "$LT_B_HWM_KB") MB"
for t in "${TARGETS[@]:1}"; do
  echo "- ${TARGET_NAME[$t]}peak RSS (VmHWM): $USERS_LABEL: ${HWM_OPEN[$t]}; one key: ${HWM_CONTENDED[$t]}"
done
echo "- overshoot check (must be 0) and server cross-check (quota debited vs 200s counted by wrk; wrk drops in-flight responses when it stops, which can only make the server's figure larger):"
printf '%s' "$CHECKS" | sed 's/^/  /'
echo "  - nginx reference, one key: $(commas "$NGINX_ADMITTED") admitted in total ≤ $(commas "$NGINX_BOUND") (burst + 1 + rate × (elapsed + 1 s)), for comparison"
if [[ "$PROFILE" == production ]]; then
  for db in lt_bench_open lt_bench_contended; do
    echo "- PostgreSQL database $db after the runs (pg_stat_database): $(psql "$PG_BASE/$db" -XAtF' ' -c \
      "SELECT 'commits ' || xact_commit || ', rollbacks ' || xact_rollback || ', deadlocks ' || deadlocks FROM pg_stat_database WHERE datname = current_database()" 2>/dev/null || echo unavailable)"
  done
  if [[ "${LT_TEST_PG_OPTIONS:-}" == *pg_stat_statements* ]]; then
    # Profiling run: the statements by total server time (calls, µs per call, rows per call).
    psql "$PG_BASE/lt_bench_open" -X -q -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
    echo "- PostgreSQL statements by total time, lt_bench_open (pg_stat_statements):"
    psql "$PG_BASE/lt_bench_open" -XAtF' | ' -c "SELECT round(s.total_exec_time)::bigint || ' ms', s.calls || ' calls', round(1000 * s.mean_exec_time)::bigint || ' µs/call', round(s.rows::numeric / greatest(s.calls, 1), 1) || ' rows/call', left(regexp_replace(s.query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'lt_bench_open' ORDER BY s.total_exec_time DESC LIMIT 15" 2>/dev/null | sed 's/^/  - /' || echo "  unavailable"
  fi
fi
echo "- response body bytes (probe): leaky-tokens consume ${BODY_BYTES[ours-open]}, nginx canned ${BODY_BYTES[nginx-open]}, leaky-tokens stub chat ${BODY_BYTES[ours-chat]}"
echo "- setup (not measured): $USERS_LABEL + 2 registered, keyed and funded in $SEED_SECONDS s"
GIT_REV="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "- binary: $LT_VERSION ($BINARY, tree $GIT_REV); $(nginx -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(nproc) cores; loadavg before: $uptime_before, after: $uptime_after"
[[ -z "$BINARY_B" ]] || echo "- binary B: $LT_VERSION_B ($BINARY_B, modified $(date -u -r "$BINARY_B" '+%Y-%m-%d %H:%M UTC'))"
other_max="$(tr ' ' '\n' <<<"$OTHER_CPU" | grep -v '^$' | sort -n | tail -n1)"
echo "- CPU taken by other processes during the measured runs (% of the machine, in run order): ${OTHER_CPU% } (${other_idle}% just before)$( ((other_max > 10)) && echo " — **noisy: other work competed with the benchmark**")"
echo "- command: \`$cmd_str\`"
echo "- wrk per run: \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s scripts/bench/consume.lua <url>\` (latency: \`-t1 -c1\`)"
echo
for key in nginx-open nginx-contended; do
  echo "errors: $key: non-2xx responses ${NON2XX[$key]}; socket errors ${SOCKERR[$key]}"
done
for t in "${TARGETS[@]}"; do
  for key in "$t-open" "$t-contended" "lat-consume-$t" "lat-chat-$t"; do
    [[ -n "${REQS[$key]:-}" ]] || continue
    echo "errors: $key: non-2xx responses ${NON2XX[$key]}; socket errors ${SOCKERR[$key]}"
  done
  if ((${NON2XX[$t-open]} + ${NON2XX[lat-consume-$t]} + ${NON2XX[lat-chat-$t]:-0} > 0)); then
    echo "FAIL: leaky-tokens ($t) answered non-2xx responses where everything should be 200" >&2; status=1
  fi
  if ((${OK200[$t-contended]} + ${R429[$t-contended]} != ${REQS[$t-contended]})); then
    echo "FAIL: one key ($t): leaky-tokens answered statuses other than 200 and 429 (see the wrk outputs)" >&2; status=1
  fi
done
if ((${NON2XX[nginx-open]} > 0)); then
  echo "FAIL: the nginx reference answered non-2xx responses (limit_req rejected?): comparison invalid" >&2; status=1
fi
for key in "${!SOCKERR[@]}"; do
  ((SOCKERR[$key] == 0)) || echo "warning: $key had ${SOCKERR[$key]} socket errors (connect/read/write/timeout)" >&2
done
exit "$status"
