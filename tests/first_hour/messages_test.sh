#!/usr/bin/env bash
# ctest first_hour_messages_test: the messages a new user meets first (issue 16).
set -u
BIN="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"

# A usage error: the error and one line pointing to help, not the whole usage text.
out="$("$BIN" serve --bogus 2>&1)"; rc=$?
[ $rc -eq 2 ] || fail "usage error exit code $rc"
expect_in "$out" "unknown option '--bogus'" "usage error"
expect_in "$out" "leaky-tokens help" "usage error points to help"
[ "$(echo "$out" | wc -l)" -le 2 ] || fail "usage error printed $(echo "$out" | wc -l) lines: $out"

# An unknown key suggests the closest one.
out="$("$BIN" config check --set server.prot=9090 2>&1)"; rc=$?
[ $rc -eq 1 ] || fail "config check of an unknown key: exit $rc"
expect_in "$out" "unknown key 'server.prot'; did you mean 'server.port'?" "did you mean"
out="$("$BIN" config check --set providers.openai.latncy=5ms 2>&1)"
expect_in "$out" "did you mean 'providers.openai.latency'?" "did you mean under a * segment"

# --profile: an unknown name lists the profiles that exist; config check takes a whole profile.
out="$("$BIN" serve --profile dev 2>&1)"; rc=$?
[ $rc -eq 1 ] || fail "serve --profile dev: exit $rc"
expect_in "$out" "unknown profile 'dev'" "unknown profile"
expect_in "$out" "production" "the known profiles are listed"
out="$(LEAKY_SQL_URL=postgresql://u@h/db LEAKY_REDIS_URL=redis://h:6379 LEAKY_KAFKA_BROKERS=h:9092 LEAKY_KEY_ENCRYPTION_KEY=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "$BIN" config check --profile production 2>&1)"; rc=$?
[ $rc -eq 0 ] || fail "config check --profile production: exit $rc: $out"

start_server

# An empty Bearer token names the missing token, not the scheme.
out="$(curl -s -H 'Authorization: Bearer ' "$URL/api/v1/tokens/quota?userId=x&provider=openai")"
expect_in "$out" '"status":401' "empty bearer"
expect_in "$out" "authentication required: the Bearer token is empty" "empty bearer message"

# Doubles print as the original prints them: 0.0, not 0E0.
out="$(curl -s -X POST "$URL/api/v1/auth/login" -d "{\"username\":\"root\",\"password\":\"$ROOT_PASSWORD\"}")"
TOKEN="$(echo "$out" | sed 's/.*"token":"\([^"]*\)".*/\1/')"
out="$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/analytics/report?provider=qwen")"
expect_in "$out" '"averageTokensPerEvent":0.0' "a double prints as 0.0"

# A port in use: one line naming the port and the process holding it, before any module starts.
out="$("$BIN" serve --set server.port="$PORT" --set storage.data-dir="$DIR/second" 2>&1)"; rc=$?
[ $rc -eq 1 ] || fail "serve on a used port: exit $rc"
expect_in "$out" "port $PORT on 0.0.0.0 is already in use (by pid $PID" "port in use names port and holder"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "port in use printed more than one line: $out"
[ ! -e "$DIR/second" ] || fail "the second serve touched its data dir before the port check"
echo "messages: ok"
