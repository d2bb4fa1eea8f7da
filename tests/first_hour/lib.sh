# Shared by the first-hour ctest scripts: a fresh `leaky-tokens serve` on a free loopback port with a
# throwaway data directory and a bootstrap admin (root / root-password-1). Source it, then start_server.
BIN="${BIN:?the leaky-tokens binary}"
ROOT_PASSWORD=root-password-1
fail() { echo "FAIL: $*"; [ -n "${DIR:-}" ] && [ -f "$DIR/serve.log" ] && tail -n 20 "$DIR/serve.log"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() {
  DIR="$(mktemp -d)"
  PORT="$(free_port)"
  URL="http://127.0.0.1:$PORT"
  "$BIN" serve --set server.port="$PORT" --set server.address=127.0.0.1 --set storage.data-dir="$DIR" \
    --set auth.bootstrap-admin.username=root --set auth.bootstrap-admin.password="$ROOT_PASSWORD" \
    --set log.access=false "$@" >"$DIR/serve.log" 2>&1 &
  PID=$!
  trap stop_server EXIT
  for _ in $(seq 1 100); do
    curl -sf "$URL/actuator/health" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || fail "serve exited at start"
    sleep 0.1
  done
  fail "serve did not answer /actuator/health within 10 s"
}
stop_server() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "${DIR:-}" ] && rm -rf "$DIR"
  return 0
}
# expect_in TEXT NEEDLE WHAT
expect_in() { case "$1" in *"$2"*) ;; *) fail "$3: expected '$2' in: $1" ;; esac; }
