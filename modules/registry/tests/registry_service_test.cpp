// RegistryService alone: register, renew, cancel, list, eviction on a fake clock.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "lt/core/clock.hpp"
#include "lt/registry/registry.hpp"
#include "registry_service.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {
json::value instance(std::string id, std::string status = "UP") {
    return json::object{{"instance", json::object{{"instanceId", id},
                                                  {"app", "token"},
                                                  {"hostName", "127.0.0.1"},
                                                  {"status", status},
                                                  {"port", json::object{{"$", 8081}, {"@enabled", "true"}}},
                                                  {"homePageUrl", "http://127.0.0.1:8081/"},
                                                  {"metadata", json::object{{"zone", "a"}}}}}};
}
}  // namespace

TEST_CASE("a registered instance is listed under its upper-case app with Eureka's lease fields") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    REQUIRE(svc.register_instance("token", instance("t1")));
    auto all = svc.applications();
    const auto& apps = all.at("applications").as_object();
    CHECK(apps.at("versions__delta") == "1");
    CHECK(apps.at("apps__hashcode") == "UP_1_");
    const auto& app = apps.at("application").as_array().at(0).as_object();
    CHECK(app.at("name") == "TOKEN");
    const auto& inst = app.at("instance").as_array().at(0).as_object();
    CHECK(inst.at("instanceId") == "t1");
    CHECK(inst.at("app") == "TOKEN");
    CHECK(inst.at("status") == "UP");
    CHECK(inst.at("actionType") == "ADDED");
    CHECK(inst.at("metadata").at("zone") == "a");
    CHECK(inst.at("port").at("$") == 8081);
    const long long now_ms = 1767225600000LL;
    CHECK(inst.at("leaseInfo").at("registrationTimestamp") == now_ms);
    CHECK(inst.at("leaseInfo").at("durationInSecs") == 90);
    CHECK(inst.at("leaseInfo").at("evictionTimestamp") == 0);
    CHECK(inst.at("lastUpdatedTimestamp").as_string() == std::to_string(now_ms).c_str());
    REQUIRE(svc.application("ToKeN"));
    CHECK(svc.application("auth").error().code == lt::Errc::not_found);
}

TEST_CASE("registering the same instance again replaces it and marks it modified") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    REQUIRE(svc.register_instance("token", instance("t1")));
    REQUIRE(svc.register_instance("TOKEN", instance("t1", "DOWN")));
    CHECK(svc.size() == 1);
    auto app = svc.application("token");
    REQUIRE(app);
    const auto& inst = app->at("application").at("instance").as_array().at(0);
    CHECK(inst.at("status") == "DOWN");
    CHECK(inst.at("actionType") == "MODIFIED");
}

TEST_CASE("a lease not renewed within its duration is evicted and a renewed one stays") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    REQUIRE(svc.register_instance("token", instance("t1")));
    REQUIRE(svc.register_instance("token", instance("t2")));
    clock.advance(60s);
    REQUIRE(svc.renew("token", "t2"));
    clock.advance(30s);
    CHECK(svc.evict().empty());  // exactly 90 s: not yet past the lease
    clock.advance(1ms);
    CHECK(svc.evict() == std::vector<std::string>{"TOKEN/t1"});
    CHECK(svc.size() == 1);
    clock.advance(60s);
    CHECK(svc.evict() == std::vector<std::string>{"TOKEN/t2"});
    CHECK(svc.application("token").error().code == lt::Errc::not_found);
}

TEST_CASE("an instance's own leaseInfo duration wins over the registry default") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    auto body = instance("t1");
    body.at("instance").as_object()["leaseInfo"] = json::object{{"durationInSecs", 5}, {"renewalIntervalInSecs", 2}};
    REQUIRE(svc.register_instance("token", body));
    clock.advance(6s);
    CHECK(svc.evict().size() == 1);
}

TEST_CASE("renew and cancel of an unknown instance are not found and renew can change the status") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    CHECK(svc.renew("token", "nope").error().code == lt::Errc::not_found);
    CHECK(svc.cancel("token", "nope").error().code == lt::Errc::not_found);
    REQUIRE(svc.register_instance("token", instance("t1")));
    REQUIRE(svc.renew("token", "t1", std::string("DOWN")));
    CHECK(svc.applications().at("applications").at("apps__hashcode") == "DOWN_1_");
    CHECK(svc.renew("token", "t1", std::string("SIDEWAYS")).error().code == lt::Errc::invalid_argument);
    REQUIRE(svc.cancel("token", "t1"));
    CHECK(svc.size() == 0);
    CHECK(svc.applications().at("applications").at("application").as_array().empty());
}

TEST_CASE("a registration without instanceId or homePageUrl or with a bad status is invalid") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    auto no_id = instance("t1");
    no_id.at("instance").as_object().erase("instanceId");
    CHECK(svc.register_instance("token", no_id).error().code == lt::Errc::invalid_argument);
    auto no_home = instance("t1");
    no_home.at("instance").as_object().erase("homePageUrl");
    CHECK(svc.register_instance("token", no_home).error().code == lt::Errc::invalid_argument);
    CHECK(svc.register_instance("token", instance("t1", "SIDEWAYS")).error().code == lt::Errc::invalid_argument);
    CHECK(svc.register_instance("token", json::object{{"x", 1}}).error().code == lt::Errc::invalid_argument);
    CHECK(svc.size() == 0);
}

TEST_CASE("the client helpers build a registration the registry accepts and read the table back") {
    lt::FakeClock clock;
    lt::registry::RegistryService svc(clock, 90s);
    lt::registry::Registration r;
    r.app = "token";
    r.instance_id = "127.0.0.1:8081:token";
    r.base_url = "http://127.0.0.1:8081";
    auto body = lt::registry::registration_body(r);
    CHECK(body.at("instance").at("port").at("$") == 8081);
    CHECK(body.at("instance").at("homePageUrl") == "http://127.0.0.1:8081/");
    REQUIRE(svc.register_instance(r.app, body));
    r.app = "auth";
    r.instance_id = "127.0.0.1:8082:auth";
    r.base_url = "http://127.0.0.1:8082";
    r.status = "DOWN";
    REQUIRE(svc.register_instance(r.app, lt::registry::registration_body(r)));
    auto list = lt::registry::instances_from_apps(svc.applications());
    REQUIRE(list);
    REQUIRE(list->size() == 2);
    CHECK((*list)[0].module == "auth");
    CHECK_FALSE((*list)[0].up);
    CHECK((*list)[1].module == "token");
    CHECK((*list)[1].url == "http://127.0.0.1:8081");
    CHECK((*list)[1].instance_id == "127.0.0.1:8081:token");
    CHECK((*list)[1].up);
    CHECK_FALSE(lt::registry::instances_from_apps(json::object{{"x", 1}}));
}
