#!/usr/bin/env bash
# ctest try_it_readme_test: README's "Try it" block is the text of scripts/try-it.sh, and that script
# runs as written against a fresh server — twice (the second run logs in instead of registering).
set -u
BIN="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
. "$HERE/lib.sh"

readme_block="$(sed -n '/<!-- try-it:begin -->/,/<!-- try-it:end -->/p' "$SRC/README.md" | sed '1,2d;$d' | sed '$d')"
script_block="$(sed -n '/^# try-it:begin$/,/^# try-it:end$/p' "$SRC/scripts/try-it.sh" | sed '1d;$d')"
[ -n "$readme_block" ] || fail "README.md has no block between <!-- try-it:begin --> and <!-- try-it:end -->"
if [ "$readme_block" != "$script_block" ]; then
  diff <(echo "$readme_block") <(echo "$script_block")
  fail "README's Try it block and scripts/try-it.sh differ (diff above: < README, > script)"
fi
echo "README block = scripts/try-it.sh ($(echo "$readme_block" | wc -l) lines)"

start_server
first="$(bash "$SRC/scripts/try-it.sh" "$URL" 2>&1)" || fail "first run exited non-zero: $first"
echo "$first"
case "$first" in *'"status":4'[0-9][0-9]*|*'"status":5'[0-9][0-9]*) fail "first run got an error answer" ;; esac
expect_in "$first" '"status":"COMPLETED"' "purchase"
expect_in "$first" '"allowed":true' "consume"
expect_in "$first" '"remainingTokens":4950' "quota after one consume"
expect_in "$first" '"totalEvents":1,' "analytics report after the wait"
expect_in "$first" '"averageTokensPerEvent":50.0' "doubles print as 50.0"

second="$(bash "$SRC/scripts/try-it.sh" "$URL" 2>&1)" || fail "second run exited non-zero: $second"
echo "$second"
case "$second" in *'"status":4'[0-9][0-9]*|*'"status":5'[0-9][0-9]*) fail "second run got an error answer" ;; esac
expect_in "$second" '"remainingTokens":4900' "second run: the purchase is not repeated, one more consume"
echo "try-it: ok (twice)"
