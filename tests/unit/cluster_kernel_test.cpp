// Split mode's pure kernel pieces: the registry table parser (Eureka's JSON, object-or-array), command
// ownership by prefix, and the wire form of a bus message crossing processes.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "lt/cluster/forwarder.hpp"
#include "lt/cluster/registry_client.hpp"
#include "lt/cluster/remote_bus.hpp"

namespace json = boost::json;

TEST_CASE("the registry table keeps UP instances with their home page URL and the module in lower case") {
    auto v = json::parse(R"({"applications":{"versions__delta":"1","application":[
        {"name":"TOKEN","instance":[
            {"instanceId":"127.0.0.1:8082:token","app":"TOKEN","status":"UP","homePageUrl":"http://127.0.0.1:8082/"},
            {"instanceId":"127.0.0.1:8092:token","app":"TOKEN","status":"DOWN","homePageUrl":"http://127.0.0.1:8092/"}]},
        {"name":"AUTH","instance":
            {"instanceId":"h:1:auth","app":"AUTH","status":"UP","hostName":"10.0.0.7","port":{"$":8081,"@enabled":"true"}}}
    ]}})");
    auto table = lt::cluster::parse_eureka_apps(v);
    REQUIRE(table);
    REQUIRE(table->size() == 2);
    CHECK((*table)[0].module == "token");
    CHECK((*table)[0].instance_id == "127.0.0.1:8082:token");
    CHECK((*table)[0].url == "http://127.0.0.1:8082");
    CHECK((*table)[1].module == "auth");
    CHECK((*table)[1].url == "http://10.0.0.7:8081");  // no homePageUrl: host and port
}

TEST_CASE("a registry answer without applications is an error and an empty registry an empty table") {
    CHECK_FALSE(lt::cluster::parse_eureka_apps(json::parse(R"({"nope":1})")));
    CHECK_FALSE(lt::cluster::parse_eureka_apps(json::parse("[]")));
    auto empty = lt::cluster::parse_eureka_apps(json::parse(R"({"applications":{"application":[]}})"));
    REQUIRE(empty);
    CHECK(empty->empty());
}

TEST_CASE("a command's owner module comes from its prefix") {
    using lt::cluster::owner_of_command;
    CHECK(owner_of_command("auth.verify_key.v1") == "auth");
    CHECK(owner_of_command("provider.chat.v1") == "providers");
    CHECK(owner_of_command("token.usage.v1") == "token");
    CHECK(owner_of_command("registry.x.v1") == "registry");
    CHECK(owner_of_command("config.changed.v1") == "config");
    CHECK(owner_of_command("analytics.x.v1") == "analytics");
    CHECK(owner_of_command("nobody.x.v1").empty());
}

TEST_CASE("a bus message crossing processes carries body, ids and deadline but never the principal") {
    lt::bus::Context ctx;
    ctx.request_id = "r-1";
    ctx.correlation_id = "c-1";
    ctx = ctx.with_timeout(std::chrono::milliseconds(1500));
    ctx.principal = lt::bus::Principal{"u", {"ADMIN"}, "jwt"};
    auto wire = json::parse(lt::cluster::encode_bus_message(json::object{{"apiKey", "k"}}, ctx)).as_object();
    CHECK(wire.at("body").at("apiKey") == "k");
    const auto& c = wire.at("ctx").as_object();
    CHECK(c.at("requestId") == "r-1");
    CHECK(c.at("correlationId") == "c-1");
    CHECK(c.at("timeoutMs").as_int64() > 1000);
    CHECK(c.at("timeoutMs").as_int64() <= 1500);
    CHECK_FALSE(c.contains("principal"));  // identity crosses only in the signed X-Lt-Principal header
}
