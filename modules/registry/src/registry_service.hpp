#pragma once
/// RegistryService: the instance table of the registry (Eureka's model): register, renew, cancel,
/// list, and evict the leases not renewed within their duration. Pure logic over a Clock; no HTTP.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "lt/core/clock.hpp"
#include "lt/core/result.hpp"

namespace lt::registry {

/// The instance table. Thread-safe: every member takes `mutex_`; any thread may call.
class RegistryService {
public:
    /// `lease_duration`: how long an instance stays without renewal when it did not ask for its own
    /// (leaseInfo.durationInSecs). `clock` must outlive the service.
    RegistryService(const Clock& clock, std::chrono::milliseconds lease_duration);

    /// Registers or replaces the instance in `body` ({"instance": {...}}) under `app` (any case).
    /// Errc::invalid_argument when the body is not that shape, instanceId or homePageUrl is missing,
    /// or status is not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN.
    Result<void> register_instance(std::string_view app, const boost::json::value& body);

    /// The checks of register_instance() alone (the module runs them before authorization, CONTRACT 2).
    static Result<void> validate(const boost::json::value& body);

    /// Renews the lease; a `status` (validated as above) replaces the instance's status.
    /// Errc::not_found when the instance is unknown (the client then registers again).
    Result<void> renew(std::string_view app, std::string_view instance_id, std::optional<std::string> status = {});

    /// Removes the instance. Errc::not_found when unknown.
    Result<void> cancel(std::string_view app, std::string_view instance_id);

    /// GET /eureka/apps: {"applications": {"versions__delta", "apps__hashcode", "application": [...]}}.
    boost::json::value applications() const;

    /// GET /eureka/apps/{app}: {"application": {"name", "instance": [...]}}; Errc::not_found when
    /// the app has no instance.
    Result<boost::json::value> application(std::string_view app) const;

    /// Removes every instance whose lease expired (no renewal for its duration). Returns
    /// "APP/instanceId" of each removed instance.
    std::vector<std::string> evict();

    /// Number of registered instances.
    std::size_t size() const;

private:
    struct Entry {
        boost::json::object instance;  ///< as registered, without the fields the registry owns
        std::string status;
        std::string action_type;
        std::chrono::system_clock::time_point registered;
        std::chrono::system_clock::time_point last_renewal;
        std::chrono::system_clock::time_point service_up;
        std::chrono::system_clock::time_point last_updated;
        std::chrono::steady_clock::time_point renewed_at;  ///< for expiry (monotonic)
        std::chrono::milliseconds duration{};
        long long renewal_interval_s = 30;
    };
    using App = std::map<std::string, Entry>;  ///< by instanceId

    boost::json::object instance_json(const std::string& app, const Entry& e) const;
    boost::json::object application_json(const std::string& app, const App& instances) const;

    const Clock& clock_;
    std::chrono::milliseconds lease_duration_;
    mutable std::mutex mutex_;          ///< guards apps_
    std::map<std::string, App> apps_;   ///< by upper-case app name
};

}  // namespace lt::registry
