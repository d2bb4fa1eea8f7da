# Helpers shared by the benchmark scripts (sourced; callers define die() and log()).

commas() { awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }

cpu_snapshot() {
  local pid bench=0 t
  for pid in "${BENCH_PIDS[@]}"; do
    t="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    bench=$((bench + t))
  done
  t="$(awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat")"
  bench=$((bench + t))
  awk -v b="$bench" '/^cpu / { tot = 0; for (i = 2; i <= 9; i++) tot += $i; print tot - $5 - $6, tot, b; exit }' /proc/stat
}

# A free TCP port on 127.0.0.1, below the ephemeral range (so wrk's client ports can't take it);
# remembers it in USED_PORTS.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % 22000))
    [[ "$USED_PORTS" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo, hi}'; }

need_int() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer, got '$2'"; }

other_cpu_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    o = (y[1] - x[1]) - (y[3] - x[3]); if (o < 0) o = 0; printf "%.0f", 100 * o / (y[2] - x[2]) }'
}

parse_wrk() {
  awk '
    function ms(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000; if (u == "ms") return n; if (u == "s") return n * 1000
      if (u == "m") return n * 60000; if (u == "h") return n * 3600000
      return "NA"
    }
    /^ +50% / { p50 = ms($2) }
    /^ +99% / { p99 = ms($2) }
    /requests in / { req = $1 }
    /Socket errors:/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /^Requests\/sec:/ { rps = $2 }
    END {
      if (rps == "" || p50 == "" || p99 == "" || req == "") { print "PARSE_ERROR"; exit }
      printf "%s %s %s %d %d %d\n", rps, p50, p99, non2xx + 0, sock + 0, req
    }' "$1"
}

to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# wait_http URL PID NAME: until GET URL answers 200 (10 s), failing early if PID died.
wait_http() {
  local url=$1 pid=$2 name=$3 deadline=$((SECONDS + 10)) code
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up"; return 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)"
    [[ "$code" == 200 ]] && return 0
    sleep 0.05
  done
  log "$name: $url did not answer 200 within 10 s (last status: ${code:-none})"
  return 1
}

# stop_servers PID...: SIGTERM each, wait up to 5 s, then SIGKILL (empty arguments are skipped).
stop_servers() {
  local pid
  for pid in "$@"; do
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "$@"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# bench_workdir NAME: WORK = a new temp dir (/tmp/lt-bench-NAME.*), USED_PORTS reset (free_port's
# record), and on exit (INT and TERM included) bench_cleanup: stop_servers on the pids held by the
# variables named in BENCH_PID_VARS (scalars or arrays, read at exit), then the script's
# bench_cleanup_extra if it defines one, then remove WORK unless LT_BENCH_KEEP=1.
bench_workdir() {
  WORK="$(mktemp -d "/tmp/lt-bench-$1.XXXXXX")"
  USED_PORTS=" "
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
# shellcheck disable=SC2317  # invoked through the EXIT trap
bench_cleanup() {
  local rc=$? pids=() name
  trap - EXIT INT TERM
  for name in ${BENCH_PID_VARS:-}; do
    local -n held="$name"
    pids+=("${held[@]}")
    unset -n held
  done
  stop_servers "${pids[@]}"
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
  if [[ "${LT_BENCH_KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}

# private_binary SRC DEST: copies SRC to DEST once it is stable and runs (the build directory may be
# relinked while we measure); waits up to 60 s.
private_binary() {
  local src="$1" dest="$2" deadline=$((SECONDS + 60)) waited="" s1 s2
  while :; do
    if [[ -x "$src" ]]; then
      s1="$(stat -c '%s %Y' "$src" 2>/dev/null || true)"; sleep 0.5
      s2="$(stat -c '%s %Y' "$src" 2>/dev/null || true)"
      if [[ -n "$s1" && "$s1" == "$s2" ]] && cp "$src" "$dest" 2>/dev/null && "$dest" version >/dev/null 2>&1; then
        return 0
      fi
    fi
    ((SECONDS < deadline)) || die "no usable binary at $src (build it first: scripts/setup.sh)"
    [[ -n "$waited" ]] || log "waiting up to 60 s for $src (missing or being relinked)"
    waited=1
    sleep 1
  done
}

# render_nginx_conf TEMPLATE PREFIX [NAME=VALUE ...] — prints TEMPLATE with @PREFIX@, @USER_LINE@ (root
# runs workers as root), @EXTRA_TEMP_PATHS@ (temp paths of the optional modules compiled into this nginx;
# nginx-light may lack some) and every @NAME@ of the arguments replaced.
render_nginx_conf() {
  local template="$1" prefix="$2"; shift 2
  local user_line="# (not root: nginx workers run as the current user)"
  if [[ $EUID -eq 0 ]]; then user_line="user root;"; fi
  local extra="" build m line pair
  build="$(nginx -V 2>&1)"
  for m in fastcgi uwsgi scgi; do
    [[ "$build" == *"--without-http_${m}_module"* ]] && continue
    extra+="    ${m}_temp_path $prefix/tmp/$m;"$'\n'
  done
  while IFS= read -r line; do
    line="${line//@PREFIX@/$prefix}"
    line="${line//@USER_LINE@/$user_line}"
    line="${line//@EXTRA_TEMP_PATHS@/$extra}"
    for pair in "$@"; do line="${line//@${pair%%=*}@/${pair#*=}}"; done
    printf '%s\n' "$line"
  done <"$template"
}

# The gateway's edge limiter stays on (its cost is part of the path) with capacities no benchmark
# reaches; LT_EDGE=off turns it off, to measure what it costs.
if [ "${LT_EDGE:-on}" = "off" ]; then
  EDGE_SET=(--set gateway.rate-limit.enabled=false)
else
  EDGE_SET=(--set gateway.rate-limit.capacity=1000000000 --set gateway.rate-limit.routes.token-service.capacity=1000000000)
fi
# LT_BENCH_SET="key=value key=value": more `serve --set` flags for every leaky-tokens instance (tuning runs).
for kv in ${LT_BENCH_SET:-}; do EDGE_SET+=(--set "$kv"); done
