// HTTP handlers for /oauth2/**: JWKS, the client_credentials token endpoint, token revocation.
#include <map>

#include <boost/json.hpp>

#include "auth_http.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/crypto.hpp"
#include "lt/core/json.hpp"
#include "lt/core/time.hpp"
#include "lt/http/authz.hpp"
#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::auth {

namespace {

constexpr std::size_t kMaxFormParams = 32;

/// A parsed application/x-www-form-urlencoded body; `error` set when malformed.
struct Form {
    std::map<std::string, std::string, std::less<>> values;
    std::string error;
};

Form parse_form(std::string_view body) {
    Form form;
    std::size_t count = 0;
    while (!body.empty()) {
        auto amp = body.find('&');
        std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty()) continue;
        if (++count > kMaxFormParams) {
            form.error = "too many parameters";
            return form;
        }
        auto eq = pair.find('=');
        std::string key = http::decode_component(pair.substr(0, eq), true);
        std::string value =
            eq == std::string_view::npos ? std::string() : http::decode_component(pair.substr(eq + 1), true);
        // RFC 6749 §3.2: request parameters must not be repeated.
        if (!form.values.emplace(std::move(key), std::move(value)).second && form.error.empty()) {
            form.error = "repeated parameter";
        }
    }
    return form;
}

std::optional<std::string> form_value(const Form& f, std::string_view key) {
    auto it = f.values.find(key);
    if (it == f.values.end()) return std::nullopt;
    return it->second;
}

/// Standard base64 (with or without padding) through the base64url decoder.
std::optional<std::string> base64_decode(std::string_view text) {
    std::string url(text);
    while (!url.empty() && url.back() == '=') url.pop_back();
    for (auto& c : url) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
        else if (c == '-' || c == '_') return std::nullopt;
    }
    return crypto::base64url_decode(url);
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && to_lower(text.substr(0, prefix.size())) == prefix;
}

http::Response oauth_response(int status, const boost::json::value& body) {
    auto res = http::Response::json(status, body);
    res.set_header("Cache-Control", "no-store");
    res.set_header("Pragma", "no-cache");
    return res;
}

http::Response oauth_error(const OAuthError& e) {
    auto res = oauth_response(e.status, boost::json::object{{"error", e.error}, {"error_description", e.description}});
    if (e.status == 401) res.set_header("WWW-Authenticate", "Basic realm=\"leaky-tokens\"");
    return res;
}

}  // namespace

asio::awaitable<http::Response> AuthHttp::jwks(http::Request req) {
    co_return http::Response::json(200, d_.keys->jwks(d_.clock->now()));
}

asio::awaitable<http::Response> AuthHttp::token(http::Request req) {
    Form form = parse_form(req.body);
    TokenRequest tr;
    tr.malformed = form.error;
    tr.grant_type = form_value(form, "grant_type");
    tr.scope = form_value(form, "scope");
    const std::string_view authorization = req.header("Authorization");
    if (starts_with_ci(authorization, "basic ")) {
        // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
        auto decoded = base64_decode(trim(authorization.substr(6)));
        auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon != std::string::npos) {
            tr.client_id = http::decode_component(std::string_view(*decoded).substr(0, colon), true);
            tr.client_secret = http::decode_component(std::string_view(*decoded).substr(colon + 1), true);
        }
        if (form.values.contains("client_secret") && tr.malformed.empty()) {
            tr.malformed = "use one client authentication method";
        }
    } else {
        tr.client_id = form_value(form, "client_id");
        tr.client_secret = form_value(form, "client_secret");
    }
    const std::string client = tr.client_id.value_or("");
    auto op = d_.oauth2->client_credentials(std::move(tr));
    auto r = co_await std::move(op);
    if (!r) co_return oauth_error(r.error());
    d_.log->info("client token issued request_id={} client_id={}", req.ctx.request_id, client);
    co_return oauth_response(200, boost::json::object{{"access_token", r->access_token},
                                                      {"token_type", "Bearer"},
                                                      {"expires_in", r->expires_in},
                                                      {"scope", r->scope}});
}

asio::awaitable<http::Response> AuthHttp::revoke(http::Request req) {
    if (auto denied = http::require_principal(req)) co_return std::move(*denied);
    std::optional<std::string> token;
    if (to_lower(req.header("Content-Type")).find("application/json") != std::string::npos) {
        auto body = parse_json_object(req.body);
        if (!body) co_return oauth_error(OAuthError{400, "invalid_request", body.error().message});
        token = get_string(*body, "token");
    } else {
        Form form = parse_form(req.body);
        if (!form.error.empty()) co_return oauth_error(OAuthError{400, "invalid_request", form.error});
        token = form_value(form, "token");
    }
    if (!token || trim(*token).empty()) co_return oauth_error(OAuthError{400, "invalid_request", "token is required"});
    bus::Principal who = *req.ctx.principal;
    auto op = d_.oauth2->revoke(trim(*token), std::move(who));
    auto r = co_await std::move(op);
    if (!r) co_return failure(r.error(), req);
    if (*r) {
        d_.log->info("token revoked request_id={} jti={}", req.ctx.request_id, (*r)->jti);
        auto event_op = announce(kTokenRevoked, TokenRevoked{(*r)->jti, (*r)->exp}, req.ctx);
        co_await std::move(event_op);
    }
    co_return oauth_response(200, boost::json::object{});
}

}  // namespace lt::auth
