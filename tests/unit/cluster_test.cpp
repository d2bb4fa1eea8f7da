#include <doctest/doctest.h>

#include <map>
#include <string>

#include "lt/core/cluster.hpp"
#include "lt/core/crypto.hpp"

namespace {

using namespace std::chrono_literals;
using lt::cluster::sign;
using lt::cluster::verify;

/// Case-insensitive header map standing in for a request's headers.
struct Headers {
    std::map<std::string, std::string> values;
    static std::string lower(std::string_view s) {
        std::string out(s);
        for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    }
    void add(const std::vector<std::pair<std::string, std::string>>& hs) {
        for (const auto& [k, v] : hs) values[lower(k)] = v;
    }
    auto fn() const {
        return [this](std::string_view name) -> std::string_view {
            auto it = values.find(lower(name));
            return it == values.end() ? std::string_view{} : std::string_view(it->second);
        };
    }
};

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

lt::bus::Principal alice() {
    lt::bus::Principal p;
    p.user_id = "0b7e8f0e-1111-4222-8333-444455556666";
    p.roles = {"USER"};
    p.method = "api_key";
    return p;
}

}  // namespace

TEST_CASE("a signed call verifies and carries its principal") {
    Headers h;
    h.values["x-request-id"] = "req-1";
    const std::string body = R"({"tokens":5})";
    h.add(sign("s3cret", "POST", "/api/v1/tokens/consume?x=1", alice(), "req-1", lt::crypto::sha256_hex(body), kNow));
    auto v = verify("s3cret", "POST", "/api/v1/tokens/consume?x=1", h.fn(), body, kNow + 5s);
    REQUIRE(v);
    REQUIRE(v->principal);
    CHECK(v->principal->user_id == alice().user_id);
    CHECK(v->principal->roles == std::vector<std::string>{"USER"});
}

TEST_CASE("a call signed with another secret or for another target is refused") {
    Headers h;
    h.add(sign("s3cret", "GET", "/internal/x", std::nullopt, "", std::nullopt, kNow));
    CHECK(verify("other", "GET", "/internal/x", h.fn(), "", kNow).error().code == lt::Errc::unauthenticated);
    CHECK(verify("s3cret", "GET", "/internal/y", h.fn(), "", kNow).error().code == lt::Errc::unauthenticated);
    CHECK(verify("s3cret", "POST", "/internal/x", h.fn(), "", kNow).error().code == lt::Errc::unauthenticated);
    CHECK(verify("s3cret", "GET", "/internal/x", h.fn(), "", kNow));
}

TEST_CASE("a forged principal, a changed body or a stale signature is refused") {
    Headers h;
    h.add(sign("s3cret", "POST", "/p", alice(), "", lt::crypto::sha256_hex("a"), kNow));
    SUBCASE("principal swapped") {
        auto admin = alice();
        admin.roles = {"ADMIN"};
        Headers other;
        other.add(sign("s3cret", "POST", "/p", admin, "", lt::crypto::sha256_hex("a"), kNow));
        h.values["x-lt-principal"] = other.values["x-lt-principal"];
        CHECK_FALSE(verify("s3cret", "POST", "/p", h.fn(), "a", kNow));
    }
    SUBCASE("body changed") { CHECK_FALSE(verify("s3cret", "POST", "/p", h.fn(), "b", kNow)); }
    SUBCASE("too old or too far ahead") {
        CHECK_FALSE(verify("s3cret", "POST", "/p", h.fn(), "a", kNow + 61s));
        CHECK_FALSE(verify("s3cret", "POST", "/p", h.fn(), "a", kNow - 61s));
        CHECK(verify("s3cret", "POST", "/p", h.fn(), "a", kNow + 59s));
    }
    SUBCASE("no signature or no secret") {
        Headers empty;
        CHECK_FALSE(verify("s3cret", "POST", "/p", empty.fn(), "a", kNow));
        CHECK_FALSE(verify("", "POST", "/p", h.fn(), "a", kNow));
    }
}
