#include "auth_config.hpp"

#include <fstream>
#include <sstream>

#include "lt/auth/auth.hpp"
#include "lt/core/time.hpp"
#include "password.hpp"

namespace lt::auth {

namespace {

config::KeySpec key(std::string pattern, config::Type type, std::string description,
                    std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                    bool secret = false) {
    config::KeySpec spec;
    spec.pattern = std::move(pattern);
    spec.type = type;
    spec.description = std::move(description);
    spec.min = min;
    spec.max = max;
    spec.secret = secret;
    return spec;
}

bool valid_scope(std::string_view scope) {
    if (scope.empty() || scope.size() > 100) return false;
    for (unsigned char c : scope) {
        // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E
        if (c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E) return false;
    }
    return true;
}

}  // namespace

void describe_config(config::Schema& schema) {
    using config::Type;
    schema.add(key("auth.jwt.issuer", Type::string, "Issuer (`iss`) of the JWTs the auth module signs."));
    schema.add(key("auth.jwt.expiry-seconds", Type::integer, "Lifetime of issued JWTs in seconds.", 1, 31536000));
    schema.add(key("auth.jwt.key-bits", Type::integer, "RSA modulus size of new signing keys.", 2048, 8192));
    schema.add(key("auth.bootstrap-admin.username", Type::string,
                   "Creates or updates this ADMIN user at start (needs the password)."));
    schema.add(key("auth.bootstrap-admin.password", Type::string, "Password of the bootstrap admin.", std::nullopt,
                   std::nullopt, true));
    schema.add(key("auth.bootstrap-admin.email", Type::string,
                   "Email of the bootstrap admin when it is created (default <username>@localhost)."));
    schema.add(key("auth.oauth2.clients.*.secret-hash", Type::string,
                   "bcrypt hash of an OAuth2 client's secret (client_credentials grant).", std::nullopt, std::nullopt,
                   true));
    schema.add(key("auth.oauth2.clients.*.scopes", Type::string_list, "Scopes an OAuth2 client may request."));
    schema.add(key("auth.jwt.key-encryption-key", Type::string,
                   "Passphrase encrypting the JWT signing private keys at rest (AES-256-GCM); `file:/path` reads it "
                   "from a file. Plaintext keys are encrypted at start; a wrong key stops the start.",
                   std::nullopt, std::nullopt, true));
    schema.add(key("auth.login.limit-enabled", Type::boolean, "Failed-login limiter per account and per client IP."));
    schema.add(key("auth.login.max-failures-per-account", Type::integer,
                   "Login attempts per account and window before 429 (a success clears the account).", 1, 1000000));
    schema.add(key("auth.login.max-failures-per-ip", Type::integer,
                   "Failed login attempts per client IP and window before 429.", 1, 1000000));
    schema.add(key("auth.login.window-seconds", Type::integer, "Window of the failed-login limiter in seconds.", 1,
                   86400));
    schema.add(key("auth.password-hash.threads", Type::integer,
                   "Threads of bcrypt's own pool (password hashing never runs on the storage pool).", 1, 64));
    schema.add(key("auth.password-hash.max-queued", Type::integer,
                   "bcrypt jobs waiting for a thread at most; beyond it logins answer 503.", 1, 100000));
    schema.add(key("auth.api-key.max-per-user", Type::integer, "API keys one user may hold at once.", 1, 100000));
}

std::size_t utf8_length(std::string_view text) {
    std::size_t n = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) ++n;
    }
    return n;
}

Result<AuthConfig> parse_config(const config::Config& cfg) {
    AuthConfig out;
    std::string errors;
    auto error = [&](const std::string& msg) { errors += msg + "\n"; };

    out.issuer = cfg.get_string("auth.jwt.issuer", out.issuer);
    if (trim(out.issuer).empty()) error("auth.jwt.issuer must not be empty");
    out.expiry_seconds = cfg.get_int("auth.jwt.expiry-seconds", out.expiry_seconds);
    out.key_bits = static_cast<int>(cfg.get_int("auth.jwt.key-bits", out.key_bits));
    out.max_keys_per_user = cfg.get_int("auth.api-key.max-per-user", out.max_keys_per_user);
    out.key_encryption_key = cfg.get_string("auth.jwt.key-encryption-key");
    if (std::string_view(out.key_encryption_key).substr(0, 5) == "file:") {
        const std::string path = out.key_encryption_key.substr(5);
        std::ifstream in(path, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        out.key_encryption_key = trim(text.str());
        if (!in) error("auth.jwt.key-encryption-key: cannot read " + path);
    }
    if (cfg.has("auth.jwt.key-encryption-key") && out.key_encryption_key.size() < 16) {
        error("auth.jwt.key-encryption-key must be at least 16 characters");
    }
    out.login.enabled = cfg.get_bool("auth.login.limit-enabled", out.login.enabled);
    out.login.max_failures_per_account =
        cfg.get_int("auth.login.max-failures-per-account", out.login.max_failures_per_account);
    out.login.max_failures_per_ip = cfg.get_int("auth.login.max-failures-per-ip", out.login.max_failures_per_ip);
    out.login.window = std::chrono::seconds(cfg.get_int("auth.login.window-seconds", out.login.window.count()));
    out.password_hash_threads = cfg.get_int("auth.password-hash.threads", out.password_hash_threads);
    out.password_hash_queue = cfg.get_int("auth.password-hash.max-queued", out.password_hash_queue);

    const bool has_user = cfg.has("auth.bootstrap-admin.username");
    const bool has_password = cfg.has("auth.bootstrap-admin.password");
    if (has_user || has_password) {
        BootstrapAdmin admin;
        admin.username = trim(cfg.get_string("auth.bootstrap-admin.username"));
        admin.password = cfg.get_string("auth.bootstrap-admin.password");
        admin.email = trim(cfg.get_string("auth.bootstrap-admin.email"));
        if (admin.email.empty()) admin.email = admin.username + "@localhost";
        if (admin.username.empty()) error("auth.bootstrap-admin.username is required with a bootstrap password");
        if (utf8_length(admin.username) > kMaxUsernameChars) error("auth.bootstrap-admin.username is too long");
        if (trim(admin.password).empty()) error("auth.bootstrap-admin.password is required with a bootstrap username");
        if (admin.password.size() > kMaxPasswordBytes) error("auth.bootstrap-admin.password is longer than 72 bytes");
        if (utf8_length(admin.email) > kMaxEmailChars) error("auth.bootstrap-admin.email is too long");
        out.bootstrap_admin = std::move(admin);
    }

    for (const auto& id : cfg.children("auth.oauth2.clients")) {
        const std::string p = "auth.oauth2.clients." + id + ".";
        OAuthClient client;
        client.secret_hash = cfg.get_string(p + "secret-hash");
        client.scopes = cfg.get_list(p + "scopes");
        if (!looks_like_bcrypt(client.secret_hash)) error(p + "secret-hash must be a bcrypt hash ($2b$...)");
        // A client token's subject is the client id: one shaped like a user id could pass that user's
        // ownership checks.
        if (is_uuid(id)) error("auth.oauth2.clients." + id + " must not be named like a user id (UUID)");
        for (const auto& s : client.scopes) {
            if (!valid_scope(s)) error(p + "scopes has an invalid scope '" + s + "'");
        }
        out.clients.emplace(id, std::move(client));
    }

    if (!errors.empty()) {
        errors.pop_back();
        return fail(Errc::invalid_argument, errors);
    }
    return out;
}

}  // namespace lt::auth
