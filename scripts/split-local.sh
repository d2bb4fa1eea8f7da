#!/usr/bin/env bash
# Split mode on a laptop, one command: four `leaky-tokens serve` processes with their own data
# directories and SQLite files, registered with the registry in the first one:
#   gateway+registry(+config) :8080 | auth :8081 | token+providers :8082 | analytics :8083
# The public API is on the gateway (http://127.0.0.1:8080). Ctrl-C stops all four (SIGTERM: each
# deregisters and drains).
#
# Environment: LT_BIN (default build/leaky-tokens), LT_SPLIT_DIR (default ./var/split),
# LT_SPLIT_BASE_PORT (default 8080), LEAKY_CLUSTER_SECRET (default: a random one for this run).
# Extra arguments are passed to every process (e.g. --set log.level=debug).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${LT_BIN:-$root/build/leaky-tokens}"
dir="${LT_SPLIT_DIR:-$root/var/split}"
base="${LT_SPLIT_BASE_PORT:-8080}"
export LEAKY_CLUSTER_SECRET="${LEAKY_CLUSTER_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

[ -x "$bin" ] || { echo "no executable at $bin (cmake --build build --target leaky-tokens)" >&2; exit 1; }

# The gateway process also hosts the config module when this build has it.
first="gateway,registry"
probe="$("$bin" serve --modules config,nosuchmodule 2>&1 || true)"
if [[ "$probe" != *"unknown module 'config'"* ]]; then
  first="gateway,registry,config"
fi

layout=(
  "gateway:$first:$base"
  "auth:auth:$((base + 1))"
  "token:token,providers:$((base + 2))"
  "analytics:analytics:$((base + 3))"
)
registry="http://127.0.0.1:$base"
pids=()

stop() {
  trap - INT TERM EXIT
  echo "stopping..."
  # One at a time in reverse order, the registry last, so every process can deregister.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "stopped"
}
trap stop INT TERM EXIT

for entry in "${layout[@]}"; do
  IFS=: read -r name modules port <<<"$entry"
  mkdir -p "$dir/$name"
  # setsid: Ctrl-C reaches only this script, which then stops the processes in order.
  setsid "$bin" serve --modules "$modules" \
    --set "server.port=$port" --set "storage.data-dir=$dir/$name" --set "registry.url=$registry" "$@" \
    >"$dir/$name/server.log" 2>&1 &
  pids+=($!)
  # Wait for this process's health before starting the next (the registry first).
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/actuator/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "$name failed to start, see $dir/$name/server.log" >&2; exit 1; fi
    sleep 0.1
  done
  echo "$name ($modules) on http://127.0.0.1:$port  log: $dir/$name/server.log"
done
echo "split mode up: public API on http://127.0.0.1:$base (Ctrl-C stops all)"
wait
