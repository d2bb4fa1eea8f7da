#pragma once
/// RegistryClient: the Directory of split mode, backed by a registry with Eureka's REST shape
/// (CONTRACT 33). Registers each hosted module (app = module name upper-case, instanceId
/// `<advertise host:port>:<module>`, homePageUrl = the advertise URL), renews every heartbeat interval
/// (registers again when the registry answers 404), fetches `GET /eureka/apps` every fetch interval
/// and keeps the last table while the registry is unreachable, and deregisters (DELETE) on stop. Every
/// request is signed with cluster::sign. Thread-safe; the loops run on the given executor.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "lt/core/cluster.hpp"
#include "lt/core/log.hpp"
#include "lt/core/result.hpp"
#include "lt/http/client.hpp"

namespace lt::cluster {

struct RegistryOptions {
    std::string registry_url;                     ///< base URL of the registry (…/eureka/apps lives under it)
    std::string advertise_url;                    ///< this process, e.g. http://127.0.0.1:8081
    std::vector<std::string> modules;             ///< hosted module names (lower-case)
    std::string secret;                           ///< cluster.secret
    std::chrono::milliseconds heartbeat{30000};   ///< registry.heartbeat-interval
    std::chrono::milliseconds fetch{5000};        ///< registry.fetch-interval
    std::chrono::milliseconds timeout{2000};      ///< deadline of one registry request
};

/// Parses `GET /eureka/apps` (JSON; `application` and `instance` may be an object or an array).
/// Only UP instances are returned; module = app name lower-case, url = homePageUrl without a
/// trailing slash (or http://hostName:port).
Result<std::vector<Instance>> parse_eureka_apps(const boost::json::value& v);

class RegistryClient final : public Directory {
public:
    RegistryClient(boost::asio::any_io_executor ex, http::Client& client, RegistryOptions options, Logger log);
    ~RegistryClient() override;

    std::vector<Instance> instances(std::string_view module) const override;
    std::vector<Instance> all() const override;

    /// Fetches the table once (start-up; failure keeps the empty table and is logged).
    boost::asio::awaitable<void> fetch_once();
    /// Registers every hosted module once, then starts the heartbeat and fetch loops. Call after the
    /// listener is up; `advertise_url` may be set now (the bound port is known). Any I/O thread.
    void start(std::string advertise_url);
    /// Stops the loops and deregisters every hosted module (each DELETE within the timeout).
    boost::asio::awaitable<void> stop();

    /// This process's advertise URL.
    std::string advertise_url() const;

    struct State;

private:
    std::shared_ptr<State> state_;
};

}  // namespace lt::cluster
