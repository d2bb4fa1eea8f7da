#!/usr/bin/env bash
# Builds the production image from ./Dockerfile without a Docker engine, starts it and checks that
# it serves. Needs root and Debian's buildah and debootstrap (scripts/setup.sh installs them); the
# only network it uses is the Debian mirror.
#
#   1. debian:bookworm and debian:bookworm-slim are made locally from one debootstrap minbase root
#      (cached under $LT_CONTAINER_CACHE, so reruns skip it): `buildah from scratch`, the root copied
#      in, `buildah commit`. The slim image drops docs, man pages and locales like Docker's.
#   2. `buildah bud --isolation chroot --network host --pull=never --layers` builds the Dockerfile
#      (its apt layers are cached between runs; its ccache lives in a build cache mount).
#   3. The image's ENTRYPOINT runs with `--set server.port=<free port>` under
#      `buildah run --isolation chroot --network host`; /actuator/health must answer UP within 60 s
#      and `leaky-tokens version` must list every adapter that has a directory under src/adapters/.
#   4. The server is stopped with SIGTERM and the working container removed.
#
# Usage: scripts/container-test.sh
# Environment: LT_CONTAINER_CACHE (default ~/.cache/leaky-tokens/container), LT_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), LT_IMAGE (default leaky-tokens:test), LT_KEEP_IMAGE=1 keeps
# the built image, LT_REFRESH_BASE=1 rebuilds the debootstrap root and the base images.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${LT_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaky-tokens/container}
MIRROR=${LT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=${LT_IMAGE:-leaky-tokens:test}
ROOT=$CACHE/bookworm-minbase
BUILDAH=(buildah --storage-driver "${LT_STORAGE_DRIVER:-overlay}")
started=$SECONDS

log() { echo "container-test: [$((SECONDS - started))s] $*"; }
die() { echo "container-test: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (buildah's chroot isolation and debootstrap need it)"
for tool in buildah debootstrap curl python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done
mkdir -p "$CACHE"

# --- 1. base images ---------------------------------------------------------------------------
if [ "${LT_REFRESH_BASE:-0}" = 1 ]; then
  rm -rf "$ROOT"
  "${BUILDAH[@]}" rmi -f debian:bookworm debian:bookworm-slim >/dev/null 2>&1 || true
fi
if [ ! -e "$ROOT/.lt-complete" ]; then
  log "debootstrap bookworm (minbase) from $MIRROR"
  rm -rf "$ROOT.tmp"
  debootstrap --variant=minbase bookworm "$ROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log"; die "debootstrap"; }
  cat >"$ROOT.tmp/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # As Docker's Debian images: no package cache, no recommends, no interactive frontends.
  cat >"$ROOT.tmp/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT
  echo 'APT::Install-Recommends "false";' >"$ROOT.tmp/etc/apt/apt.conf.d/docker-no-recommends"
  rm -rf "$ROOT.tmp"/var/cache/apt/archives/*.deb "$ROOT.tmp"/var/lib/apt/lists/*
  touch "$ROOT.tmp/.lt-complete"
  mv "$ROOT.tmp" "$ROOT"
fi

# make_base TAG [tar --exclude patterns...]: commits the cached root as localhost/debian:TAG.
make_base() {
  local tag=$1
  shift
  if "${BUILDAH[@]}" inspect --type image "debian:$tag" >/dev/null 2>&1; then
    return
  fi
  log "committing debian:$tag"
  local tarball=$CACHE/$tag.tar
  tar -C "$ROOT" --numeric-owner --exclude=./.lt-complete --exclude='./dev/*' --exclude='./proc/*' \
    --exclude='./sys/*' --exclude='./run/*' "$@" -cf "$tarball" .
  local ctr
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$tarball" / >/dev/null
  if [ "$tag" = bookworm-slim ]; then
    local extra
    extra=$(mktemp -d)
    mkdir -p "$extra/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/lintian/*' \
      >"$extra/etc/dpkg/dpkg.cfg.d/docker-slim"
    "${BUILDAH[@]}" copy "$ctr" "$extra/etc" /etc >/dev/null
    rm -rf "$extra"
  fi
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$ctr"
  "${BUILDAH[@]}" commit --rm -q "$ctr" "localhost/debian:$tag" >/dev/null
  rm -f "$tarball"
}
make_base bookworm
make_base bookworm-slim --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' \
  --exclude='./usr/share/info/*' --exclude='./usr/share/locale/*' --exclude='./usr/share/groff/*' \
  --exclude='./usr/share/lintian/*'

# --- 2. the image -----------------------------------------------------------------------------
log "buildah bud -t $IMAGE"
# The console's `npm ci` runs inside the build. Where the npm registry is reached through a proxy with
# its own CA (as on our CI machines), the host's CA bundle is lent to the build's RUN steps and named
# in NODE_EXTRA_CA_CERTS; the image does not keep it (a bind mount, not a layer).
ca_args=()
host_ca=${LT_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$host_ca" ]; then
  ca_args=(--volume "$host_ca:/run/lt-build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/lt-build-ca.crt)
fi
# Docker format: the OCI format has no HEALTHCHECK.
"${BUILDAH[@]}" bud --isolation chroot --network host --pull=never --layers --format docker "${ca_args[@]}" -t "$IMAGE" . \
  >"$CACHE/bud.log" 2>&1 || { tail -40 "$CACHE/bud.log"; die "buildah bud (log: $CACHE/bud.log)"; }
log "built $IMAGE ($("${BUILDAH[@]}" images --format '{{.Size}}' "$IMAGE" | head -1))"

# --- 3. run it --------------------------------------------------------------------------------
ctr=$("${BUILDAH[@]}" from --pull=never "$IMAGE")
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true
  if [ "${LT_KEEP_IMAGE:-0}" != 1 ]; then "${BUILDAH[@]}" rmi "$IMAGE" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# image_config FIELD: one line per element of the image's Entrypoint, or of its HEALTHCHECK command.
inspect_json=$("${BUILDAH[@]}" inspect --type container "$ctr")
image_config() {
  python3 -c '
import json, sys
config = json.loads(sys.stdin.read())["Docker"]["config"]
if sys.argv[1] == "entrypoint":
    items = config.get("Entrypoint") or []
else:
    test = (config.get("Healthcheck") or {}).get("Test") or []
    items = test[1:] if test[:1] == ["CMD"] else []
print("\n".join(items))' "$1" <<<"$inspect_json"
}
mapfile -t entrypoint < <(image_config entrypoint)
[ "${#entrypoint[@]}" -gt 0 ] || die "the image has no ENTRYPOINT"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting ${entrypoint[*]} --set server.port=$port"
"${BUILDAH[@]}" run --isolation chroot --network host "$ctr" -- "${entrypoint[@]}" --set "server.port=$port" \
  >"$CACHE/serve.log" 2>&1 &
server=$!

health=""
for _ in $(seq 1 120); do
  health=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/actuator/health" 2>/dev/null) && break
  kill -0 "$server" 2>/dev/null || { cat "$CACHE/serve.log"; die "the server exited"; }
  sleep 0.5
done
echo "$health" | python3 -c 'import json,sys; b=json.load(sys.stdin); sys.exit(b.get("status") != "UP")' ||
  { cat "$CACHE/serve.log"; die "/actuator/health did not answer UP: $health"; }
log "/actuator/health: $health"

# The image's own HEALTHCHECK command, run in the container as Docker would (its port from LEAKY_PORT).
mapfile -t probe < <(image_config healthcheck)
[ "${#probe[@]}" -gt 0 ] || die "the image has no HEALTHCHECK [\"CMD\", ...]"
"${BUILDAH[@]}" run --isolation chroot --network host --env "LEAKY_PORT=$port" "$ctr" -- "${probe[@]}" ||
  die "the image's HEALTHCHECK fails against a healthy server"
log "HEALTHCHECK passes"

version=$("${BUILDAH[@]}" run --isolation chroot --network host "$ctr" -- leaky-tokens version)
log "version: $(echo "$version" | tr '\n' ' ')"
grep -q '^adapters:.* sql:sqlite' <<<"$version" || die "version lists no adapters"
for tech in postgres redis kafka; do
  if [ -d "src/adapters/$tech" ]; then
    grep -q "^adapters:.*:$tech\b" <<<"$version" || die "version does not list the $tech adapter"
  fi
done
# The production profile refuses to start without its database, naming the variable and the key.
if refused=$("${BUILDAH[@]}" run --isolation chroot --network host "$ctr" -- \
    leaky-tokens serve --profile production --set "server.port=$port" 2>&1); then
  die "serve --profile production started without LEAKY_SQL_URL"
fi
grep -q "key 'storage.sql.url': environment variable LEAKY_SQL_URL is not set" <<<"$refused" ||
  die "serve --profile production without LEAKY_SQL_URL: unexpected answer: $refused"
log "serve --profile production without LEAKY_SQL_URL is refused, naming it"

user=$("${BUILDAH[@]}" run --isolation chroot "$ctr" -- id -u)
[ "$user" != 0 ] || die "the image runs as root"

kill -TERM "$server"
for _ in $(seq 1 30); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
kill -0 "$server" 2>/dev/null && die "the server did not stop within 15 s of SIGTERM"
wait "$server" 2>/dev/null || true
server=""
log "passed in $((SECONDS - started)) s"
