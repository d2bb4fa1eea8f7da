// The typed bus: descriptors, moves in one process, and the codec check (bus.codec-check).
#include <doctest/doctest.h>

#include <atomic>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "lt/bus/codec.hpp"
#include "lt/bus/in_process_bus.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
namespace codec = lt::bus::codec;

namespace demo {

std::atomic<int> g_encodes{0};

/// A faithful DTO: its codec writes and reads every field.
struct Greeting {
    std::string name;
    int times = 1;
    bool operator==(const Greeting&) const = default;
};
void tag_invoke(json::value_from_tag, json::value& v, const Greeting& g) {
    ++g_encodes;
    v = json::object{{"name", g.name}, {"times", g.times}};
}
Greeting tag_invoke(json::value_to_tag<Greeting>, const json::value& v) {
    const auto& o = codec::object_of(v, "greeting");
    return Greeting{codec::required<std::string>(o, "name"), codec::with_default<int>(o, "times", 1)};
}

/// A DTO whose codec forgets a field (`shout` is never written): fine in one process without the
/// codec check, wrong across processes.
struct Lossy {
    std::string text;
    bool shout = false;
    bool operator==(const Lossy&) const = default;
};
void tag_invoke(json::value_from_tag, json::value& v, const Lossy& l) { v = json::object{{"text", l.text}}; }
Lossy tag_invoke(json::value_to_tag<Lossy>, const json::value& v) {
    const auto& o = codec::object_of(v, "lossy");
    return Lossy{codec::required<std::string>(o, "text"), codec::with_default<bool>(o, "shout", false)};
}

struct Reply {
    std::string text;
    bool operator==(const Reply&) const = default;
};
void tag_invoke(json::value_from_tag, json::value& v, const Reply& r) { v = json::object{{"text", r.text}}; }
Reply tag_invoke(json::value_to_tag<Reply>, const json::value& v) {
    return Reply{codec::required<std::string>(codec::object_of(v, "reply"), "text")};
}

inline constexpr lt::bus::Command<Greeting, Reply> kGreet{"demo.greet.v1"};
inline constexpr lt::bus::Command<Lossy, Reply> kEcho{"demo.echo.v1"};
inline constexpr lt::bus::Event<Lossy> kSaid{"demo.said.v1"};

asio::awaitable<lt::Result<Reply>> greet(Greeting g) {
    std::string out;
    for (int i = 0; i < g.times; ++i) out += "hello " + g.name + ";";
    co_return Reply{out};
}

asio::awaitable<lt::Result<Reply>> echo(Lossy l) { co_return Reply{l.shout ? l.text + "!" : l.text}; }

std::atomic<int> g_heard{0};
std::atomic<bool> g_heard_shout{false};
asio::awaitable<lt::Result<void>> hear(Lossy l) {
    ++g_heard;
    g_heard_shout = l.shout;
    co_return lt::ok();
}

}  // namespace demo

namespace {

struct Harness {
    explicit Harness(bool codec_check) : bus(io.get_executor(), lt::make_logger("test", "off"), nullptr) {
        bus.set_codec_check(codec_check);
        bus.handle(demo::kGreet, [](demo::Greeting g, lt::bus::Context) { return demo::greet(std::move(g)); });
        bus.handle(demo::kEcho, [](demo::Lossy l, lt::bus::Context) { return demo::echo(std::move(l)); });
        bus.subscribe(demo::kSaid, "listeners", [](demo::Lossy l, lt::bus::Context) { return demo::hear(std::move(l)); });
    }
    template <class Req, class Rep>
    lt::Result<Rep> call(lt::bus::Command<Req, Rep> cmd, Req req) {
        lt::bus::Bus& b = bus;
        auto fut = asio::co_spawn(io, b.call(cmd, std::move(req), lt::bus::Context{}), asio::use_future);
        io.restart();
        io.run();
        return fut.get();
    }
    asio::io_context io;
    lt::bus::InProcessBus bus;
};

}  // namespace

TEST_CASE("a typed call in one process moves its values without encoding them") {
    Harness h(false);
    demo::g_encodes = 0;
    auto r = h.call(demo::kGreet, demo::Greeting{"ada", 2});
    REQUIRE(r);
    CHECK(r->text == "hello ada;hello ada;");
    CHECK(demo::g_encodes == 0);
}

TEST_CASE("with the codec check on a typed call goes through its codec and still answers the same") {
    Harness h(true);
    demo::g_encodes = 0;
    auto r = h.call(demo::kGreet, demo::Greeting{"ada", 2});
    REQUIRE(r);
    CHECK(r->text == "hello ada;hello ada;");
    CHECK(demo::g_encodes >= 1);
}

TEST_CASE("a request whose codec loses a field passes unnoticed without the codec check") {
    Harness h(false);
    auto r = h.call(demo::kEcho, demo::Lossy{"hi", true});
    REQUIRE(r);
    CHECK(r->text == "hi!");  // across processes this would have been "hi"
}

TEST_CASE("the codec check catches a request whose codec loses a field") {
    Harness h(true);
    auto r = h.call(demo::kEcho, demo::Lossy{"hi", true});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == lt::Errc::internal);
    CHECK(r.error().message.find("demo.echo.v1") != std::string::npos);
    // A value the lossy codec happens to keep intact passes.
    auto fine = h.call(demo::kEcho, demo::Lossy{"hi", false});
    REQUIRE(fine);
    CHECK(fine->text == "hi");
}

TEST_CASE("the codec check catches an event whose codec loses a field, in publish and in deliver") {
    Harness h(true);
    demo::g_heard = 0;
    lt::bus::Bus& b = h.bus;
    CHECK(b.publish(demo::kSaid, demo::Lossy{"hi", true}, {}).error().code == lt::Errc::internal);
    auto fut = asio::co_spawn(h.io, b.deliver(demo::kSaid, demo::Lossy{"hi", true}, {}), asio::use_future);
    h.io.run();
    auto delivered = fut.get();
    REQUIRE_FALSE(delivered);
    CHECK(delivered.error().code == lt::Errc::internal);
    CHECK(demo::g_heard == 0);
}

TEST_CASE("a typed event reaches its subscribers as the C++ value") {
    Harness h(false);
    demo::g_heard = 0;
    demo::g_heard_shout = false;
    lt::bus::Bus& b = h.bus;
    REQUIRE(b.publish(demo::kSaid, demo::Lossy{"hi", true}, {}));
    h.io.run();
    CHECK(demo::g_heard == 1);
    CHECK(demo::g_heard_shout);  // moved, not encoded: the field the codec loses is still there
}

TEST_CASE("a typed handler decodes a message that arrives as JSON from another process") {
    Harness h(false);
    auto fut = asio::co_spawn(h.io, h.bus.call_named("demo.greet.v1", json::value(json::object{{"name", "bo"}}), {}),
                              asio::use_future);
    h.io.run();
    auto r = fut.get();
    REQUIRE(r);
    CHECK(r->json().as_object().at("text") == "hello bo;");
    auto bad = asio::co_spawn(h.io, h.bus.call_named("demo.greet.v1", json::value(json::object{{"times", 2}}), {}),
                              asio::use_future);
    h.io.restart();
    h.io.run();
    auto refused = bad.get();
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == lt::Errc::invalid_argument);
    CHECK(refused.error().message == "demo.greet.v1: name is missing");
}
