#pragma once
/// Users for whole-application tests: register, log in the bootstrap admin, allocate quota.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "support/test_http.hpp"

namespace lt::test {

/// Overrides that bootstrap the ADMIN user `root` (see admin()).
inline std::vector<std::string> with_admin(std::vector<std::string> extra = {}) {
    std::vector<std::string> o{"auth.bootstrap-admin.username=root", "auth.bootstrap-admin.password=root-password-1"};
    for (auto& e : extra) o.push_back(std::move(e));
    return o;
}

/// A registered user and a JWT of theirs.
struct Account {
    std::string id;
    std::string token;
    std::map<std::string, std::string> auth() const { return {{"Authorization", "Bearer " + token}}; }
};

/// Registers `name` (USER role) and returns its id and JWT.
inline Account signup(std::uint16_t port, const std::string& name) {
    auto r = http_call(port, "POST", "/api/v1/auth/register",
                       boost::json::serialize(boost::json::object{
                           {"username", name}, {"email", name + "@example.com"}, {"password", "pw-" + name + "-123"}}));
    REQUIRE_MESSAGE(r.status == 201, r.body);
    auto o = boost::json::parse(r.body).as_object();
    return {std::string(o.at("userId").as_string()), std::string(o.at("token").as_string())};
}

/// Logs in the bootstrap admin of with_admin().
inline Account admin(std::uint16_t port) {
    auto r = http_call(port, "POST", "/api/v1/auth/login", R"({"username":"root","password":"root-password-1"})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto o = boost::json::parse(r.body).as_object();
    return {std::string(o.at("userId").as_string()), std::string(o.at("token").as_string())};
}

/// PUT /api/v1/tokens/quota as `root`: sets the allowance of a user's or an org's pool.
inline void allocate(std::uint16_t port, const Account& root, const std::string& owner_field, const std::string& owner,
                     std::int64_t tokens, const std::string& provider = "openai") {
    auto r = http_call(port, "PUT", "/api/v1/tokens/quota",
                       boost::json::serialize(boost::json::object{
                           {owner_field, owner}, {"provider", provider}, {"allowanceTokens", tokens}}),
                       root.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
}

/// The `message` of an error body.
inline std::string message_of(const HttpResult& r) {
    auto v = boost::json::parse(r.body);
    if (!v.is_object() || !v.as_object().contains("message")) return "<no message: " + r.body + ">";
    return std::string(v.as_object().at("message").as_string());
}

}  // namespace lt::test
