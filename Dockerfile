# Production image: one container running `leaky-tokens serve`, configured by a profile and
# environment variables (LEAKY_CONFIG, LEAKY_SET).
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/setup.sh -DLT_BUILD_TESTS=OFF

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libspdlog1.10 libfmt9 libyaml-cpp0.7 libsqlite3-0 libssl3 libjemalloc2 libboost-json1.81.0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --create-home --home-dir /var/lib/leaky-tokens leaky
COPY --from=build /src/build/leaky-tokens /usr/local/bin/leaky-tokens
COPY config /etc/leaky-tokens
USER leaky
WORKDIR /var/lib/leaky-tokens
ENV LEAKY_SET="storage.data-dir=/var/lib/leaky-tokens"
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD curl -fsS localhost:8080/actuator/health/liveness || exit 1
ENTRYPOINT ["leaky-tokens", "serve", "--config", "/etc/leaky-tokens/leaky-tokens.yaml"]
