# syntax=docker/dockerfile:1
# Production image: one container running `leaky-tokens serve` with every storage adapter compiled
# in (SQLite, PostgreSQL, Redis, Kafka). Configure it with `--profile production` and environment
# variables (LEAKY_SQL_URL, LEAKY_REDIS_URL, LEAKY_KAFKA_BROKERS, LEAKY_SET, LEAKY_CONFIG); see
# docs/operations.md and deploy/compose/. scripts/container-test.sh builds and starts it with buildah.

# --- build: the compiler and the -dev packages (scripts/setup.sh lists the same ones); Node.js and npm
# build the admin console (console/: npm ci from its package-lock.json, then vite build) ------------
FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
# Optional: a CA bundle (a path inside the build) for an npm registry reached through a TLS-intercepting
# proxy; scripts/container-test.sh passes the host's. Unset normally.
ARG NODE_EXTRA_CA_CERTS
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build ccache pkg-config \
      libboost1.81-dev libboost-json1.81-dev \
      libspdlog-dev libfmt-dev libyaml-cpp-dev libexpected-dev \
      libsqlite3-dev libssl-dev libcrypt-dev libjemalloc-dev \
      libpq-dev libhiredis-dev librdkafka-dev libicu-dev \
      nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the server target, without tests. The ccache directory is a build cache mount, so a rebuild
# after a small change recompiles only what changed.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLT_BUILD_TESTS=OFF \
      -DLT_WITH_POSTGRES=ON -DLT_WITH_REDIS=ON -DLT_WITH_KAFKA=ON \
 && cmake --build /build --target leaky-tokens \
 && strip /build/leaky-tokens

# --- runtime: the shared libraries the binary links, nothing else ----------------------------------
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libspdlog1.10 libfmt9 libyaml-cpp0.7 libboost-json1.81.0 libjemalloc2 \
      libsqlite3-0 libssl3 libpq5 libhiredis0.14 librdkafka1 libicu72 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/leaky-tokens --no-create-home \
      --shell /usr/sbin/nologin leaky \
 && install -d -o leaky -g leaky -m 0750 /var/lib/leaky-tokens
COPY --from=build /build/leaky-tokens /usr/local/bin/leaky-tokens
# Fails the build when a shared library of the binary is missing from this stage.
RUN ! ldd /usr/local/bin/leaky-tokens | grep 'not found' && leaky-tokens version

# Local data (keys, SQLite files of the embedded profile); the production profile keeps state in
# PostgreSQL, Redis and Kafka.
ENV LEAKY_DATA_DIR=/var/lib/leaky-tokens
VOLUME /var/lib/leaky-tokens
WORKDIR /var/lib/leaky-tokens
USER 10001:10001
EXPOSE 8080
# No curl in the image: bash's /dev/tcp sends the request; healthy = HTTP 200 with status UP.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["bash", "-c", \
  "exec 3<>/dev/tcp/127.0.0.1/${LEAKY_PORT:-8080} && printf 'GET /actuator/health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -c 2048 <&3 | tr -d '\\r' | grep -q '^HTTP/1.[01] 200'"]
ENTRYPOINT ["leaky-tokens", "serve"]
