#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Redis servers for the tests, on free loopback ports, data in a temp dir.
#
#   scripts/test-servers.sh start   # starts both (idempotent), writes build/test-servers.env, prints URLs
#   scripts/test-servers.sh stop    # stops both and removes the temp dir (idempotent)
#   scripts/test-servers.sh status  # prints the URLs when both answer, exits 1 otherwise
#   scripts/test-servers.sh pg-stop|pg-start|redis-stop|redis-start   # outage drills, same port and data
#
# build/test-servers.env is a shell file (`set -a; . build/test-servers.env; set +a`) holding
#   LT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/lt_test
#   LT_TEST_REDIS_URL=redis://127.0.0.1:PORT/0
# plus LT_TEST_SERVERS_DIR, LT_TEST_POSTGRES_PORT, LT_TEST_REDIS_PORT, LT_TEST_REDIS_PID used by `stop`.
# The env file's location can be changed with LT_TEST_SERVERS_ENV (default: <repo>/build/test-servers.env).
# PostgreSQL keeps fsync on (durable, as in production); authentication is `trust` on loopback only.
# LT_TEST_PG_OPTIONS adds server options, e.g. "-c shared_preload_libraries=pg_stat_statements" to
# profile the statements of a benchmark (scripts/bench/consume.sh --profile production).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
env_file="${LT_TEST_SERVERS_ENV:-$repo/build/test-servers.env}"
pg_bin="${LT_PG_BIN:-/usr/lib/postgresql/15/bin}"
pg_user=postgres
pg_db=lt_test

# Runs a command as the postgres OS user when we are root (initdb/postgres refuse to run as root).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

pg_answers() {  # port
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$1" -t 1 >/dev/null 2>&1
}

redis_answers() {  # port
    [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]
}

print_urls() {
    echo "LT_TEST_POSTGRES_URL=$LT_TEST_POSTGRES_URL"
    echo "LT_TEST_REDIS_URL=$LT_TEST_REDIS_URL"
}

load_env() {
    [[ -f "$env_file" ]] || return 1
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
}

running() {
    load_env || return 1
    pg_answers "$LT_TEST_POSTGRES_PORT" && redis_answers "$LT_TEST_REDIS_PORT"
}

do_stop() {
    load_env || return 0
    if [[ -n "${LT_TEST_SERVERS_DIR:-}" && -d "$LT_TEST_SERVERS_DIR/pg" ]]; then
        as_pg "$pg_bin/pg_ctl" -D "$LT_TEST_SERVERS_DIR/pg" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
    if [[ -n "${LT_TEST_REDIS_PORT:-}" ]]; then
        redis-cli -h 127.0.0.1 -p "$LT_TEST_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    fi
    if [[ -n "${LT_TEST_REDIS_PID:-}" ]] && kill -0 "$LT_TEST_REDIS_PID" 2>/dev/null; then
        kill "$LT_TEST_REDIS_PID" 2>/dev/null || true
    fi
    if [[ -n "${LT_TEST_SERVERS_DIR:-}" && "$LT_TEST_SERVERS_DIR" == */lt-test-servers.* ]]; then
        rm -rf "$LT_TEST_SERVERS_DIR"
    fi
    rm -f "$env_file"
}

wait_for() {  # description command...
    local what="$1"
    shift
    for _ in $(seq 1 100); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    echo "test-servers: $what did not answer within 10 s" >&2
    return 1
}

start_pg() {  # dir port
    # Loopback only, unix socket in the temp dir; fsync/synchronous_commit keep their durable defaults.
    as_pg "$pg_bin/pg_ctl" -D "$1/pg" -l "$1/postgres.log" -w -t 30 \
        -o "-p $2 -k $1 -c listen_addresses=127.0.0.1 -c max_connections=300 ${LT_TEST_PG_OPTIONS:-}" start >/dev/null \
        || { cat "$1/postgres.log" >&2; exit 1; }
    wait_for "PostgreSQL" pg_answers "$2"
}

do_start() {
    if running; then
        print_urls
        return 0
    fi
    do_stop  # a stale env file from a dead run

    local dir pg_port redis_port
    dir="$(mktemp -d "${TMPDIR:-/tmp}/lt-test-servers.XXXXXX")"
    chmod 755 "$dir"
    mkdir -p "$dir/pg" "$dir/redis"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir" "$dir/pg"
    fi
    # Written first so that `stop` can clean up after a failed start.
    mkdir -p "$(dirname "$env_file")"
    echo "LT_TEST_SERVERS_DIR=$dir" > "$env_file"

    pg_port="$(free_port)"
    as_pg "$pg_bin/initdb" -D "$dir/pg" -U "$pg_user" --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
        > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    start_pg "$dir" "$pg_port"
    "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $pg_db" >/dev/null

    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null
    wait_for "Redis" redis_answers "$redis_port"

    cat > "$env_file" <<EOF
LT_TEST_POSTGRES_URL=postgresql://$pg_user@127.0.0.1:$pg_port/$pg_db
LT_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
LT_TEST_SERVERS_DIR=$dir
LT_TEST_POSTGRES_PORT=$pg_port
LT_TEST_REDIS_PORT=$redis_port
LT_TEST_REDIS_PID=$(cat "$dir/redis/redis.pid")
EOF
    load_env
    print_urls
}

need_env() {
    load_env || { echo "test-servers: not started ($env_file missing)" >&2; exit 1; }
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    status) if running; then print_urls; else exit 1; fi ;;
    # Failure drills (store outage tests): stop one server and start it again on the same port/data.
    pg-stop) need_env; as_pg "$pg_bin/pg_ctl" -D "$LT_TEST_SERVERS_DIR/pg" -m fast -w -t 20 stop >/dev/null ;;
    pg-start) need_env; start_pg "$LT_TEST_SERVERS_DIR" "$LT_TEST_POSTGRES_PORT" ;;
    redis-stop) need_env; redis-cli -h 127.0.0.1 -p "$LT_TEST_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    redis-start)
        need_env
        redis-server --port "$LT_TEST_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
            --dir "$LT_TEST_SERVERS_DIR/redis" --pidfile "$LT_TEST_SERVERS_DIR/redis/redis.pid" \
            --logfile "$LT_TEST_SERVERS_DIR/redis/redis.log" >/dev/null
        wait_for "Redis" redis_answers "$LT_TEST_REDIS_PORT"
        sed -i "s/^LT_TEST_REDIS_PID=.*/LT_TEST_REDIS_PID=$(cat "$LT_TEST_SERVERS_DIR/redis/redis.pid")/" "$env_file"
        ;;
    *) echo "usage: $0 start|stop|status|pg-stop|pg-start|redis-stop|redis-start" >&2; exit 2 ;;
esac
