#include <algorithm>
#include <stdexcept>

#include <boost/json.hpp>

#include "lt/bus/bus.hpp"
#include "lt/bus/codec.hpp"
#include "lt/bus/kernel_events.hpp"

namespace lt::bus {

void tag_invoke(json::value_from_tag, json::value& v, const Empty&) { v = json::object{}; }

Empty tag_invoke(json::value_to_tag<Empty>, const json::value& v) {
    if (!v.is_object() && !v.is_null()) throw std::invalid_argument("body is not an object");
    return Empty{};
}

void tag_invoke(json::value_from_tag, json::value& v, const ConfigChanged& m) {
    json::array keys;
    for (const auto& k : m.keys) keys.emplace_back(k);
    v = json::object{{"keys", std::move(keys)}, {"origin", m.origin}};
}

ConfigChanged tag_invoke(json::value_to_tag<ConfigChanged>, const json::value& v) {
    const auto& o = codec::object_of(v, "config changed event");
    return ConfigChanged{codec::with_default<std::vector<std::string>>(o, "keys", {}),
                         codec::with_default<std::string>(o, "origin", "")};
}

Result<Payload> Payload::round_trip(std::string_view what) const {
    const std::string text = json::serialize(json());  // what the remote transport sends
    boost::system::error_code ec;
    auto wire = json::parse(text, ec);
    if (ec) return fail(Errc::internal, "codec check: " + std::string(what) + " does not parse back: " + ec.message());
    if (!typed_) return Payload(std::move(wire));
    auto decoded = typed_->decode_same(wire);
    if (!decoded) return fail(Errc::internal, "codec check: " + std::string(what) + " " + decoded.error().message);
    Payload p;
    p.typed_ = std::move(*decoded);
    p.json_ = std::move(wire);
    return p;
}

bool Principal::has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

long long Context::remaining_ms() const {
    if (deadline == std::chrono::steady_clock::time_point::max()) return 1LL << 40;
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
}

Context Context::with_timeout(std::chrono::milliseconds timeout) const {
    Context c = *this;
    auto d = std::chrono::steady_clock::now() + timeout;
    if (d < c.deadline) c.deadline = d;
    return c;
}

json::value to_json(const Principal& p) {
    json::array roles;
    for (const auto& r : p.roles) roles.emplace_back(r);
    return json::object{{"userId", p.user_id}, {"roles", std::move(roles)}, {"method", p.method}};
}

Result<Principal> principal_from_json(const json::value& v) {
    if (!v.is_object()) return fail(Errc::invalid_argument, "principal must be an object");
    const auto& o = v.as_object();
    Principal p;
    if (auto* u = o.if_contains("userId"); u && u->is_string()) p.user_id = std::string(u->as_string());
    if (auto* m = o.if_contains("method"); m && m->is_string()) p.method = std::string(m->as_string());
    if (auto* r = o.if_contains("roles"); r && r->is_array()) {
        for (const auto& e : r->as_array()) {
            if (e.is_string()) p.roles.emplace_back(e.as_string());
        }
    }
    return p;
}

json::value to_json(const Context& c) {
    json::object o{{"requestId", c.request_id}, {"correlationId", c.correlation_id}};
    if (c.deadline != std::chrono::steady_clock::time_point::max()) o["timeoutMs"] = c.remaining_ms();
    if (c.principal) o["principal"] = to_json(*c.principal);
    if (!c.traceparent.empty()) o["traceparent"] = c.traceparent;
    return o;
}

Context context_from_json(const json::value& v) {
    Context c;
    if (!v.is_object()) return c;
    const auto& o = v.as_object();
    if (auto* r = o.if_contains("requestId"); r && r->is_string()) c.request_id = std::string(r->as_string());
    if (auto* r = o.if_contains("correlationId"); r && r->is_string()) c.correlation_id = std::string(r->as_string());
    if (auto* t = o.if_contains("timeoutMs"); t && t->is_int64()) {
        c.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(t->as_int64());
    }
    if (auto* p = o.if_contains("principal")) {
        if (auto pr = principal_from_json(*p)) c.principal = std::move(*pr);
    }
    if (auto* t = o.if_contains("traceparent"); t && t->is_string()) c.traceparent = std::string(t->as_string());
    return c;
}

}  // namespace lt::bus
