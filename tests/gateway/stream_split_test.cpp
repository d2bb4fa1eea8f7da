// Streamed bodies through the gateway's proxy (issue 10 part 2): in split mode an SSE chat completion
// from the token+providers process reaches the client chunk by chunk as the stub produces it, ends
// with `data: [DONE]`, and a client that goes away mid-stream is seen by the upstream process.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "gateway/split_pair.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;
using lt::test::http_call;

namespace {

std::string chat_body() {
    return json::serialize(json::object{
        {"model", "gpt-4o-mini"},
        {"messages", json::array{json::object{{"role", "user"}, {"content", "Tell me a long story about tokens"}}}},
        {"stream", true},
        {"max_tokens", 1000},
        {"stream_options", json::object{{"include_usage", true}}}});
}

/// What a raw client saw of one streamed answer, with the arrival times of the first and last SSE event.
struct Seen {
    std::string bytes;
    std::optional<std::chrono::steady_clock::time_point> first_data;
    std::optional<std::chrono::steady_clock::time_point> done;
    int data_lines = 0;
};

/// Sends the chat request and reads until `[DONE]`, the connection closes, `stop_after` data lines
/// arrived (then the socket is reset: the client is gone) or 20 s passed.
Seen stream_chat(std::uint16_t port, const lt::test::Account& u, int stop_after = 1 << 30) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    auto body = chat_body();
    std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Authorization: Bearer " + u.token + "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body;
    boost::asio::write(s, boost::asio::buffer(req));
    Seen seen;
    char buf[4096];
    const auto limit = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < limit) {
        boost::system::error_code ec;
        auto n = s.read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        seen.bytes.append(buf, n);
        int count = 0;
        for (std::size_t pos = 0; (pos = seen.bytes.find("data: ", pos)) != std::string::npos; pos += 6) ++count;
        if (count > 0 && !seen.first_data) seen.first_data = std::chrono::steady_clock::now();
        seen.data_lines = count;
        if (seen.bytes.find("data: [DONE]") != std::string::npos) {
            seen.done = std::chrono::steady_clock::now();
            if (seen.bytes.find("\r\n0\r\n\r\n") != std::string::npos) break;  // the terminating chunk
        }
        if (count >= stop_after) break;
    }
    boost::system::error_code ignored;
    s.set_option(boost::asio::socket_base::linger(true, 0), ignored);
    s.close(ignored);
    return seen;
}

std::int64_t remaining(std::uint16_t port, const lt::test::Account& u) {
    auto r = http_call(port, "GET", "/api/v1/tokens/quota?userId=" + u.id + "&provider=openai", "", u.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body).as_object().at("remainingTokens").as_int64();
}

}  // namespace

TEST_CASE("An SSE chat completion streams through the gateway process chunk by chunk and ends with DONE") {
    lt::test::SplitPair p({}, {"providers.openai.stream.chunks=6", "providers.openai.stream.delay=250ms"});
    const auto gw = p.gateway_port;
    auto root = lt::test::admin(gw);
    auto u = lt::test::signup(gw, "streamer");
    lt::test::allocate(gw, root, "userId", u.id, 100000);
    auto seen = stream_chat(gw, u);
    INFO(seen.bytes);
    REQUIRE(seen.bytes.starts_with("HTTP/1.1 200"));
    CHECK(seen.bytes.find("Transfer-Encoding: chunked") != std::string::npos);
    CHECK(seen.bytes.find("text/event-stream") != std::string::npos);
    REQUIRE(seen.first_data);
    REQUIRE(seen.done);
    auto spread = std::chrono::duration_cast<std::chrono::milliseconds>(*seen.done - *seen.first_data);
    MESSAGE("first event to [DONE]: " << spread.count() << " ms");
    // Six chunks 250 ms apart: a buffering proxy would deliver everything at once.
    CHECK(spread >= 800ms);
    CHECK(seen.data_lines >= 6);
    auto last = seen.bytes.rfind("data: ");
    CHECK(seen.bytes.compare(last, 12, "data: [DONE]") == 0);
    CHECK(seen.bytes.find("\r\n0\r\n\r\n") != std::string::npos);
}

TEST_CASE("A client that disconnects mid-stream through the gateway stops the upstream stream") {
    lt::test::SplitPair p({}, {"providers.openai.stream.chunks=20", "providers.openai.stream.delay=250ms"});
    const auto gw = p.gateway_port;
    auto root = lt::test::admin(gw);
    auto u = lt::test::signup(gw, "leaver");
    lt::test::allocate(gw, root, "userId", u.id, 100000);
    // A whole stream first: what the completion costs.
    auto before = remaining(gw, u);
    auto whole = stream_chat(gw, u);
    REQUIRE(whole.done);
    auto full_cost = before - remaining(gw, u);
    REQUIRE(full_cost > 0);
    // The same completion, left after three events (of ~20, 250 ms apart: about 5 s in all).
    before = remaining(gw, u);
    auto left_at = std::chrono::steady_clock::now();
    auto partial = stream_chat(gw, u, 3);
    CHECK_FALSE(partial.done);
    // The token process learns of the disconnect (through the gateway) and settles what was produced,
    // long before the stream would have ended.
    std::int64_t cost = -1;
    bool settled = lt::test::eventually(
        [&] {
            cost = before - remaining(gw, u);
            return cost > 0 && cost < full_cost;
        },
        3s);
    MESSAGE("full stream cost " << full_cost << ", disconnected stream cost " << cost << " after "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                         left_at)
                                       .count()
                                << " ms");
    CHECK(settled);
    // The gateway still serves.
    CHECK(http_call(gw, "GET", "/api/v1/tokens/status").status == 200);
}
