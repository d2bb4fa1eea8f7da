#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/http/errors.hpp"
#include "lt/http/message.hpp"

TEST_CASE("query parameters are percent-decoded and found by name") {
    lt::http::Request r;
    r.query = "userId=a%20b&provider=open+ai&empty=&flag";
    CHECK(r.query_param("userId") == "a b");
    CHECK(r.query_param("provider") == "open ai");
    CHECK(r.query_param("empty") == "");
    CHECK(r.query_param("flag") == "");
    CHECK_FALSE(r.query_param("missing"));
}

TEST_CASE("a request survives the bus wire form unchanged") {
    lt::http::Request r;
    r.method = "POST";
    r.path = "/api/v1/openai/chat";
    r.target = "/api/v1/openai/chat?x=1";
    r.query = "x=1";
    r.headers = {{"Content-Type", "application/json"}, {"X-Api-Key", "k"}};
    r.body = R"({"prompt":"hi"})";
    r.remote_ip = "127.0.0.1";
    r.route = "/api/v1/openai/chat";
    r.path_params = {{"id", "7"}};
    r.ctx.correlation_id = "corr";
    r.ctx.principal = lt::bus::Principal{"u1", {"ADMIN", "USER"}, "jwt"};
    auto back = lt::http::request_from_json(lt::http::to_json(r));
    REQUIRE(back);
    CHECK(back->method == r.method);
    CHECK(back->body == r.body);
    CHECK(back->header("x-api-key") == "k");
    CHECK(back->path_param("id") == "7");
    REQUIRE(back->ctx.principal);
    CHECK(back->ctx.principal->roles.size() == 2);
    CHECK(back->ctx.correlation_id == "corr");
}

TEST_CASE("error responses carry message, timestamp, status, error and path") {
    auto res = lt::http::error_response(lt::Error{lt::Errc::not_found, "quota not found"}, "/api/v1/tokens/quota");
    CHECK(res.status == 404);
    auto body = boost::json::parse(res.body).as_object();
    CHECK(body["message"] == "quota not found");
    CHECK(body["status"] == 404);
    CHECK(body["error"] == "Not Found");
    CHECK(body["path"] == "/api/v1/tokens/quota");
    CHECK(std::string(body["timestamp"].as_string()).back() == 'Z');
    CHECK(res.header("content-type") == "application/json");
}

TEST_CASE("JSON parsing rejects malformed text and nesting deeper than 64 levels") {
    CHECK_FALSE(lt::parse_json("{\"a\":"));
    std::string deep(65, '[');
    deep += std::string(65, ']');
    auto r = lt::parse_json(deep);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == lt::Errc::invalid_argument);
    std::string ok(64, '[');
    ok += std::string(64, ']');
    CHECK(lt::parse_json(ok));
    CHECK_FALSE(lt::parse_json_object("[1]"));
}
