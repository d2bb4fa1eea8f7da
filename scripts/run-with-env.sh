#!/usr/bin/env bash
# Runs a command (a test executable) against a fresh PostgreSQL database of the test server, then
# drops that database. The server comes from LT_TEST_POSTGRES_URL, or from build/test-servers.env
# (scripts/test-servers.sh start). The command gets
#   LT_TEST_EXTRA_SET=storage.sql.driver=postgres;storage.sql.url=<fresh database>[;<previous value>]
# which tests/support/test_app.hpp applies to every TestApp. Exits 77 (ctest SKIP_RETURN_CODE) with
# a message when no server is configured.
#
# With --production the command runs on the whole production profile: also Redis (database 3 of the
# test server, flushed by every TestApp) and Kafka (a librdkafka mock cluster, build/lt-kafka-mock,
# started here and stopped at the end).
#
#   scripts/run-with-env.sh [--production] build/tests/integration_test [doctest args...]
set -euo pipefail

production=0
if [[ "${1:-}" == "--production" ]]; then
    production=1
    shift
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
env_file="${LT_TEST_SERVERS_ENV:-$repo/build/test-servers.env}"
if [[ -z "${LT_TEST_POSTGRES_URL:-}" && -f "$env_file" ]]; then
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
fi
if [[ -z "${LT_TEST_POSTGRES_URL:-}" ]]; then
    echo "SKIPPED: LT_TEST_POSTGRES_URL is not set and $env_file does not exist (scripts/test-servers.sh start)"
    exit 77
fi

url="$LT_TEST_POSTGRES_URL"
query=""
if [[ "$url" == *\?* ]]; then
    query="?${url#*\?}"
    url="${url%%\?*}"
fi
db="lt_test_$(date +%s)_$$_${RANDOM}"
fresh="${url%/*}/$db$query"

psql "$LT_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
cleanup() {
    psql "$LT_TEST_POSTGRES_URL" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

extra="storage.sql.driver=postgres;storage.sql.url=$fresh"
if [[ $production == 1 ]]; then
    if [[ -z "${LT_TEST_REDIS_URL:-}" ]]; then
        echo "SKIPPED: LT_TEST_REDIS_URL is not set (scripts/test-servers.sh start)"
        exit 77
    fi
    mock_out="$(mktemp)"
    "$repo/build/lt-kafka-mock" --brokers 1 >"$mock_out" 2>&1 &
    mock_pid=$!
    cleanup_production() {
        kill "$mock_pid" 2>/dev/null || true
        wait "$mock_pid" 2>/dev/null || true
        rm -f "$mock_out"
        cleanup
    }
    trap cleanup_production EXIT
    brokers=""
    for _ in $(seq 100); do
        brokers="$(sed -n 's/^BOOTSTRAP=//p' "$mock_out")"
        [[ -n "$brokers" ]] && break
        sleep 0.05
    done
    [[ -n "$brokers" ]] || { echo "lt-kafka-mock did not start"; cat "$mock_out"; exit 1; }
    # A Redis database per run (ctest runs several at once and TestApps empty theirs at start).
    redis="${LT_TEST_REDIS_URL%/*}/${LT_TEST_REDIS_DB:-3}"
    extra="$extra;auth.jwt.key-encryption-key=lt-test-key-encryption-passphrase;storage.kv.driver=redis;storage.kv.url=$redis;storage.events.driver=kafka;storage.events.brokers=$brokers;storage.events.create-topics=false;gateway.rate-limit.routes.analytics-service.capacity=1000000"
    # (The analytics tests poll their reports while Kafka delivers: the edge limit must not refuse the polling.)
fi
if [[ -n "${LT_TEST_EXTRA_SET:-}" ]]; then extra="$extra;$LT_TEST_EXTRA_SET"; fi
set +e
LT_TEST_EXTRA_SET="$extra" "$@"
rc=$?
set -e
exit $rc
