#!/usr/bin/env bash
# README "Try it", line for line: the block between the try-it markers below is the README's block
# between its <!-- try-it:begin/end --> markers (ctest try_it_readme_test checks they are the same
# text, then runs this script twice against a fresh server). Usage: scripts/try-it.sh [URL]
set -eu
URL=${1:-${URL:-http://localhost:8080}}
# try-it:begin
URL=${URL:-http://localhost:8080}
curl -s $URL/actuator/health -w '\n'
# An account: register (201), or log in when "ada" exists already. Keep the JWT and the user id.
R=$(curl -s -X POST $URL/api/v1/auth/register -d '{"username":"ada","email":"ada@example.com","password":"s3cret-pass"}')
case $R in *'"token"'*) ;; *) R=$(curl -s -X POST $URL/api/v1/auth/login -d '{"username":"ada","password":"s3cret-pass"}') ;; esac
TOKEN=$(echo "$R" | sed 's/.*"token":"\([^"]*\)".*/\1/')
USER_ID=$(echo "$R" | sed 's/.*"userId":"\([^"]*\)".*/\1/')
AUTH="Authorization: Bearer $TOKEN"
curl -s -X POST $URL/api/v1/openai/chat -H "$AUTH" -d '{"prompt":"Hello"}' -w '\n'
# A new user holds 0 tokens (consume answers 402): buy 5000 first. The same Idempotency-Key on a
# rerun answers the same saga instead of buying again.
curl -s -X POST $URL/api/v1/tokens/purchase -H "$AUTH" -H "Idempotency-Key: try-it-$USER_ID" \
     -d '{"userId":"'$USER_ID'","provider":"openai","tokens":5000}' -w '\n'    # 202 {"sagaId":…,"status":"COMPLETED",…}
curl -s -X POST $URL/api/v1/tokens/consume -H "$AUTH" \
     -d '{"userId":"'$USER_ID'","provider":"openai","tokens":50,"prompt":"Hello"}' -w '\n'
curl -s "$URL/api/v1/tokens/quota?userId=$USER_ID&provider=openai" -H "$AUTH" -w '\n'   # 50 fewer remaining
# Analytics counts a consume once the outbox relay has published it to the event log (usually well
# under a second, token.outbox.*): the loop waits for that, then prints the report.
for i in 1 2 3 4 5 6 7 8 9 10; do
  curl -s "$URL/api/v1/analytics/report?provider=openai" -H "$AUTH" | grep -q '"totalEvents":0,' || break
  sleep 1
done
curl -s "$URL/api/v1/analytics/report?provider=openai" -H "$AUTH" -w '\n'
# try-it:end
