#include "lt/cluster/forwarder.hpp"

#include "lt/core/crypto.hpp"

namespace asio = boost::asio;

namespace lt::cluster {

std::string owner_of_command(std::string_view name) {
    auto prefix = name.substr(0, name.find('.'));
    if (prefix == "auth") return "auth";
    if (prefix == "provider" || prefix == "providers") return "providers";
    if (prefix == "token") return "token";
    if (prefix == "registry") return "registry";
    if (prefix == "config") return "config";
    if (prefix == "analytics") return "analytics";
    return {};
}

Forwarder::Forwarder(const Directory& directory, http::Client& client, std::string secret, Logger log)
    : directory_(directory), client_(client), secret_(std::move(secret)), log_(std::move(log)) {}

bool Forwarder::available(const std::string& key, std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = breakers_.find(key);
    return it == breakers_.end() || it->second.failures < kBreakerFailures || it->second.open_until <= now;
}

void Forwarder::record(const std::string& key, bool success) {
    std::lock_guard lock(mutex_);
    auto& b = breakers_[key];
    if (success) {
        b.failures = 0;
        return;
    }
    if (++b.failures >= kBreakerFailures) {
        b.open_until = std::chrono::steady_clock::now() + kBreakerOpen;
        if (b.failures == kBreakerFailures && log_) log_->warn("circuit open instance={}", key);
    }
}

asio::awaitable<Result<http::ClientResponse>> Forwarder::send_to(Instance instance, Call call) {
    auto url = http::parse_url(instance.url);
    if (!url) co_return fail(Errc::unavailable, "bad instance url " + instance.url);
    auto now = std::chrono::steady_clock::now();
    auto timeout = call.deadline == std::chrono::steady_clock::time_point::max()
                       ? kDefaultCallTimeout
                       : std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - now);
    if (timeout.count() <= 0) co_return fail(Errc::timeout, "deadline passed before the call to " + instance.module);
    auto req = call.request;
    req.target = url->base_path + req.target;
    if (!call.request_id.empty()) req.headers.push_back({"X-Request-Id", call.request_id});
    for (auto& [name, value] : sign(secret_, req.method, req.target, call.principal, call.request_id,
                                    crypto::sha256_hex(req.body), std::chrono::system_clock::now())) {
        req.headers.push_back({std::move(name), std::move(value)});
    }
    auto op = client_.request(url->host, url->port, std::move(req), timeout);
    auto res = co_await std::move(op);
    record(instance.url, res.has_value() || (res.error().code != Errc::unavailable && res.error().code != Errc::timeout));
    co_return res;
}

asio::awaitable<Result<http::ClientResponse>> Forwarder::send(std::string module, Call call, bool retry) {
    auto instances = directory_.instances(module);
    if (instances.empty()) co_return fail(Errc::unavailable, "no instance of module " + module);
    const auto start = next_.fetch_add(1);
    const auto now = std::chrono::steady_clock::now();
    // Instances with a closed breaker first (round-robin), then the open ones as a last resort.
    std::vector<Instance> order;
    std::vector<Instance> tripped;
    for (std::size_t i = 0; i < instances.size(); ++i) {
        auto& in = instances[(start + i) % instances.size()];
        (available(in.url, now) ? order : tripped).push_back(in);
    }
    order.insert(order.end(), tripped.begin(), tripped.end());
    Error last{Errc::unavailable, "no instance of module " + module + " answered"};
    for (auto& in : order) {
        auto op = send_to(in, call);
        auto res = co_await std::move(op);
        if (res) co_return res;
        last = res.error();
        if (log_) log_->warn("call to instance failed module={} instance={} error={}", module, in.instance_id, last.message);
        if (!retry || last.code != Errc::unavailable) break;
        if (std::chrono::steady_clock::now() >= call.deadline) break;
    }
    if (last.code == Errc::timeout) co_return fail(Errc::timeout, "module " + module + " did not answer in time");
    co_return fail(Errc::unavailable, "module " + module + " unavailable");
}

}  // namespace lt::cluster
