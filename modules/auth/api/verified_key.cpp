// Wire form of VerifiedKey (the A6 body and the auth.verify_key.v1 reply).
#include <boost/json.hpp>

#include "lt/auth/auth.hpp"

namespace lt::auth {

boost::json::value to_json(const VerifiedKey& k) {
    boost::json::array roles;
    for (const auto& r : k.roles) roles.emplace_back(r);
    auto opt = [](const std::optional<std::string>& v) {
        return v ? boost::json::value(*v) : boost::json::value(nullptr);
    };
    return boost::json::object{
        {"userId", k.user_id}, {"name", opt(k.name)}, {"expiresAt", opt(k.expires_at)}, {"roles", std::move(roles)}};
}

Result<VerifiedKey> verified_key_from_json(const boost::json::value& v) {
    const auto* o = v.if_object();
    if (o == nullptr) return fail(Errc::invalid_argument, "verified key must be an object");
    VerifiedKey k;
    const auto* user = o->if_contains("userId");
    if (user == nullptr || !user->is_string()) return fail(Errc::invalid_argument, "verified key needs userId");
    k.user_id = std::string(user->as_string());
    if (const auto* roles = o->if_contains("roles")) {
        if (!roles->is_array()) return fail(Errc::invalid_argument, "roles must be an array");
        for (const auto& r : roles->as_array()) {
            if (!r.is_string()) return fail(Errc::invalid_argument, "roles must hold strings");
            k.roles.emplace_back(r.as_string());
        }
    }
    if (const auto* name = o->if_contains("name"); name != nullptr && name->is_string()) {
        k.name = std::string(name->as_string());
    }
    if (const auto* exp = o->if_contains("expiresAt"); exp != nullptr && exp->is_string()) {
        k.expires_at = std::string(exp->as_string());
    }
    return k;
}

}  // namespace lt::auth
