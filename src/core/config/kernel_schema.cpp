// The kernel's keys. Their default values live in config/leaky-tokens.yaml, their documentation in
// docs/configuration.md (a test keeps the two complete).
#include <utility>

#include "lt/core/config.hpp"

namespace lt::config {
namespace {

KeySpec key(std::string pattern, Type type, std::string description, std::optional<double> min = std::nullopt,
            std::optional<double> max = std::nullopt) {
    KeySpec spec;
    spec.pattern = std::move(pattern);
    spec.type = type;
    spec.description = std::move(description);
    spec.min = min;
    spec.max = max;
    return spec;
}

KeySpec choice(std::string pattern, std::vector<std::string> choices, std::string description) {
    KeySpec spec = key(std::move(pattern), Type::enumeration, std::move(description));
    spec.choices = std::move(choices);
    return spec;
}

KeySpec secret(KeySpec spec) {
    spec.secret = true;
    return spec;
}

constexpr double kMillisecond = 1;

}  // namespace

void describe_kernel(Schema& schema) {
    // server.*
    schema.add(key("server.port", Type::integer, "TCP port of the HTTP server; 0 picks a free port and logs it", 0,
                   65535));
    schema.add(key("server.address", Type::string, "Address the HTTP server binds to"));
    schema.add(key("server.threads", Type::integer, "I/O threads; 0 means one per CPU core", 0, 1024));
    schema.add(key("server.body-limit", Type::integer, "Largest request body in bytes (larger is 413)", 1));
    schema.add(key("server.header-limit", Type::integer, "Largest request header block in bytes", 1));
    schema.add(key("server.max-connections", Type::integer, "Open connections beyond which new ones are refused", 1));
    schema.add(key("server.ssl.enabled", Type::boolean, "Serve HTTPS (TLS 1.2+) on server.port instead of HTTP"));
    schema.add(key("server.ssl.certificate", Type::string, "PEM certificate chain file (reloaded on SIGHUP)"));
    schema.add(key("server.ssl.certificate-private-key", Type::string, "PEM private key file of the certificate"));
    schema.add(key("server.ssl.redirect-http-port", Type::integer,
                   "Plain-HTTP port answering 308 to https (with server.ssl.enabled); 0 = none", 0, 65535));
    schema.add(key("server.max-connections-per-ip", Type::integer,
                   "Open connections from one client address beyond which new ones are closed at once; 0 = no cap", 0));
    schema.add(key("server.max-in-flight", Type::integer, "Requests processed at once beyond which the answer is 503",
                   1));
    schema.add(key("server.read-timeout", Type::duration, "Deadline for reading one request (headers and body)",
                   kMillisecond));
    schema.add(key("server.idle-timeout", Type::duration, "Keep-alive connections idle this long are closed",
                   kMillisecond));
    schema.add(key("server.request-timeout", Type::duration, "Deadline for handling one request", kMillisecond));
    schema.add(key("server.shutdown-timeout", Type::duration,
                   "Time in-flight requests get to finish on SIGTERM before modules stop", kMillisecond));
    schema.add(key("server.blocking-threads", Type::integer,
                   "Threads of the blocking pool (SQLite and other synchronous calls)", 1, 1024));
    schema.add(key("server.advertise-url", Type::string,
                   "Base URL other processes use to reach this one (default `http://127.0.0.1:<port>`)"));

    // cluster.* and the registry address (split mode, CONTRACT 33-34)
    schema.add(secret(key("cluster.secret", Type::string,
                          "Shared secret authenticating calls between processes (else LEAKY_CLUSTER_SECRET)")));
    schema.add(key("registry.url", Type::string,
                   "Registry (`/eureka/apps`) where this process registers its modules; unset: none"));

    schema.add(key("bus.codec-check", Type::boolean,
                   "Encode and decode every in-process bus message through its codec (as between processes)"));

    // registry.heartbeat-interval belongs to the registry module's schema (its clients read it too).
    schema.add(key("registry.fetch-interval", Type::duration, "How often the instance table is fetched from the registry",
                   kMillisecond));

    // cors.*
    schema.add(key("cors.enabled", Type::boolean, "Answer CORS preflights and add CORS headers"));
    schema.add(key("cors.allowed-origins", Type::string_list, "Origins allowed to call the API (`*` for any)"));
    schema.add(key("cors.allowed-methods", Type::string_list, "Methods announced in preflight answers"));
    schema.add(key("cors.allowed-headers", Type::string_list, "Request headers announced in preflight answers"));
    schema.add(key("cors.allow-credentials", Type::boolean, "Send `Access-Control-Allow-Credentials: true`"));
    schema.add(key("cors.max-age", Type::duration, "How long browsers may cache a preflight answer", 0));

    // storage.*
    schema.add(key("storage.data-dir", Type::string, "Directory for local data (SQLite database, keys)"));
    schema.add(choice("storage.sql.driver", {"sqlite", "postgres"}, "SQL database adapter"));
    schema.add(key("storage.sql.path", Type::string, "SQLite database file, relative to storage.data-dir"));
    schema.add(key("storage.usage.path", Type::string,
                   "SQLite file of the analytics usage store, relative to storage.data-dir (empty: the main database)"));
    schema.add(secret(key("storage.sql.url", Type::string,
                          "PostgreSQL connection URL (`postgresql://user:pass@host:5432/db`)")));
    schema.add(key("storage.sql.pool-size", Type::integer,
                   "PostgreSQL connections (each with its own thread) of the main database", 1, 512));
    schema.add(secret(key("storage.usage.url", Type::string,
                          "PostgreSQL URL of the analytics usage store (postgres driver; unset: the main database)")));
    schema.add(choice("storage.kv.driver", {"memory", "redis"}, "Key-value store adapter (rate limits, caches)"));
    schema.add(secret(key("storage.kv.url", Type::string,
                          "Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS)")));
    schema.add(key("storage.kv.pool-size", Type::integer, "Redis connections (each pipelines its calls)", 1, 64));
    schema.add(key("storage.kv.timeout", Type::duration,
                   "Deadline of one Redis call or connect attempt; on expiry the call answers 503 and the connection "
                   "is re-made",
                   kMillisecond));
    schema.add(choice("storage.events.driver", {"memory", "kafka"}, "Event log adapter"));
    schema.add(key("storage.events.brokers", Type::string, "Kafka bootstrap servers, comma-separated `host:port`"));
    schema.add(key("storage.events.timeout", Type::duration,
                   "Kafka: longest wait for a delivery report, commit or metadata answer (then unavailable)",
                   kMillisecond));
    schema.add(key("storage.events.partitions", Type::integer, "Kafka: partitions of a topic created when missing", 1,
                   10000));
    schema.add(key("storage.events.create-topics", Type::boolean,
                   "Kafka: create missing topics with the Admin API (false: rely on the brokers' auto-creation)"));
    schema.add(key("storage.events.session-timeout", Type::duration,
                   "Kafka: a consumer silent this long leaves its group and its partitions go to the others",
                   kMillisecond));

    // config.* (the client side of the config module)
    schema.add(key("config.url", Type::string,
                   "Config module to fetch this process's configuration from at start (`GET {url}/leaky-tokens/{profile}`)"));

    // tracing.*
    schema.add(key("tracing.otlp.endpoint", Type::string,
                   "OTLP/HTTP JSON traces URL (`http://jaeger:4318/v1/traces`); unset: no spans are recorded"));
    schema.add(key("tracing.sampling-ratio", Type::number,
                   "Share of new traces recorded (0..1); a caller's sampled flag in `traceparent` is followed", 0, 1));
    schema.add(key("tracing.queue-size", Type::integer,
                   "Ended spans waiting for export; beyond, spans are dropped (tracing_spans_dropped_total)", 1,
                   1000000));

    // metrics.*
    schema.add(key("metrics.application", Type::string,
                   "Value of the `application` label put on every metric sample (empty: no such label)"));

    // log.*
    schema.add(choice("log.level", {"trace", "debug", "info", "warn", "error", "off"}, "Lowest level logged"));
    schema.add(key("log.access", Type::boolean, "Write one JSON access-log line per request (false: as server.access-log=off)"));
    schema.add(choice("log.format", {"text", "json"},
                      "Log line format: text, or one JSON object per line (ts, level, logger, msg and each key=value)"));
    schema.add(choice("log.modules.*", {"trace", "debug", "info", "warn", "error", "off"},
                      "Level of one logger (app, access, bus, cluster, redis, kafka, or a module name), over log.level"));
    schema.add(key("server.access-log", Type::string,
                   "Where the access log goes: `off`, `stdout` or a file path (appended); buffered and written by a "
                   "thread of its own, lines dropped when it falls behind are counted in log_access_dropped_total"));
}

}  // namespace lt::config
