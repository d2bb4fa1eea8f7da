#!/usr/bin/env bash
# ctest cli_admin_verbs_test: `leaky-tokens users|keys|quotas|orgs|purchases ...` against a running
# server: human and --json output, the token from LEAKY_TOKEN, and the documented exit codes
# (0 ok, 1 refused, 2 usage, 3 unreachable, 4 not authenticated/forbidden, 5 not found).
set -u
BIN="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/lib.sh"
start_server
export LEAKY_URL="$URL"
unset LEAKY_TOKEN
# expect CODE CMD... : runs the CLI, keeps its stdout in $OUT and stderr in $ERR.
expect() {
  local want=$1; shift
  OUT="$("$BIN" "$@" 2>"$DIR/err")"; local rc=$?
  ERR="$(cat "$DIR/err")"
  [ "$rc" -eq "$want" ] || fail "leaky-tokens $* exited $rc, expected $want; out: $OUT err: $ERR"
}
json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(v[sys.argv[1]])' "$1"; }

# Without a token: 4, with the hint; unreachable: 3; usage: 2.
expect 4 quotas show --user 00000000-0000-0000-0000-000000000001 --provider openai
expect_in "$ERR" "LEAKY_TOKEN" "no token hint"
expect 3 keys list --user x --url http://127.0.0.1:1
expect 2 keys frobnicate
expect_in "$ERR" "leaky-tokens help" "usage error points to help"
expect 2 quotas allocate --user x --provider openai --tokens many

ROOT="$(curl -s -X POST "$URL/api/v1/auth/login" -d "{\"username\":\"root\",\"password\":\"$ROOT_PASSWORD\"}")"
export LEAKY_TOKEN="$(echo "$ROOT" | json_field token)"
ROOT_ID="$(echo "$ROOT" | json_field userId)"
ADA="$(curl -s -X POST "$URL/api/v1/auth/register" -d '{"username":"ada","email":"ada@example.com","password":"ada-password-1"}')"
ADA_ID="$(echo "$ADA" | json_field userId)"

# users: list (offline, on the data dir), grant and revoke roles.
expect 0 users list --set storage.data-dir="$DIR"
expect_in "$OUT" "root" "users list"; expect_in "$OUT" "ada" "users list"
expect 0 users grant --user "$ADA_ID" --role admin
expect 0 users list --json --set storage.data-dir="$DIR"
echo "$OUT" | python3 -c 'import json,sys; u={x["username"]:x["roles"] for x in json.load(sys.stdin)}; assert u["ada"]==["ADMIN","USER"], u' \
  || fail "ada should hold ADMIN: $OUT"
expect 0 users revoke --user "$ADA_ID" --role ADMIN
expect 5 users grant --user 00000000-0000-0000-0000-000000000009 --role ADMIN

# keys: create (raw key once), list, revoke; a revoked key is refused.
expect 0 keys create --user "$ADA_ID" --name ci --json
KEY="$(echo "$OUT" | json_field apiKey)"; KEY_ID="$(echo "$OUT" | json_field id)"
expect 0 keys list --user "$ADA_ID"
expect_in "$OUT" "name: ci" "keys list (human)"
expect 0 keys revoke --user "$ADA_ID" --key "$KEY_ID"
expect 5 keys revoke --user "$ADA_ID" --key "$KEY_ID"
LEAKY_TOKEN="$KEY" expect 4 keys list --user "$ADA_ID"

# quotas: allocate and show (user and org); a USER cannot allocate (4).
expect 0 quotas allocate --user "$ADA_ID" --provider openai --tokens 1000 --json
[ "$(echo "$OUT" | json_field remainingTokens)" = 1000 ] || fail "allocate: $OUT"
expect 0 quotas show --user "$ADA_ID" --provider openai
expect_in "$OUT" "totalTokens: 1000" "quotas show"
ADA_TOKEN="$(echo "$ADA" | json_field token)"
LEAKY_TOKEN="$ADA_TOKEN" expect 4 quotas allocate --user "$ADA_ID" --provider openai --tokens 5
expect 2 quotas show --provider openai

# orgs: create, members add and list, an org quota.
expect 0 orgs create --name Research --json
ORG="$(echo "$OUT" | json_field orgId)"
expect 0 orgs members add --org "$ORG" --user "$ADA_ID"
expect 0 orgs members list --org "$ORG" --json
expect_in "$OUT" "$ADA_ID" "members list"
expect 0 quotas allocate --org "$ORG" --provider qwen --tokens 500
expect 1 orgs create --name Research --org "$ORG"

# purchases: a saga by id, and an unknown one (5).
SAGA="$(curl -s -X POST "$URL/api/v1/tokens/purchase" -H "Authorization: Bearer $ADA_TOKEN" -H 'Idempotency-Key: cli-1' \
  -d "{\"userId\":\"$ADA_ID\",\"provider\":\"openai\",\"tokens\":300}" | json_field sagaId)"
expect 0 purchases show "$SAGA"
expect_in "$OUT" "COMPLETED" "purchase saga"
expect 5 purchases show 00000000-0000-0000-0000-000000000000
echo "cli admin verbs: ok"
