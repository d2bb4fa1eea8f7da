#include "lt/http/client.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <mutex>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace lt::http {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Conn {
    explicit Conn(asio::any_io_executor ex) : stream(std::move(ex)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};  ///< when it went back to the pool
};

/// A pooled connection idle longer than this is closed instead of reused: peers close idle
/// connections (our own server after server.idle-timeout, 60 s by default), and a request written
/// into a connection the peer is closing fails.
constexpr auto kMaxIdle = std::chrono::seconds(15);

bool stale_connection_error(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

/// A body read through a buffer_body parser: each read parses what arrived into `piece`.
class StreamReader final : public BodyReader {
public:
    StreamReader(std::unique_ptr<Conn> conn, std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser,
                 std::chrono::milliseconds timeout)
        : conn_(std::move(conn)), parser_(std::move(parser)), timeout_(timeout) {}
    ~StreamReader() override {
        boost::system::error_code ignored;
        conn_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        conn_->stream.close();
    }

    asio::awaitable<Result<std::string>> next() override {
        std::string out;
        while (out.empty() && !parser_->is_done()) {
            auto& body = parser_->get().body();
            body.data = piece_.data();
            body.size = piece_.size();
            conn_->stream.expires_after(timeout_);
            auto [ec, n] = co_await bhttp::async_read_some(conn_->stream, conn_->buffer, *parser_, kTuple);
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec == beast::error::timeout) co_return fail(Errc::timeout, "HTTP stream stalled");
            if (ec) co_return fail(Errc::unavailable, "HTTP stream broke off: " + ec.message());
            out.append(piece_.data(), piece_.size() - parser_->get().body().size);
        }
        co_return out;
    }

private:
    std::unique_ptr<Conn> conn_;
    std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser_;
    std::chrono::milliseconds timeout_;
    std::array<char, 16384> piece_{};
};

/// Reads a response head; a body without a length becomes a StreamReader, any other is read whole.
/// Returns the error of the read (the connection is then dropped).
asio::awaitable<std::pair<boost::system::error_code, ClientResponse>> read_streamed(std::unique_ptr<Conn>& conn,
                                                                                   std::size_t max_body,
                                                                                   std::chrono::milliseconds timeout) {
    auto parser = std::make_unique<bhttp::response_parser<bhttp::buffer_body>>();
    parser->body_limit(max_body);
    ClientResponse r;
    auto [ec, n] = co_await bhttp::async_read_header(conn->stream, conn->buffer, *parser, kTuple);
    if (ec) co_return std::make_pair(ec, std::move(r));
    const auto& head = parser->get();
    r.status = static_cast<int>(head.result_int());
    for (const auto& f : head) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    if (!parser->is_done() && (parser->chunked() || !parser->content_length())) {
        parser->body_limit(boost::none);  // relayed piece by piece, never held whole
        r.stream = std::make_shared<StreamReader>(std::move(conn), std::move(parser), timeout);
        co_return std::make_pair(ec, std::move(r));
    }
    std::array<char, 16384> piece;
    while (!parser->is_done()) {
        parser->get().body().data = piece.data();
        parser->get().body().size = piece.size();
        auto [rec, rn] = co_await bhttp::async_read(conn->stream, conn->buffer, *parser, kTuple);
        if (rec == bhttp::error::need_buffer) rec = {};
        if (rec) co_return std::make_pair(rec, std::move(r));
        r.body.append(piece.data(), piece.size() - parser->get().body().size);
    }
    if (!parser->get().keep_alive()) conn.reset();
    co_return std::make_pair(ec, std::move(r));
}
}  // namespace

Result<Url> parse_url(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (url.substr(0, kScheme.size()) != kScheme) return fail(Errc::invalid_argument, "only http:// URLs are supported");
    url.remove_prefix(kScheme.size());
    auto slash = url.find('/');
    std::string_view hostport = url.substr(0, slash);
    Url out;
    out.base_path = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) {
        out.host = std::string(hostport);
    } else {
        out.host = std::string(hostport.substr(0, colon));
        auto p = hostport.substr(colon + 1);
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
        if (ec != std::errc() || ptr != p.data() + p.size() || v == 0 || v > 65535) {
            return fail(Errc::invalid_argument, "bad port in URL");
        }
        out.port = static_cast<std::uint16_t>(v);
    }
    if (out.host.empty()) return fail(Errc::invalid_argument, "URL without host");
    return out;
}

struct Client::Pool {
    asio::any_io_executor ex;
    std::size_t max_idle;
    std::size_t max_response;
    std::mutex mutex;  ///< guards idle
    std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;

    /// The most recently used idle connection, or null; connections idle too long are dropped.
    std::unique_ptr<Conn> take(const std::string& key) {
        std::unique_ptr<Conn> c;
        std::vector<std::unique_ptr<Conn>> expired;  // closed outside the lock
        {
            std::lock_guard lock(mutex);
            auto it = idle.find(key);
            if (it == idle.end()) return nullptr;
            auto& v = it->second;
            auto now = std::chrono::steady_clock::now();
            // The vector is ordered oldest first: expired ones form a prefix.
            auto alive = std::find_if(v.begin(), v.end(), [&](const auto& x) { return now - x->idle_since < kMaxIdle; });
            std::move(v.begin(), alive, std::back_inserter(expired));
            v.erase(v.begin(), alive);
            if (v.empty()) return nullptr;
            c = std::move(v.back());
            v.pop_back();
        }
        return c;
    }
    void put(const std::string& key, std::unique_ptr<Conn> c) {
        c->idle_since = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex);
        auto& v = idle[key];
        if (v.size() < max_idle) v.push_back(std::move(c));
    }
    /// Drops every idle connection to `key` (one turned out stale: the others likely are too).
    void drop(const std::string& key) {
        std::vector<std::unique_ptr<Conn>> gone;
        std::lock_guard lock(mutex);
        if (auto it = idle.find(key); it != idle.end()) gone.swap(it->second);
    }
};

Client::Client(asio::any_io_executor ex, std::size_t max_idle_per_host, std::size_t max_response_bytes)
    : pool_(std::make_shared<Pool>()) {
    pool_->ex = std::move(ex);
    pool_->max_idle = max_idle_per_host;
    pool_->max_response = max_response_bytes;
}

Client::~Client() = default;

asio::awaitable<Result<ClientResponse>> Client::request(std::string host, std::uint16_t port, ClientRequest req,
                                                        std::chrono::milliseconds timeout) {
    auto pool = pool_;
    // Connections stay on the context of the coroutine that opened them (one thread per context).
    auto ex = co_await asio::this_coro::executor;
    const std::string key = host + ":" + std::to_string(port) + "@" +
                            std::to_string(reinterpret_cast<std::uintptr_t>(&asio::query(ex, asio::execution::context)));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(req.method), req.target, 11};
    out.set(bhttp::field::host, port == 80 ? host : host + ":" + std::to_string(port));
    for (auto& h : req.headers) out.set(h.name, h.value);
    out.body() = std::move(req.body);
    out.keep_alive(true);
    out.prepare_payload();

    for (int attempt = 0; attempt < 2; ++attempt) {
        // The retry after a stale pooled connection always opens a fresh one.
        auto conn = attempt == 0 ? pool->take(key) : nullptr;
        bool reused = conn != nullptr;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) co_return fail(Errc::timeout, "HTTP call timed out");
        if (!conn) {
            conn = std::make_unique<Conn>(ex);
            tcp::resolver resolver(conn->stream.get_executor());
            auto service = std::to_string(port);
            auto resolve = resolver.async_resolve(host, service, kTuple);
            auto [rec, results] = co_await std::move(resolve);
            if (rec) co_return fail(Errc::unavailable, "cannot resolve " + host);
            conn->stream.expires_after(left);
            auto [cec, ep] = co_await conn->stream.async_connect(results, kTuple);
            if (cec == beast::error::timeout) co_return fail(Errc::timeout, "HTTP connect timed out");
            if (cec) co_return fail(Errc::unavailable, "cannot connect to " + key + ": " + cec.message());
            boost::system::error_code ignored;
            conn->stream.socket().set_option(tcp::no_delay(true), ignored);
        }
        conn->stream.expires_after(left);
        auto [wec, wn] = co_await bhttp::async_write(conn->stream, out, kTuple);
        if (req.stream_response) {
            std::pair<boost::system::error_code, ClientResponse> got{wec, {}};
            if (!wec) {
                auto read = read_streamed(conn, pool->max_response, timeout);
                got = co_await std::move(read);
            }
            auto& [sec, sres] = got;
            if (sec) {
                if (reused && attempt == 0 && stale_connection_error(sec)) {
                    pool->drop(key);
                    continue;
                }
                if (sec == beast::error::timeout) co_return fail(Errc::timeout, "HTTP call timed out");
                co_return fail(Errc::unavailable, "HTTP call to " + key + " failed: " + sec.message());
            }
            if (conn) {  // read whole and kept alive: back to the pool
                conn->stream.expires_never();
                pool->put(key, std::move(conn));
            }
            co_return std::move(sres);
        }
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(pool->max_response);
        boost::system::error_code ec = wec;
        if (!ec) {
            auto [rec, rn] = co_await bhttp::async_read(conn->stream, conn->buffer, parser, kTuple);
            ec = rec;
        }
        if (ec) {
            if (reused && attempt == 0 && stale_connection_error(ec)) {  // the peer closed an idle connection
                pool->drop(key);
                continue;
            }
            if (ec == beast::error::timeout) co_return fail(Errc::timeout, "HTTP call timed out");
            co_return fail(Errc::unavailable, "HTTP call to " + key + " failed: " + ec.message());
        }
        auto res = parser.release();
        ClientResponse r;
        r.status = static_cast<int>(res.result_int());
        for (const auto& f : res) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
        r.body = std::move(res.body());
        if (res.keep_alive()) {
            conn->stream.expires_never();
            pool->put(key, std::move(conn));
        }
        co_return r;
    }
    co_return fail(Errc::unavailable, "HTTP call to " + key + " failed");
}

}  // namespace lt::http
