#include "registry_service.hpp"

#include <array>

#include "lt/core/json.hpp"
#include "lt/core/time.hpp"

namespace json = boost::json;

namespace lt::registry {

namespace {

constexpr std::array<std::string_view, 5> kStatuses{"UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"};

bool valid_status(std::string_view s) {
    for (auto k : kStatuses) {
        if (k == s) return true;
    }
    return false;
}

long long millis(std::chrono::system_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

// The registry owns these fields of an instance; a client's copies are replaced on output.
constexpr std::array<std::string_view, 7> kOwnedFields{"app",           "status",       "leaseInfo",
                                                       "actionType",    "lastUpdatedTimestamp",
                                                       "lastDirtyTimestamp", "overriddenStatus"};

}  // namespace

RegistryService::RegistryService(const Clock& clock, std::chrono::milliseconds lease_duration)
    : clock_(clock), lease_duration_(lease_duration) {}

Result<void> RegistryService::validate(const json::value& body) {
    const auto* outer = body.if_object();
    const json::value* inner = outer ? outer->if_contains("instance") : nullptr;
    if (!inner || !inner->is_object()) return fail(Errc::invalid_argument, "body must be {\"instance\": {...}}");
    const auto& instance = inner->as_object();
    auto id = get_string(instance, "instanceId");
    if (!id || id->empty()) return fail(Errc::invalid_argument, "instance.instanceId is required");
    auto home = get_string(instance, "homePageUrl");
    if (!home || home->empty()) return fail(Errc::invalid_argument, "instance.homePageUrl is required");
    if (const auto* s = instance.if_contains("status"); s && !s->is_null()) {
        if (!s->is_string() || !valid_status(s->as_string())) {
            return fail(Errc::invalid_argument, "instance.status must be UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN");
        }
    }
    return ok();
}

Result<void> RegistryService::register_instance(std::string_view app, const json::value& body) {
    if (auto v = validate(body); !v) return v;
    json::object instance = body.as_object().at("instance").as_object();
    const std::string id = *get_string(instance, "instanceId");
    std::string status = "UP";
    if (const auto* s = instance.if_contains("status"); s && s->is_string()) status = std::string(s->as_string());
    if (trim(app).empty()) return fail(Errc::invalid_argument, "app name is required");

    Entry e;
    e.status = status;
    e.duration = lease_duration_;
    if (const auto* lease = instance.if_contains("leaseInfo"); lease && lease->is_object()) {
        if (auto d = get_int(lease->as_object(), "durationInSecs"); d && *d > 0) e.duration = std::chrono::seconds(*d);
        if (auto r = get_int(lease->as_object(), "renewalIntervalInSecs"); r && *r > 0) e.renewal_interval_s = *r;
    }
    for (auto f : kOwnedFields) instance.erase(f);
    e.instance = std::move(instance);
    const auto now = clock_.now();
    e.registered = e.last_renewal = e.service_up = e.last_updated = now;
    e.renewed_at = clock_.steady_now();

    std::lock_guard lock(mutex_);
    auto& instances = apps_[to_upper(app)];
    auto it = instances.find(id);
    e.action_type = it == instances.end() ? "ADDED" : "MODIFIED";
    if (it != instances.end() && it->second.status == "UP" && status == "UP") e.service_up = it->second.service_up;
    instances.insert_or_assign(id, std::move(e));
    return ok();
}

Result<void> RegistryService::renew(std::string_view app, std::string_view instance_id,
                                    std::optional<std::string> status) {
    if (status && !valid_status(*status)) {
        return fail(Errc::invalid_argument, "status must be UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN");
    }
    std::lock_guard lock(mutex_);
    auto a = apps_.find(to_upper(app));
    if (a == apps_.end()) return fail(Errc::not_found, "instance not registered");
    auto it = a->second.find(std::string(instance_id));
    if (it == a->second.end()) return fail(Errc::not_found, "instance not registered");
    auto& e = it->second;
    const auto now = clock_.now();
    e.last_renewal = now;
    e.renewed_at = clock_.steady_now();
    if (status && *status != e.status) {
        if (*status == "UP") e.service_up = now;
        e.status = *status;
        e.action_type = "MODIFIED";
        e.last_updated = now;
    }
    return ok();
}

Result<void> RegistryService::cancel(std::string_view app, std::string_view instance_id) {
    std::lock_guard lock(mutex_);
    auto a = apps_.find(to_upper(app));
    if (a == apps_.end() || a->second.erase(std::string(instance_id)) == 0) {
        return fail(Errc::not_found, "instance not registered");
    }
    if (a->second.empty()) apps_.erase(a);
    return ok();
}

std::vector<std::string> RegistryService::evict() {
    const auto now = clock_.steady_now();
    std::vector<std::string> evicted;
    std::lock_guard lock(mutex_);
    for (auto a = apps_.begin(); a != apps_.end();) {
        for (auto it = a->second.begin(); it != a->second.end();) {
            if (now - it->second.renewed_at > it->second.duration) {
                evicted.push_back(a->first + "/" + it->first);
                it = a->second.erase(it);
            } else {
                ++it;
            }
        }
        a = a->second.empty() ? apps_.erase(a) : std::next(a);
    }
    return evicted;
}

std::size_t RegistryService::size() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [name, instances] : apps_) n += instances.size();
    return n;
}

json::object RegistryService::instance_json(const std::string& app, const Entry& e) const {
    json::object o = e.instance;
    o["app"] = app;
    o["status"] = e.status;
    o["overriddenStatus"] = "UNKNOWN";
    o["leaseInfo"] = json::object{
        {"renewalIntervalInSecs", e.renewal_interval_s},
        {"durationInSecs", std::chrono::duration_cast<std::chrono::seconds>(e.duration).count()},
        {"registrationTimestamp", millis(e.registered)},
        {"lastRenewalTimestamp", millis(e.last_renewal)},
        {"evictionTimestamp", 0},
        {"serviceUpTimestamp", millis(e.service_up)},
    };
    // Eureka writes these two as strings.
    o["lastUpdatedTimestamp"] = std::to_string(millis(e.last_updated));
    o["lastDirtyTimestamp"] = std::to_string(millis(e.last_updated));
    o["actionType"] = e.action_type;
    return o;
}

json::object RegistryService::application_json(const std::string& app, const App& instances) const {
    json::array list;
    for (const auto& [id, e] : instances) list.push_back(instance_json(app, e));
    return json::object{{"name", app}, {"instance", std::move(list)}};
}

json::value RegistryService::applications() const {
    std::lock_guard lock(mutex_);
    json::array apps;
    std::map<std::string, int> by_status;
    for (const auto& [name, instances] : apps_) {
        apps.push_back(application_json(name, instances));
        for (const auto& [id, e] : instances) ++by_status[e.status];
    }
    // Eureka's hash: STATUS_count_ per status, statuses in alphabetical order.
    std::string hash;
    for (const auto& [status, n] : by_status) hash += status + "_" + std::to_string(n) + "_";
    return json::object{{"applications", json::object{{"versions__delta", "1"},
                                                       {"apps__hashcode", hash},
                                                       {"application", std::move(apps)}}}};
}

Result<json::value> RegistryService::application(std::string_view app) const {
    std::lock_guard lock(mutex_);
    auto a = apps_.find(to_upper(app));
    if (a == apps_.end()) return fail(Errc::not_found, "application not found");
    return json::value(json::object{{"application", application_json(a->first, a->second)}});
}

}  // namespace lt::registry
