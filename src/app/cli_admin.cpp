#include "cli_admin.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "cli_common.hpp"
#include "lt/core/json.hpp"
#include "lt/http/client.hpp"

namespace lt::app {

namespace {

constexpr auto kTimeout = std::chrono::seconds(10);

/// Flags of one admin invocation: positional words after the noun, and --name value pairs.
struct Invocation {
    std::vector<std::string> words;
    std::map<std::string, std::string> flags;
    bool json = false;

    std::string flag(const std::string& name) const {
        auto it = flags.find(name);
        return it == flags.end() ? std::string() : it->second;
    }
};

struct Reply {
    int exit = kExitOk;
    int status = 0;
    std::string body;
};

boost::asio::awaitable<Result<http::ClientResponse>> send(http::Client& client, http::Url url, http::ClientRequest req) {
    auto op = client.request(url.host, url.port, std::move(req), kTimeout);
    co_return co_await std::move(op);
}

std::string url_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

/// One call to the server at --url with the token from --token or LEAKY_TOKEN. Prints the error
/// message of a refusal to stderr.
Reply call(const Invocation& inv, const std::string& method, const std::string& target, const std::string& body = {}) {
    std::string base = inv.flag("url");
    if (base.empty()) {
        const char* env = std::getenv("LEAKY_URL");
        base = env ? env : "http://127.0.0.1:8080";
    }
    auto url = http::parse_url(base);
    if (!url) {
        std::cerr << "error: --url " << base << ": " << url.error().message << "\n";
        return {kExitUnreachable, 0, {}};
    }
    std::string token = inv.flag("token");
    if (token.empty()) {
        if (const char* env = std::getenv("LEAKY_TOKEN")) token = env;
    }
    http::ClientRequest req;
    req.method = method;
    req.target = url->base_path + target;
    if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
    if (!body.empty()) {
        req.headers.push_back({"Content-Type", "application/json"});
        req.body = body;
    }
    boost::asio::io_context io;
    http::Client client(io.get_executor());
    auto fut = boost::asio::co_spawn(io, send(client, *url, std::move(req)), boost::asio::use_future);
    io.run();
    auto res = fut.get();
    if (!res) {
        std::cerr << "error: " << method << " " << base << target << ": " << res.error().message
                  << " (is `leaky-tokens serve` running there? set --url or LEAKY_URL)\n";
        return {kExitUnreachable, 0, {}};
    }
    Reply r{kExitOk, res->status, res->body};
    if (res->status < 400) return r;
    std::string message = res->body;
    if (auto v = parse_json(res->body); v && v->is_object()) {
        if (auto m = get_string(v->as_object(), "message")) message = *m;
    }
    std::cerr << "error: " << res->status << " " << message;
    if (res->status == 401 && token.empty()) std::cerr << " (give a token with --token or LEAKY_TOKEN)";
    std::cerr << "\n";
    r.exit = res->status == 401 || res->status == 403 ? kExitAuth : res->status == 404 ? kExitNotFound : kExitRefused;
    return r;
}

/// Prints a JSON value for a person: an object as `key: value` lines, an array one item per
/// paragraph, scalars as text.
void print_human(const json::value& v, const std::string& indent = "") {
    if (v.is_object()) {
        for (const auto& [k, e] : v.as_object()) {
            if (e.is_structured()) {
                std::cout << indent << std::string(k) << ":\n";
                print_human(e, indent + "  ");
            } else {
                std::cout << indent << std::string(k) << ": "
                          << (e.is_string() ? std::string(e.as_string()) : to_json_text(e)) << "\n";
            }
        }
    } else if (v.is_array()) {
        bool first = true;
        for (const auto& e : v.as_array()) {
            if (!first && e.is_object()) std::cout << "\n";
            first = false;
            if (e.is_object()) print_human(e, indent);
            else std::cout << indent << (e.is_string() ? std::string(e.as_string()) : to_json_text(e)) << "\n";
        }
    } else {
        std::cout << indent << (v.is_string() ? std::string(v.as_string()) : to_json_text(v)) << "\n";
    }
}

/// Prints a successful reply (`ok_text` for an empty 204) and returns its exit code.
int finish(const Invocation& inv, const Reply& r, const std::string& ok_text) {
    if (r.exit != kExitOk) return r.exit;
    if (r.body.empty()) {
        if (inv.json) std::cout << "{\"ok\":true}\n";
        else std::cout << ok_text << "\n";
        return kExitOk;
    }
    if (inv.json) {
        std::cout << r.body << "\n";
        return kExitOk;
    }
    auto v = parse_json(r.body);
    if (v) print_human(*v);
    else std::cout << r.body << "\n";
    return kExitOk;
}

Result<Invocation> parse(const std::vector<std::string>& args) {
    static const std::set<std::string> kValued{"url", "token", "user", "role", "name", "key", "expires", "provider",
                                               "tokens", "org", "saga", "user-id"};
    Invocation inv;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--json") {
            inv.json = true;
        } else if (a.rfind("--", 0) == 0) {
            auto name = a.substr(2);
            std::string value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else {
                if (!kValued.count(name)) return fail(Errc::invalid_argument, "unknown option '" + a + "'");
                if (i + 1 >= args.size()) return fail(Errc::invalid_argument, a + " needs a value");
                value = args[++i];
            }
            if (!kValued.count(name)) return fail(Errc::invalid_argument, "unknown option '--" + name + "'");
            if (name == "user-id") name = "user";
            inv.flags[name] = value;
        } else {
            inv.words.push_back(a);
        }
    }
    return inv;
}

std::string need(const Invocation& inv, const std::string& flag, std::string& missing) {
    auto v = inv.flag(flag);
    if (v.empty() && missing.empty()) missing = "--" + flag;
    return v;
}

std::string body(json::object o) { return to_json_text(o); }

int users(const Invocation& inv, const std::string& verb) {
    std::string missing;
    if (verb == "grant" || verb == "revoke") {
        auto user = need(inv, "user", missing);
        auto role = need(inv, "role", missing);
        if (!missing.empty()) return usage_error("users " + verb + " needs " + missing);
        for (auto& c : role) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        auto r = call(inv, verb == "grant" ? "PUT" : "DELETE",
                      "/api/v1/auth/users/" + url_encode(user) + "/roles/" + url_encode(role));
        return finish(inv, r, verb == "grant" ? "granted " + role : "revoked " + role);
    }
    return usage_error("users needs list, grant or revoke");
}

int keys(const Invocation& inv, const std::string& verb) {
    std::string missing;
    auto user = need(inv, "user", missing);
    if (verb == "create") {
        if (!missing.empty()) return usage_error("keys create needs --user USER_ID");
        json::object o{{"userId", user}};
        if (auto n = inv.flag("name"); !n.empty()) o["name"] = n;
        if (auto e = inv.flag("expires"); !e.empty()) o["expiresAt"] = e;
        auto r = call(inv, "POST", "/api/v1/auth/api-keys", body(std::move(o)));
        if (r.exit == kExitOk && !inv.json) std::cerr << "the raw key (apiKey) is shown only now: keep it\n";
        return finish(inv, r, "");
    }
    if (verb == "list") {
        if (!missing.empty()) return usage_error("keys list needs --user USER_ID");
        return finish(inv, call(inv, "GET", "/api/v1/auth/api-keys?userId=" + url_encode(user)), "");
    }
    if (verb == "revoke") {
        auto key = need(inv, "key", missing);
        if (!missing.empty()) return usage_error("keys revoke needs " + missing);
        auto r = call(inv, "DELETE", "/api/v1/auth/api-keys?userId=" + url_encode(user) + "&apiKeyId=" + url_encode(key));
        return finish(inv, r, "revoked " + key);
    }
    return usage_error("keys needs create, list or revoke");
}

int quotas(const Invocation& inv, const std::string& verb) {
    std::string missing;
    auto provider = need(inv, "provider", missing);
    const auto user = inv.flag("user"), org = inv.flag("org");
    if (user.empty() == org.empty()) return usage_error("quotas " + verb + " needs exactly one of --user and --org");
    if (verb == "show") {
        if (!missing.empty()) return usage_error("quotas show needs --provider");
        auto target = user.empty() ? "/api/v1/tokens/quota/org?orgId=" + url_encode(org)
                                   : "/api/v1/tokens/quota?userId=" + url_encode(user);
        return finish(inv, call(inv, "GET", target + "&provider=" + url_encode(provider)), "");
    }
    if (verb == "allocate") {
        auto tokens = need(inv, "tokens", missing);
        if (!missing.empty()) return usage_error("quotas allocate needs " + missing);
        std::int64_t n = 0;
        try {
            std::size_t used = 0;
            n = std::stoll(tokens, &used);
            if (used != tokens.size()) throw std::invalid_argument(tokens);
        } catch (const std::exception&) {
            return usage_error("--tokens needs a whole number, got '" + tokens + "'");
        }
        json::object o{{"provider", provider}, {"allowanceTokens", n}};
        if (!user.empty()) o["userId"] = user;
        else o["orgId"] = org;
        return finish(inv, call(inv, "PUT", "/api/v1/tokens/quota", body(std::move(o))), "");
    }
    return usage_error("quotas needs show or allocate");
}

int orgs(const Invocation& inv, const std::string& verb) {
    std::string missing;
    if (verb == "create") {
        auto name = need(inv, "name", missing);
        if (!missing.empty()) return usage_error("orgs create needs --name");
        json::object o{{"name", name}};
        if (auto id = inv.flag("org"); !id.empty()) o["orgId"] = id;
        return finish(inv, call(inv, "POST", "/api/v1/tokens/orgs", body(std::move(o))), "");
    }
    if (verb == "members") {
        const std::string sub = inv.words.size() > 2 ? inv.words[2] : "list";
        auto org = need(inv, "org", missing);
        if (sub == "list") {
            if (!missing.empty()) return usage_error("orgs members list needs --org");
            return finish(inv, call(inv, "GET", "/api/v1/tokens/orgs/" + url_encode(org) + "/members"), "");
        }
        if (sub == "add" || sub == "remove") {
            auto user = need(inv, "user", missing);
            if (!missing.empty()) return usage_error("orgs members " + sub + " needs " + missing);
            auto r = call(inv, sub == "add" ? "PUT" : "DELETE",
                          "/api/v1/tokens/orgs/" + url_encode(org) + "/members/" + url_encode(user));
            return finish(inv, r, sub == "add" ? "added" : "removed");
        }
        return usage_error("orgs members needs add, remove or list");
    }
    return usage_error("orgs needs create or members");
}

int purchases(const Invocation& inv, const std::string& verb) {
    if (verb != "show") return usage_error("purchases needs show");
    std::string saga = inv.flag("saga");
    if (saga.empty() && inv.words.size() > 2) saga = inv.words[2];
    if (saga.empty()) return usage_error("purchases show needs a saga id (--saga ID)");
    return finish(inv, call(inv, "GET", "/api/v1/tokens/purchase/" + url_encode(saga)), "");
}

}  // namespace

bool is_admin_command(const std::string& noun) {
    return noun == "users" || noun == "keys" || noun == "quotas" || noun == "orgs" || noun == "purchases";
}

int run_admin_command(const std::vector<std::string>& args) {
    auto inv = parse(args);
    if (!inv) return usage_error(inv.error().message);
    inv->words.insert(inv->words.begin(), args[0]);
    const std::string verb = inv->words.size() > 1 ? inv->words[1] : "";
    const auto& noun = args[0];
    if (noun == "users") return users(*inv, verb);
    if (noun == "keys") return keys(*inv, verb);
    if (noun == "quotas") return quotas(*inv, verb);
    if (noun == "orgs") return orgs(*inv, verb);
    return purchases(*inv, verb);
}

}  // namespace lt::app
