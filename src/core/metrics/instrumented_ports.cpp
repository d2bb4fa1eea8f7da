// Decorators timing every store call into a pre-resolved histogram series, and tracing it as a child
// span of the current request's (when tracing is on and the request's trace is sampled).
#include "lt/core/instrumented_ports.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "lt/core/metrics.hpp"
#include "lt/core/request_scope.hpp"
#include "lt/core/tracer.hpp"

namespace asio = boost::asio;

namespace lt {
namespace {

using Steady = std::chrono::steady_clock;

/// Store calls are fast (sub-millisecond in memory, milliseconds over the network): finer low buckets.
std::vector<double> store_buckets() {
    return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

/// ok | unavailable | error series of one operation, looked up once.
struct OpSeries {
    std::array<Histogram*, 3> by_outcome{};

    OpSeries(HistogramFamily& family, std::string_view first) {
        by_outcome[0] = &family.labels({first, "ok"});
        by_outcome[1] = &family.labels({first, "unavailable"});
        by_outcome[2] = &family.labels({first, "error"});
    }
    template <class R>
    void observe(const R& r, Steady::time_point start) const {
        const std::size_t i = r ? 0 : r.error().code == Errc::unavailable ? 1 : 2;
        by_outcome[i]->observe(std::chrono::duration<double>(Steady::now() - start).count());
    }
};

/// A span child of the current request's innermost span (request_scope.hpp), or an inert one when
/// tracing is off (`tracer` null: nothing is read), there is no request, or its trace is not sampled.
Span store_span(Tracer* tracer, std::string name, const std::string& system) {
    Span span;
    if (!tracer) return span;
    const auto* scope = current_request();
    if (!scope || !scope->sampled()) return span;
    span = tracer->start(std::move(name), scope->traceparent, SpanKind::client);
    span.set_attribute("db.system", system);
    return span;
}

template <class R>
void end_span(Span& span, const R& r) {
    if (!span.recording()) return;
    if (!r) span.set_error(r.error().message);
    span.end();
}

/// The first keyword of a statement, upper-cased ("SELECT", "INSERT", ...; "SQL" when none).
std::string first_keyword(std::string_view sql) {
    std::size_t i = 0;
    while (i < sql.size() && (sql[i] == ' ' || sql[i] == '\n' || sql[i] == '\t' || sql[i] == '(')) ++i;
    std::string out;
    for (; i < sql.size() && out.size() < 16; ++i) {
        const char c = sql[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) break;
        out += static_cast<char>(c >= 'a' ? c - 'a' + 'A' : c);
    }
    return out.empty() ? std::string("SQL") : out;
}

/// Success, or the first failure of a batch's results (a pipeline, an append_batch).
template <class Results>
Result<void> first_failure(const Results& results) {
    for (const auto& one : results) {
        if (!one) return fail(one.error());
    }
    return ok();
}

/// A traced transaction's session: one span per statement ("sql SELECT", ...), child of the
/// transaction's span; runs on the SQL pool thread (spans may end on any thread).
class TracingSession final : public ports::SqlSession {
public:
    TracingSession(ports::SqlSession& inner, Tracer& tracer, const std::string& parent, const std::string& system)
        : inner_(inner), tracer_(tracer), parent_(parent), system_(system) {}
    Result<ports::SqlResult> execute(std::string_view sql, std::span<const ports::SqlValue> params) override {
        auto span = tracer_.start("sql " + first_keyword(sql), parent_, SpanKind::client);
        span.set_attribute("db.system", system_);
        span.set_attribute("db.statement", std::string(sql.substr(0, 200)));  // parameterized: no values
        auto r = inner_.execute(sql, params);
        end_span(span, r);
        return r;
    }
    std::vector<Result<ports::SqlResult>> execute_pipeline(std::span<const ports::SqlStatement> statements) override {
        auto span = tracer_.start("sql PIPELINE", parent_, SpanKind::client);
        span.set_attribute("db.system", system_);
        std::string text;
        for (const auto& st : statements) {
            if (!text.empty()) text += "; ";
            text += first_keyword(st.sql);
        }
        span.set_attribute("db.statement", text.substr(0, 200));  // the statements' keywords
        auto r = inner_.execute_pipeline(statements);
        const Result<void> all = first_failure(r);
        end_span(span, all);
        return r;
    }
    ports::SqlSession& inner() { return inner_; }

private:
    ports::SqlSession& inner_;
    Tracer& tracer_;
    const std::string& parent_;
    const std::string& system_;
};

class InstrumentedSql final : public ports::SqlDatabase {
public:
    InstrumentedSql(std::unique_ptr<ports::SqlDatabase> inner, MetricsRegistry& m, const std::string& database,
                    Tracer* tracer)
        : inner_(std::move(inner)),
          series_(m.histogram("store_sql_transaction_seconds",
                              "SQL transactions (queueing on the pool included), by database and outcome",
                              {"database", "outcome"}, store_buckets()),
                  database),
          tracer_(tracer && tracer->enabled() ? tracer : nullptr),
          system_(inner_->dialect() == "postgres" ? "postgresql" : std::string(inner_->dialect())) {}

    std::string_view dialect() const override { return inner_->dialect(); }

    asio::awaitable<Result<void>> transact(std::function<Result<void>(ports::SqlSession&)> fn) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "sql transaction", system_);
        if (span.recording()) fn = traced(std::move(fn), span.traceparent());
        auto op = inner_->transact(std::move(fn));
        auto r = co_await std::move(op);
        series_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    Result<void> transact_sync(std::function<Result<void>(ports::SqlSession&)> fn) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "sql transaction", system_);
        if (span.recording()) fn = traced(std::move(fn), span.traceparent());
        auto r = inner_->transact_sync(std::move(fn));
        series_.observe(r, start);
        end_span(span, r);
        return r;
    }
    Result<void> execute_script(ports::SqlSession& session, std::string_view script) override {
        // The adapter needs its own session type back.
        if (auto* t = dynamic_cast<TracingSession*>(&session)) return inner_->execute_script(t->inner(), script);
        return inner_->execute_script(session, script);
    }
    bool available() const override { return inner_->available(); }

private:
    /// `fn` on a TracingSession whose statement spans are children of `parent`.
    std::function<Result<void>(ports::SqlSession&)> traced(std::function<Result<void>(ports::SqlSession&)> fn,
                                                           std::string parent) const {
        return [fn = std::move(fn), parent = std::move(parent), tracer = tracer_,
                system = &system_](ports::SqlSession& session) {
            TracingSession ts(session, *tracer, parent, *system);
            return fn(ts);
        };
    }

    std::unique_ptr<ports::SqlDatabase> inner_;
    OpSeries series_;
    Tracer* tracer_;      ///< null: tracing off
    std::string system_;  ///< db.system: sqlite | postgresql
};

class InstrumentedKv final : public ports::KeyValueStore {
public:
    InstrumentedKv(std::unique_ptr<ports::KeyValueStore> inner, HistogramFamily& f, Tracer* tracer, std::string system)
        : inner_(std::move(inner)),
          tracer_(tracer && tracer->enabled() ? tracer : nullptr),
          system_(std::move(system)),
          atomic_(f, "atomic_update"),
          get_(f, "get"),
          set_(f, "set"),
          erase_(f, "erase"),
          increment_(f, "increment") {}

    asio::awaitable<Result<std::vector<std::int64_t>>> atomic_update(std::string_view key,
                                                                    const ports::AtomicScript& script,
                                                                    std::span<const std::int64_t> args,
                                                                    std::chrono::milliseconds ttl) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "kv atomic_update", system_);
        auto op = inner_->atomic_update(key, script, args, ttl);
        auto r = co_await std::move(op);
        atomic_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    asio::awaitable<Result<std::optional<std::string>>> get(std::string_view key) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "kv get", system_);
        auto op = inner_->get(key);
        auto r = co_await std::move(op);
        get_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    asio::awaitable<Result<void>> set(std::string_view key, std::string value, std::chrono::milliseconds ttl) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "kv set", system_);
        auto op = inner_->set(key, std::move(value), ttl);
        auto r = co_await std::move(op);
        set_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    asio::awaitable<Result<bool>> erase(std::string_view key) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "kv erase", system_);
        auto op = inner_->erase(key);
        auto r = co_await std::move(op);
        erase_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    asio::awaitable<Result<std::int64_t>> increment(std::string_view key, std::int64_t delta,
                                                    std::chrono::milliseconds ttl) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "kv increment", system_);
        auto op = inner_->increment(key, delta, ttl);
        auto r = co_await std::move(op);
        increment_.observe(r, start);
        end_span(span, r);
        co_return r;
    }
    std::size_t purge_expired() override { return inner_->purge_expired(); }
    bool available() const override { return inner_->available(); }

private:
    std::unique_ptr<ports::KeyValueStore> inner_;
    Tracer* tracer_;      ///< null: tracing off
    std::string system_;  ///< db.system: redis | memory
    OpSeries atomic_, get_, set_, erase_, increment_;
};

class InstrumentedEventLog final : public ports::EventLog {
public:
    InstrumentedEventLog(std::unique_ptr<ports::EventLog> inner, HistogramFamily& f, GaugeFamily& lag, Tracer* tracer,
                         std::string system)
        : inner_(std::move(inner)),
          lag_(lag),
          tracer_(tracer && tracer->enabled() ? tracer : nullptr),
          system_(std::move(system)),
          create_(f, "create_topic"),
          append_(f, "append"),
          commit_(f, "commit"),
          seek_(f, "seek"),
          committed_(f, "committed") {}

    Result<void> create_topic(std::string_view topic, int partitions) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events create_topic", system_);
        auto r = inner_->create_topic(topic, partitions);
        create_.observe(r, start);
        end_span(span, r);
        return r;
    }
    Result<ports::EventRecord> append(std::string_view topic, std::string_view key, std::string value) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events append", system_);
        auto r = inner_->append(topic, key, std::move(value));
        append_.observe(r, start);
        end_span(span, r);
        return r;
    }
    std::vector<Result<ports::EventRecord>> append_batch(std::span<Append> records) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events append_batch", system_);
        auto r = inner_->append_batch(records);
        const Result<void> all = first_failure(r);
        append_.observe(all, start);
        end_span(span, all);
        return r;
    }
    Result<std::vector<ports::EventRecord>> poll(std::string_view topic, std::string_view group, std::size_t max,
                                                 std::chrono::milliseconds wait) override {
        auto r = inner_->poll(topic, group, max, wait);
        if (r) {
            // Consumer lag: how old the newest record was when it reached its consumer (0 when the
            // consumer is caught up and the poll came back empty).
            double age = 0;
            if (!r->empty()) {
                age = std::chrono::duration<double>(std::chrono::system_clock::now() - r->back().timestamp).count();
                age = std::max(age, 0.0);
            }
            const std::string_view labels[] = {topic, group};
            lag_.labels(std::span<const std::string_view>(labels)).set(age);
        }
        return r;
    }
    Result<void> commit(std::string_view group, const ports::EventRecord& record) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events commit", system_);
        auto r = inner_->commit(group, record);
        commit_.observe(r, start);
        end_span(span, r);
        return r;
    }
    Result<void> seek(std::string_view group, const ports::EventRecord& record) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events seek", system_);
        auto r = inner_->seek(group, record);
        seek_.observe(r, start);
        end_span(span, r);
        return r;
    }
    Result<std::int64_t> committed(std::string_view topic, std::string_view group, int partition) override {
        const auto start = Steady::now();
        auto span = store_span(tracer_, "events committed", system_);
        auto r = inner_->committed(topic, group, partition);
        committed_.observe(r, start);
        end_span(span, r);
        return r;
    }
    Result<std::int64_t> consumed_by_all(std::string_view topic, int partition) override {
        return inner_->consumed_by_all(topic, partition);
    }
    bool durable() const override { return inner_->durable(); }
    bool available() const override { return inner_->available(); }

private:
    std::unique_ptr<ports::EventLog> inner_;
    GaugeFamily& lag_;
    Tracer* tracer_;      ///< null: tracing off
    std::string system_;  ///< db.system: kafka | sqlite | memory
    OpSeries create_, append_, commit_, seek_, committed_;
};

}  // namespace

std::unique_ptr<ports::SqlDatabase> instrument_sql(std::unique_ptr<ports::SqlDatabase> inner, MetricsRegistry& metrics,
                                                   const std::string& database, Tracer* tracer) {
    return std::make_unique<InstrumentedSql>(std::move(inner), metrics, database, tracer);
}

std::unique_ptr<ports::KeyValueStore> instrument_kv(std::unique_ptr<ports::KeyValueStore> inner,
                                                    MetricsRegistry& metrics, Tracer* tracer, std::string system) {
    auto& f = metrics.histogram("store_kv_call_seconds", "Key-value store calls, by operation and outcome",
                                {"op", "outcome"}, store_buckets());
    return std::make_unique<InstrumentedKv>(std::move(inner), f, tracer, std::move(system));
}

std::unique_ptr<ports::EventLog> instrument_event_log(std::unique_ptr<ports::EventLog> inner, MetricsRegistry& metrics,
                                                     Tracer* tracer, std::string system) {
    auto& f = metrics.histogram("store_event_log_call_seconds",
                                "Event log calls (poll excluded: it waits for records), by operation and outcome",
                                {"op", "outcome"}, store_buckets());
    auto& lag = metrics.gauge("event_consumer_lag_seconds",
                              "Age of the newest record a consumer group received in its last poll (0: caught up)",
                              {"topic", "group"});
    return std::make_unique<InstrumentedEventLog>(std::move(inner), f, lag, tracer, std::move(system));
}

}  // namespace lt
