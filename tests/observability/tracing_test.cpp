// Traces of one consume request, received by a small OTLP/HTTP receiver run by the test: the client's
// traceparent is the parent of the server span, the token module's span is its child, and the
// provider call (provider.chat.v1 over the bus) is a child of that; the upstream provider receives the
// provider call's span as its traceparent. Store calls (kv …, sql …) are spans of the same trace.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct ReceivedSpan {
    std::string trace_id, span_id, parent_id, name;
    int kind = 0;
    int status = 0;
};

/// Accepts OTLP/HTTP JSON posts on loopback (one request per connection, as the exporter sends them)
/// and keeps the spans.
class OtlpReceiver {
public:
    OtlpReceiver() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this] { run(); });
    }
    ~OtlpReceiver() {
        stopping_ = true;
        boost::system::error_code ec;
        // Wake the blocking accept with a connection of our own.
        asio::ip::tcp::socket s(io_);
        s.connect(acceptor_.local_endpoint(), ec);
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::vector<ReceivedSpan> spans() const {
        std::lock_guard lock(mutex_);
        return spans_;
    }
    std::size_t posts() const { return posts_.load(); }
    std::vector<std::string> upstream_traceparents() const {
        std::lock_guard lock(mutex_);
        return upstream_traceparents_;
    }

private:
    void run() {
        while (!stopping_) {
            asio::ip::tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stopping_) continue;
            boost::beast::flat_buffer buffer;
            bhttp::request<bhttp::string_body> req;
            bhttp::read(socket, buffer, req, ec);
            if (ec) continue;
            bool good = req.method() == bhttp::verb::post;
            if (good && req.target() == "/v1/traces") {
                good = take(req.body());
            } else if (good) {
                // The upstream provider's side (providers.openai.base-url points here).
                std::lock_guard lock(mutex_);
                upstream_traceparents_.emplace_back(req["traceparent"]);
            }
            bhttp::response<bhttp::string_body> res{good ? bhttp::status::ok : bhttp::status::bad_request, 11};
            res.set(bhttp::field::content_type, "application/json");
            res.body() = "{}";
            res.prepare_payload();
            bhttp::write(socket, res, ec);
        }
    }
    bool take(const std::string& body) {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        if (ec) return false;
        ++posts_;
        std::lock_guard lock(mutex_);
        for (const auto& rs : v.at("resourceSpans").as_array()) {
            for (const auto& ss : rs.at("scopeSpans").as_array()) {
                for (const auto& s : ss.at("spans").as_array()) {
                    const auto& o = s.as_object();
                    ReceivedSpan span;
                    span.trace_id = json::value_to<std::string>(o.at("traceId"));
                    span.span_id = json::value_to<std::string>(o.at("spanId"));
                    if (auto* p = o.if_contains("parentSpanId")) span.parent_id = json::value_to<std::string>(*p);
                    span.name = json::value_to<std::string>(o.at("name"));
                    span.kind = static_cast<int>(o.at("kind").as_int64());
                    span.status = static_cast<int>(o.at("status").at("code").as_int64());
                    spans_.push_back(std::move(span));
                }
            }
        }
        return true;
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> posts_{0};
    mutable std::mutex mutex_;  ///< guards spans_
    std::vector<ReceivedSpan> spans_;
    std::vector<std::string> upstream_traceparents_;
};

const ReceivedSpan* find(const std::vector<ReceivedSpan>& spans, const std::string& trace, const std::string& parent) {
    for (const auto& s : spans) {
        if (s.trace_id == trace && s.parent_id == parent) return &s;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("the spans of one consume request reach an OTLP receiver with their parent links") {
    OtlpReceiver receiver;
    lt::test::TempDir dir;
    lt::test::ServerProcess server(
        dir.path(), lt::test::free_port(),
        lt::test::ServerSpec{lt::test::with_admin({"tracing.otlp.endpoint=http://127.0.0.1:" +
                                                       std::to_string(receiver.port()) + "/v1/traces",
                                                   "tracing.sampling-ratio=1",
                                                   "providers.openai.base-url=http://127.0.0.1:" +
                                                       std::to_string(receiver.port())})});
    auto u = lt::test::signup(server.port(), "tracer");
    lt::test::allocate(server.port(), lt::test::admin(server.port()), "userId", u.id, 100);

    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::string client_span = "00f067aa0ba902b7";
    auto headers = u.auth();
    headers["traceparent"] = "00-" + trace + "-" + client_span + "-01";
    auto r = lt::test::http_call(server.port(), "POST", "/api/v1/tokens/consume",
                                 json::serialize(json::object{
                                     {"userId", u.id}, {"provider", "openai"}, {"tokens", 5}, {"prompt", "hi"}}),
                                 headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);

    // A request whose caller did not sample its trace is not recorded.
    const std::string unsampled = "0af7651916cd43dd8448eb211c80319c";
    headers["traceparent"] = "00-" + unsampled + "-b7ad6b7169203331-00";
    CHECK(lt::test::http_call(server.port(), "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai", {},
                              headers)
              .status == 200);

    // The exporter posts at least every second.
    const ReceivedSpan *root = nullptr, *module = nullptr, *provider = nullptr, *store = nullptr;
    std::vector<ReceivedSpan> keep;  // what the pointers point into
    for (int i = 0; i < 60 && !(root && module && provider && store); ++i) {
        std::this_thread::sleep_for(100ms);
        keep = receiver.spans();
        provider = module = store = nullptr;
        root = find(keep, trace, client_span);
        if (!root) continue;
        // The token module's span among the server span's children (the gateway's own store calls,
        // e.g. its edge rate limiter's, are children of the server span too).
        for (const auto& s : keep) {
            if (s.trace_id == trace && s.parent_id == root->span_id && s.name.rfind("token ", 0) == 0) module = &s;
        }
        if (module) {
            for (const auto& s : keep) {
                if (s.trace_id == trace && s.name == "provider.chat.v1") provider = &s;
                // A store call (the rate limiter's key-value update, a SQL transaction): a client span.
                if (s.trace_id == trace && (s.name.rfind("kv ", 0) == 0 || s.name.rfind("sql ", 0) == 0)) store = &s;
            }
        }
    }
    REQUIRE_MESSAGE(root, "no server span child of the client's span (posts received: " << receiver.posts() << ")");
    CHECK(root->kind == 2);
    CHECK(root->name.find("POST") == 0);
    CHECK(root->name.find("consume") != std::string::npos);
    CHECK(root->status == 0);
    REQUIRE_MESSAGE(module, "no span child of the server span");
    CHECK(module->name.rfind("token ", 0) == 0);
    REQUIRE_MESSAGE(provider, "no provider.chat.v1 span in the trace");
    // The provider call descends from the token module's span.
    auto spans = receiver.spans();
    std::map<std::string, std::string> parent_of;
    for (const auto& s : spans) {
        if (s.trace_id == trace) parent_of[s.span_id] = s.parent_id;
    }
    std::string at = provider->span_id;
    bool under_module = false;
    for (int hops = 0; hops < 10 && !at.empty(); ++hops) {
        at = parent_of.count(at) ? parent_of[at] : std::string();
        if (at == module->span_id) under_module = true;
    }
    CHECK(under_module);
    // The upstream provider got the provider call's span as its parent.
    auto upstream = receiver.upstream_traceparents();
    REQUIRE(upstream.size() >= 1);
    CHECK(upstream.front() == "00-" + trace + "-" + provider->span_id + "-01");
    // Store calls are spans of the request's trace, children of a span of that trace.
    REQUIRE_MESSAGE(store, "no store span (kv … / sql …) in the trace");
    CHECK(store->kind == 3);
    CHECK(parent_of.count(store->parent_id) == 1);
    // The token module's own store calls (its rate limiter's bucket) descend from its span.
    std::string store_names;
    bool store_under_module = false;
    for (const auto& s : spans) {
        if (s.trace_id != trace || !(s.name.rfind("kv ", 0) == 0 || s.name.rfind("sql ", 0) == 0)) continue;
        store_names += " " + s.name;
        for (std::string up = s.parent_id; !up.empty() && !store_under_module;) {
            store_under_module = up == module->span_id;
            up = parent_of.count(up) ? parent_of[up] : std::string();
        }
    }
    MESSAGE("store spans in the consume trace:" << store_names);
    CHECK(store_under_module);
    // Every span of the trace hangs off a span of the trace, or off the client's.
    for (const auto& s : spans) {
        if (s.trace_id != trace) continue;
        CHECK_MESSAGE((s.parent_id == client_span || parent_of.count(s.parent_id) == 1), "orphan span " << s.name);
    }
    for (const auto& s : spans) CHECK_MESSAGE(s.trace_id != unsampled, "an unsampled trace was recorded: " << s.name);
}
