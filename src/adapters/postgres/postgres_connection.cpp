#include "postgres_connection.hpp"
#include "postgres_values.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <utility>
#include <vector>

#include <libpq-fe.h>

namespace lt::adapters {

using lt::ports::SqlResult;
using lt::ports::SqlValue;

namespace {

/// Prepared statements kept per connection; past it the cache is emptied (DEALLOCATE ALL).
constexpr std::size_t kMaxCachedStatements = 1024;

}  // namespace

void PostgresConnection::ResultDeleter::operator()(pg_result* r) const { PQclear(r); }

lt::Result<std::unique_ptr<PostgresConnection>> PostgresConnection::connect(const std::string& url,
                                                                            const PostgresOptions& opts) {
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
    if (!parsed) {
        std::string why = parse_error ? parse_error : "out of memory";
        PQfreemem(parse_error);
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        return fail(Errc::invalid_argument, "invalid PostgreSQL URL: " + why);
    }
    std::vector<std::pair<std::string, std::string>> settings;
    for (PQconninfoOption* o = parsed; o->keyword; ++o) {
        if (o->val) settings.emplace_back(o->keyword, o->val);
    }
    PQconninfoFree(parsed);
    auto set_default = [&settings](std::string key, std::string value) {
        auto it = std::find_if(settings.begin(), settings.end(), [&key](const auto& kv) { return kv.first == key; });
        if (it == settings.end()) settings.emplace_back(std::move(key), std::move(value));
    };
    set_default("connect_timeout", std::to_string(std::max<long long>(1, opts.connect_timeout.count())));
    set_default("tcp_user_timeout", std::to_string(opts.tcp_user_timeout.count()));
    set_default("keepalives", "1");
    set_default("keepalives_idle", "10");
    set_default("keepalives_interval", "5");
    set_default("keepalives_count", "3");
    set_default("application_name", "leaky-tokens");
    set_default("client_encoding", "UTF8");

    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [k, v] : settings) {
        keys.push_back(k.c_str());
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
    if (!conn) return fail(Errc::unavailable, "cannot connect to PostgreSQL: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string why = PQerrorMessage(conn);
        PQfinish(conn);
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        return fail(Errc::unavailable, "cannot connect to PostgreSQL: " + why);
    }
    // Notices (e.g. "relation already exists, skipping") are not errors; libpq would print them to
    // stderr, unstructured and possibly with data in them.
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    if (PQsetnonblocking(conn, 1) != 0) {
        PQfinish(conn);
        return fail(Errc::internal, "cannot put the PostgreSQL connection in non-blocking mode");
    }
    const auto io_timeout = opts.statement_timeout.count() > 0 ? opts.statement_timeout + std::chrono::seconds(5)
                                                                : std::chrono::milliseconds(60000);
    std::unique_ptr<PostgresConnection> out(new PostgresConnection(conn, io_timeout));
    // The URL's own `options=-c statement_timeout=...` wins over PostgresOptions.
    auto url_options = std::find_if(settings.begin(), settings.end(), [](const auto& kv) { return kv.first == "options"; });
    if (url_options == settings.end() || url_options->second.find("statement_timeout") == std::string::npos) {
        lt::Error error;
        const std::string set = "SET statement_timeout = " + std::to_string(opts.statement_timeout.count());
        if (!out->command(set, error)) return fail(error);
    }
    return out;
}

PostgresConnection::PostgresConnection(pg_conn* conn, std::chrono::milliseconds io_timeout)
    : conn_(conn), io_timeout_(io_timeout) {}

PostgresConnection::~PostgresConnection() { PQfinish(conn_); }

bool PostgresConnection::broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

bool PostgresConnection::idle_broken() {
    if (broken()) return true;
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(conn_)) {
            broken_ = true;
            return true;
        }
        while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
    }
    return broken();
}

bool PostgresConnection::in_transaction() const {
    return begin_pending_ || PQtransactionStatus(conn_) == PQTRANS_INTRANS;
}

bool PostgresConnection::wait_socket(bool for_write, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{PQsocket(conn_), static_cast<short>(POLLIN | (for_write ? POLLOUT : 0)), 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
    }
}

lt::Error PostgresConnection::lost(std::string_view what) {
    broken_ = true;
    std::string why = PQerrorMessage(conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (why.empty()) why = "connection lost";
    return lt::Error{Errc::unavailable, "database unavailable (" + std::string(what) + "): " + why};
}

PostgresConnection::ResultPtr PostgresConnection::round_trip(const std::function<int(pg_conn*)>& send,
                                                             lt::Error& error) {
    if (broken()) {
        error = lost("connection broken");
        return nullptr;
    }
    const auto deadline = std::chrono::steady_clock::now() + io_timeout_;
    if (send(conn_) != 1) {
        error = lost("send failed");
        return nullptr;
    }
    if (!flush_until(deadline, error)) return nullptr;
    ResultPtr chosen;
    for (;;) {
        PGresult* r = next_result(deadline, error);
        if (!error.message.empty()) return nullptr;
        if (!r) break;
        // A script stops at its first failing statement: keep that error, else the last result.
        const bool chosen_failed = chosen && PQresultStatus(chosen.get()) == PGRES_FATAL_ERROR;
        if (!chosen_failed) {
            chosen.reset(r);
        } else {
            PQclear(r);
        }
    }
    if (!chosen) {
        error = lost("no result");
        return nullptr;
    }
    const auto st = PQresultStatus(chosen.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        error = error_of(chosen.get(), "statement failed");
    }
    return chosen;
}

lt::Error PostgresConnection::error_of(const pg_result* res, std::string_view what) {
    if (broken()) return lost(what);
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const std::string sqlstate = state ? state : "";
    const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    std::string msg = primary ? primary : PQresultErrorMessage(res);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    msg = std::string(what) + ": " + msg + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
    if (sqlstate == "40001" || sqlstate == "40P01") {
        retryable_ = true;
        return lt::Error{Errc::unavailable, std::move(msg)};
    }
    if (sqlstate.starts_with("23")) return lt::Error{Errc::conflict, std::move(msg)};
    if (starts_with_any(sqlstate, {"08", "53", "57P", "57014"})) return lt::Error{Errc::unavailable, std::move(msg)};
    return lt::Error{Errc::internal, std::move(msg)};
}

PostgresConnection::ResultPtr PostgresConnection::command(std::string_view sql, lt::Error& error) {
    // A transaction's BEGIN travels with its first statement (one round trip less per transaction).
    std::string text = begin_pending_ ? "BEGIN; " : "";
    begin_pending_ = false;
    text += sql;
    error = lt::Error{};
    auto r = round_trip([&text](PGconn* c) { return PQsendQuery(c, text.c_str()); }, error);
    if (!error.message.empty()) return nullptr;
    return r;
}

const std::string* PostgresConnection::prepared(std::string_view sql, std::span<const SqlValue> params,
                                                lt::Error& error) {
    std::string key(sql);
    key += '\x01';
    for (const auto& p : params) key += signature_char(p);
    auto found = cache_.find(key);
    if (found != cache_.end()) return &found->second;
    if (cache_.size() >= kMaxCachedStatements) {
        if (!command("DEALLOCATE ALL", error)) return nullptr;
        cache_.clear();
    }
    std::string name = "lt" + std::to_string(++next_name_);
    std::vector<Oid> types;
    types.reserve(params.size());
    for (const auto& p : params) types.push_back(param_type(p));
    const std::string text(sql);
    error = lt::Error{};
    (void)round_trip(
        [&](PGconn* c) {
            return PQsendPrepare(c, name.c_str(), text.c_str(), static_cast<int>(types.size()), types.data());
        },
        error);
    if (!error.message.empty()) return nullptr;
    return &cache_.emplace(std::move(key), std::move(name)).first->second;
}

lt::Result<SqlResult> PostgresConnection::execute(std::string_view sql, std::span<const SqlValue> params) {
    if (params.size() != count_placeholders(sql)) return fail(arity_error(sql, params.size()));
    if (begin_pending_) {
        // The first statement of a transaction: BEGIN and it in one pipeline (one round trip).
        const lt::ports::SqlStatement one{sql, params};
        auto r = execute_pipeline(std::span<const lt::ports::SqlStatement>(&one, 1));
        return std::move(r.front());
    }
    lt::Error error;
    const std::string* name = prepared(sql, params, error);
    if (!name) return fail(error);
    std::vector<std::string> texts;
    const auto values = param_values(params, texts);
    auto res = round_trip(
        [&](PGconn* c) {
            return PQsendQueryPrepared(c, name->c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                       nullptr, 0);
        },
        error);
    if (!error.message.empty()) return fail(error);
    return sql_result_of(res.get());
}

bool PostgresConnection::flush_until(std::chrono::steady_clock::time_point deadline, lt::Error& error) {
    for (;;) {
        const int f = PQflush(conn_);
        if (f == 0) return true;
        if (f < 0 || !wait_socket(true, deadline)) {
            error = lost(f < 0 ? "send failed" : "no answer in time");
            return false;
        }
        if (!PQconsumeInput(conn_)) {
            error = lost("receive failed");
            return false;
        }
    }
}

pg_result* PostgresConnection::next_result(std::chrono::steady_clock::time_point deadline, lt::Error& error) {
    while (PQisBusy(conn_)) {
        if (!wait_socket(false, deadline)) {
            error = lost("no answer in time");
            return nullptr;
        }
        if (!PQconsumeInput(conn_)) {
            error = lost("receive failed");
            return nullptr;
        }
    }
    return PQgetResult(conn_);
}

std::vector<lt::Result<SqlResult>> PostgresConnection::execute_pipeline(std::span<const lt::ports::SqlStatement> statements) {
    std::vector<lt::Result<SqlResult>> out;
    out.reserve(statements.size());
    auto not_run = [&] {
        while (out.size() < statements.size()) {
            out.push_back(fail(Errc::unavailable, "not run: an earlier statement of the pipeline failed"));
        }
        return std::move(out);
    };
    if (statements.empty()) return out;
    if (broken()) {
        out.push_back(fail(lost("connection broken")));
        return not_run();
    }
    // Prepared first, outside pipeline mode (each once per connection).
    std::vector<const std::string*> names;
    names.reserve(statements.size());
    for (const auto& st : statements) {
        if (st.params.size() != count_placeholders(st.sql)) {
            out.push_back(fail(arity_error(st.sql, st.params.size())));
            return not_run();
        }
        lt::Error error;
        const std::string* name = prepared(st.sql, st.params, error);
        if (!name) {
            out.push_back(fail(error));
            return not_run();
        }
        names.push_back(name);
    }
    const auto deadline = std::chrono::steady_clock::now() + io_timeout_;
    lt::Error error;
    if (PQenterPipelineMode(conn_) != 1) {
        out.push_back(fail(lost("pipeline mode refused")));
        return not_run();
    }
    // The transaction's BEGIN, when nothing was sent yet, goes first in the same pipeline.
    const bool with_begin = begin_pending_;
    begin_pending_ = false;
    bool sent = !with_begin || PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < statements.size() && sent; ++i) {
        const auto values = param_values(statements[i].params, texts);
        sent = PQsendQueryPrepared(conn_, names[i]->c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                   nullptr, 0) == 1;
    }
    if (!sent || PQpipelineSync(conn_) != 1) {
        out.push_back(fail(lost("send failed")));
        return not_run();  // the connection is marked broken: it is closed, not reused
    }
    if (!flush_until(deadline, error)) {
        out.push_back(fail(error));
        return not_run();
    }
    if (with_begin) {
        ResultPtr begun(next_result(deadline, error));
        if (!begun || PQresultStatus(begun.get()) != PGRES_COMMAND_OK) {
            broken_ = true;  // BEGIN itself failed: out of step, never reuse this connection
            out.push_back(fail(error.message.empty() ? lost("BEGIN failed") : error));
            return not_run();
        }
        while (PGresult* extra = next_result(deadline, error)) PQclear(extra);
    }
    for (std::size_t i = 0; i < statements.size(); ++i) {
        ResultPtr r(next_result(deadline, error));
        if (!r) {
            out.push_back(fail(error.message.empty() ? lost("no result") : error));
            return not_run();
        }
        const auto st = PQresultStatus(r.get());
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            out.push_back(sql_result_of(r.get()));
        } else if (st == PGRES_PIPELINE_ABORTED) {
            out.push_back(fail(Errc::unavailable, "not run: an earlier statement of the pipeline failed"));
        } else {
            out.push_back(fail(error_of(r.get(), "statement failed")));
        }
        // Each query's results end with a null result.
        while (PGresult* extra = next_result(deadline, error)) PQclear(extra);
        if (!error.message.empty()) {
            out.back() = fail(error);
            return not_run();
        }
    }
    ResultPtr sync(next_result(deadline, error));
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
        broken_ = true;  // out of step with the server: never reuse this connection
        if (out.back()) out.back() = fail(lost("pipeline out of step"));
        return out;
    }
    if (PQexitPipelineMode(conn_) != 1) broken_ = true;
    return out;
}

lt::Result<void> PostgresConnection::execute_script(std::string_view script) {
    lt::Error error;
    if (!command(script, error)) return fail(error);
    return ok();
}

void PostgresConnection::rollback() noexcept {
    begin_pending_ = false;  // nothing was sent: nothing to roll back
    if (broken() || PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
    lt::Error ignored;
    (void)command("ROLLBACK", ignored);
}

TxOutcome PostgresConnection::run_transaction(std::function<lt::Result<void>(lt::ports::SqlSession&)>& fn,
                                              const PostgresDatabase* owner, lt::Error& error) {
    retryable_ = false;
    // BEGIN is not sent on its own: it goes with the first statement (command(), execute(),
    // execute_pipeline()); a body that runs nothing sends nothing.
    begin_pending_ = true;

    lt::Result<void> result = ok();
    try {
        PostgresSession session(*this, owner);
        result = fn(session);
    } catch (const std::exception& e) {
        result = fail(Errc::internal, std::string("transaction body threw: ") + e.what());
    } catch (...) {
        result = fail(Errc::internal, "transaction body threw");
    }
    if (broken()) {
        begin_pending_ = false;
        error = result ? lost("transaction") : result.error();
        return TxOutcome::lost_before_commit;
    }
    if (begin_pending_) {  // the body ran no statement: there is no transaction to end
        begin_pending_ = false;
        if (result) return TxOutcome::committed;
        error = result.error();
        return TxOutcome::failed;
    }
    if (!result) {
        error = result.error();
        rollback();
        return retryable_ ? TxOutcome::retry : TxOutcome::failed;
    }
    if (PQtransactionStatus(conn_) == PQTRANS_INERROR) {  // the body went on after a failed statement
        rollback();
        error = lt::Error{retryable_ ? Errc::unavailable : Errc::internal,
                          "a statement of the transaction failed; the transaction was rolled back"};
        return retryable_ ? TxOutcome::retry : TxOutcome::failed;
    }
    if (PQtransactionStatus(conn_) != PQTRANS_INTRANS) {
        error = lt::Error{Errc::internal, "the transaction body ended the transaction itself"};
        rollback();
        return TxOutcome::failed;
    }
    auto commit = command("COMMIT", error);
    if (!commit) {
        if (broken()) return TxOutcome::lost_in_commit;
        rollback();
        return retryable_ ? TxOutcome::retry : TxOutcome::failed;
    }
    if (std::string_view(PQcmdStatus(commit.get())) == "ROLLBACK") {
        error = lt::Error{Errc::internal, "the transaction was rolled back by the server"};
        return TxOutcome::failed;
    }
    return TxOutcome::committed;
}

lt::Result<SqlResult> PostgresSession::execute(std::string_view sql, std::span<const SqlValue> params) {
    try {
        return conn_.execute(sql, params);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("postgres statement failed: ") + e.what());
    }
}

std::vector<lt::Result<SqlResult>> PostgresSession::execute_pipeline(std::span<const lt::ports::SqlStatement> statements) {
    try {
        return conn_.execute_pipeline(statements);
    } catch (const std::exception& e) {
        std::vector<lt::Result<SqlResult>> out;
        for (std::size_t i = 0; i < statements.size(); ++i) {
            out.push_back(fail(Errc::internal, std::string("postgres pipeline failed: ") + e.what()));
        }
        return out;
    }
}

}  // namespace lt::adapters
