// Codecs of the auth module's bus messages (the one place their wire form is written).
#include <boost/json.hpp>

#include "lt/auth/auth.hpp"
#include "lt/bus/codec.hpp"

namespace json = boost::json;
namespace codec = lt::bus::codec;

namespace lt::auth {

namespace {
json::array strings(const std::vector<std::string>& list) {
    json::array a;
    for (const auto& s : list) a.emplace_back(s);
    return a;
}
}  // namespace

void tag_invoke(json::value_from_tag, json::value& v, const VerifyKeyRequest& m) { v = json::object{{"apiKey", m.api_key}}; }

VerifyKeyRequest tag_invoke(json::value_to_tag<VerifyKeyRequest>, const json::value& v) {
    const auto& o = codec::object_of(v, "verify key request");
    return VerifyKeyRequest{codec::with_default<std::string>(o, "apiKey", "")};
}

void tag_invoke(json::value_from_tag, json::value& v, const VerifiedKey& k) {
    v = json::object{{"userId", k.user_id},
                     {"name", codec::or_null(k.name)},
                     {"expiresAt", codec::or_null(k.expires_at)},
                     {"roles", strings(k.roles)}};
}

VerifiedKey tag_invoke(json::value_to_tag<VerifiedKey>, const json::value& v) {
    const auto& o = codec::object_of(v, "verified key");
    VerifiedKey k;
    k.user_id = codec::required<std::string>(o, "userId");
    k.roles = codec::with_default<std::vector<std::string>>(o, "roles", {});
    k.name = codec::optional<std::string>(o, "name");
    k.expires_at = codec::optional<std::string>(o, "expiresAt");
    return k;
}

void tag_invoke(json::value_from_tag, json::value& v, const TokenRevoked& m) {
    v = json::object{{"jti", m.jti}, {"exp", m.exp}};
}

TokenRevoked tag_invoke(json::value_to_tag<TokenRevoked>, const json::value& v) {
    const auto& o = codec::object_of(v, "revoked token");
    return TokenRevoked{codec::required<std::string>(o, "jti"), codec::with_default<std::int64_t>(o, "exp", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const RolesVersion& m) {
    v = json::object{{"userId", m.user_id}, {"rolesVersion", m.roles_version}};
}

RolesVersion tag_invoke(json::value_to_tag<RolesVersion>, const json::value& v) {
    const auto& o = codec::object_of(v, "roles version");
    return RolesVersion{codec::required<std::string>(o, "userId"), codec::with_default<std::int64_t>(o, "rolesVersion", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const JwksReply& m) {
    json::array revoked;
    for (const auto& t : m.revoked) revoked.push_back(json::value_from(t));
    json::array versions;
    for (const auto& r : m.roles_versions) versions.push_back(json::value_from(r));
    v = json::object{{"keys", m.keys}, {"revoked", std::move(revoked)}, {"rolesVersions", std::move(versions)}};
}

JwksReply tag_invoke(json::value_to_tag<JwksReply>, const json::value& v) {
    const auto& o = codec::object_of(v, "jwks reply");
    JwksReply r;
    r.keys = codec::with_default<json::array>(o, "keys", {});
    r.revoked = codec::with_default<std::vector<TokenRevoked>>(o, "revoked", {});
    r.roles_versions = codec::with_default<std::vector<RolesVersion>>(o, "rolesVersions", {});
    return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const GetUserRequest& m) { v = json::object{{"userId", m.user_id}}; }

GetUserRequest tag_invoke(json::value_to_tag<GetUserRequest>, const json::value& v) {
    const auto& o = codec::object_of(v, "get user request");
    return GetUserRequest{codec::with_default<std::string>(o, "userId", "")};
}

void tag_invoke(json::value_from_tag, json::value& v, const UserInfo& m) {
    v = json::object{{"userId", m.user_id},
                     {"username", m.username},
                     {"roles", strings(m.roles)},
                     {"rolesVersion", m.roles_version}};
}

UserInfo tag_invoke(json::value_to_tag<UserInfo>, const json::value& v) {
    const auto& o = codec::object_of(v, "user");
    return UserInfo{codec::required<std::string>(o, "userId"), codec::with_default<std::string>(o, "username", ""),
                    codec::with_default<std::vector<std::string>>(o, "roles", {}),
                    codec::with_default<std::int64_t>(o, "rolesVersion", 0)};
}

void tag_invoke(json::value_from_tag, json::value& v, const ApiKeyRevoked& m) {
    v = json::object{{"keyHash", m.key_hash}, {"userId", m.user_id}};
}

ApiKeyRevoked tag_invoke(json::value_to_tag<ApiKeyRevoked>, const json::value& v) {
    const auto& o = codec::object_of(v, "api key revoked event");
    return ApiKeyRevoked{codec::required<std::string>(o, "keyHash"), codec::with_default<std::string>(o, "userId", "")};
}

void tag_invoke(json::value_from_tag, json::value& v, const UserRolesChanged& m) {
    v = json::object{{"userId", m.user_id}, {"rolesVersion", m.roles_version}};
}

UserRolesChanged tag_invoke(json::value_to_tag<UserRolesChanged>, const json::value& v) {
    const auto& o = codec::object_of(v, "user roles changed event");
    return UserRolesChanged{codec::required<std::string>(o, "userId"), codec::with_default<std::int64_t>(o, "rolesVersion", 0)};
}

}  // namespace lt::auth
