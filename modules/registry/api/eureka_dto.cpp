// Wire JSON of the registry (Eureka's shape) for registry clients.
#include <boost/json.hpp>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/registry/registry.hpp"

namespace json = boost::json;

namespace lt::registry {

namespace {

struct UrlParts {
    std::string host;
    long long port = 80;
    bool secure = false;
};

UrlParts split_url(std::string_view url) {
    UrlParts p;
    if (url.rfind("https://", 0) == 0) {
        p.secure = true;
        p.port = 443;
        url.remove_prefix(8);
    } else if (url.rfind("http://", 0) == 0) {
        url.remove_prefix(7);
    }
    url = url.substr(0, url.find('/'));
    auto colon = url.rfind(':');
    if (colon != std::string_view::npos && url.find(']', colon) == std::string_view::npos) {
        try {
            p.port = std::stoll(std::string(url.substr(colon + 1)));
        } catch (...) {
        }
        url = url.substr(0, colon);
    }
    p.host = std::string(url);
    return p;
}

}  // namespace

json::value registration_body(const Registration& r) {
    const auto parts = split_url(r.base_url);
    std::string base = r.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string app = to_upper(r.app);
    json::object lease{{"renewalIntervalInSecs", r.lease_renewal_seconds}};
    if (r.lease_duration_seconds > 0) lease["durationInSecs"] = r.lease_duration_seconds;
    return json::object{{"instance", json::object{
        {"instanceId", r.instance_id},
        {"app", app},
        {"hostName", parts.host},
        {"ipAddr", parts.host},
        {"status", r.status},
        {"port", json::object{{"$", parts.secure ? 0 : parts.port}, {"@enabled", parts.secure ? "false" : "true"}}},
        {"securePort", json::object{{"$", parts.secure ? parts.port : 0}, {"@enabled", parts.secure ? "true" : "false"}}},
        {"homePageUrl", base + "/"},
        {"statusPageUrl", base + "/actuator/info"},
        {"healthCheckUrl", base + "/actuator/health"},
        {"vipAddress", to_lower(r.app)},
        {"secureVipAddress", to_lower(r.app)},
        {"dataCenterInfo", json::object{{"@class", "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"}, {"name", "MyOwn"}}},
        {"leaseInfo", std::move(lease)},
        {"metadata", json::object{{"module", to_lower(r.app)}}},
    }}};
}

Result<std::vector<cluster::Instance>> instances_from_apps(const json::value& apps) {
    const auto* root = apps.if_object();
    const json::value* inner = root ? root->if_contains("applications") : nullptr;
    if (!inner || !inner->is_object()) return fail(Errc::invalid_argument, "not a registry applications document");
    std::vector<cluster::Instance> out;
    const auto* list = inner->as_object().if_contains("application");
    if (!list || list->is_null()) return out;
    if (!list->is_array()) return fail(Errc::invalid_argument, "applications.application must be an array");
    for (const auto& a : list->as_array()) {
        if (!a.is_object()) return fail(Errc::invalid_argument, "application must be an object");
        auto name = get_string(a.as_object(), "name");
        const auto* instances = a.as_object().if_contains("instance");
        if (!name || !instances || !instances->is_array()) {
            return fail(Errc::invalid_argument, "application needs a name and an instance array");
        }
        for (const auto& i : instances->as_array()) {
            if (!i.is_object()) return fail(Errc::invalid_argument, "instance must be an object");
            const auto& o = i.as_object();
            cluster::Instance inst;
            inst.module = to_lower(*name);
            inst.instance_id = get_string(o, "instanceId").value_or("");
            inst.url = get_string(o, "homePageUrl").value_or("");
            while (!inst.url.empty() && inst.url.back() == '/') inst.url.pop_back();
            inst.up = get_string(o, "status").value_or("UP") == "UP";
            if (inst.instance_id.empty() || inst.url.empty()) {
                return fail(Errc::invalid_argument, "instance needs instanceId and homePageUrl");
            }
            out.push_back(std::move(inst));
        }
    }
    return out;
}

}  // namespace lt::registry
