// The registry and config modules inside the whole application, through the gateway over real HTTP.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include <boost/json.hpp>

#include "lt/core/cluster.hpp"
#include "lt/core/crypto.hpp"
#include "support/accounts.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {
constexpr const char* kSecret = "integration-cluster-secret";
const std::string kInstance =
    R"({"instance": {"instanceId": "127.0.0.1:9001:token", "app": "TOKEN", "hostName": "127.0.0.1",
        "ipAddr": "127.0.0.1", "status": "UP", "port": {"$": 9001, "@enabled": "true"},
        "homePageUrl": "http://127.0.0.1:9001/", "vipAddress": "token"}})";

std::map<std::string, std::string> signed_headers(const std::string& method, const std::string& target,
                                                  const std::string& body) {
    std::map<std::string, std::string> h;
    for (auto& [k, v] : lt::cluster::sign(kSecret, method, target, std::nullopt, "", lt::crypto::sha256_hex(body),
                                          std::chrono::system_clock::now())) {
        h[k] = v;
    }
    return h;
}
}  // namespace

TEST_CASE("the registry answers through the gateway: reads for users, writes for ADMIN, 401 without credentials") {
    TestApp app(lt::test::with_admin());
    auto root = lt::test::admin(app.port());
    auto user = lt::test::signup(app.port(), "reguser");
    CHECK(http_call(app.port(), "GET", "/eureka/apps").status == 401);
    CHECK(http_call(app.port(), "POST", "/eureka/apps/token", kInstance, user.auth()).status == 403);
    CHECK(http_call(app.port(), "POST", "/eureka/apps/token", kInstance, root.auth()).status == 204);
    auto list = http_call(app.port(), "GET", "/eureka/apps", "", user.auth());
    REQUIRE(list.status == 200);
    auto doc = boost::json::parse(list.body);
    CHECK(doc.at("applications").at("application").at(0).at("name") == "TOKEN");
    CHECK(http_call(app.port(), "PUT", "/eureka/apps/token/127.0.0.1:9001:token", "", root.auth()).status == 200);
    CHECK(http_call(app.port(), "DELETE", "/eureka/apps/token/127.0.0.1:9001:token", "", root.auth()).status == 200);
    CHECK(http_call(app.port(), "GET", "/eureka/apps/token", "", user.auth()).status == 404);
}

TEST_CASE("the config server answers through the gateway without shadowing any other route") {
    ::setenv("LEAKY_CONFIG_ENCRYPT_KEY", "integration-passphrase", 1);
    lt::test::TempDir dir{"cfgint"};
    std::ofstream(dir.path() / "leaky-tokens.yml") << "token:\n  bucket:\n    capacity: 500\n";
    TestApp app(lt::test::with_admin({"config.server.search-locations=" + dir.path().string(),
                                      std::string("cluster.secret=") + kSecret}));
    auto root = lt::test::admin(app.port());
    auto user = lt::test::signup(app.port(), "cfguser");

    CHECK(http_call(app.port(), "GET", "/leaky-tokens/default").status == 401);
    CHECK(http_call(app.port(), "GET", "/leaky-tokens/default", "", user.auth()).status == 403);
    auto env = http_call(app.port(), "GET", "/leaky-tokens/default", "", root.auth());
    REQUIRE(env.status == 200);
    CHECK(boost::json::parse(env.body).at("propertySources").at(0).at("source").at("token.bucket.capacity") == 500);
    auto signed_env = http_call(app.port(), "GET", "/leaky-tokens/default", "",
                                signed_headers("GET", "/leaky-tokens/default", ""));
    CHECK(signed_env.status == 200);
    auto forged = signed_headers("GET", "/leaky-tokens/other", "");
    CHECK(http_call(app.port(), "GET", "/leaky-tokens/default", "", forged).status == 401);
    auto props = http_call(app.port(), "GET", "/leaky-tokens-default.properties", "", root.auth());
    CHECK(props.body == "token.bucket.capacity=500\n");

    // Unknown paths stay 404 with or without credentials; other modules' literal routes win.
    CHECK(http_call(app.port(), "GET", "/nobody/default").status == 404);
    CHECK(http_call(app.port(), "GET", "/no/such/path", "", root.auth()).status == 404);
    CHECK(http_call(app.port(), "POST", "/foo/bar").status == 404);
    CHECK(http_call(app.port(), "GET", "/oauth2/jwks").status == 200);
    CHECK(http_call(app.port(), "GET", "/oauth2/token").status == 405);

    auto cipher = http_call(app.port(), "POST", "/encrypt", "s3cret", root.auth());
    REQUIRE(cipher.status == 200);
    CHECK(http_call(app.port(), "POST", "/encrypt", "s3cret", user.auth()).status == 403);
    CHECK(http_call(app.port(), "POST", "/encrypt", "s3cret").status == 401);
    std::ofstream(dir.path() / "vault.yml") << "db:\n  password: '{cipher}" << cipher.body << "'\n";
    auto vault = http_call(app.port(), "GET", "/vault/default", "", root.auth());
    REQUIRE(vault.status == 200);
    CHECK(boost::json::parse(vault.body).at("propertySources").at(0).at("source").at("db.password") == "s3cret");
    CHECK(http_call(app.port(), "POST", "/decrypt", cipher.body, root.auth()).body == "s3cret");
}

TEST_CASE("serve with config.url applies the config module's values under its own --set") {
    lt::test::TempDir dir{"cfgurl"};
    std::ofstream(dir.path() / "leaky-tokens.yml")
        << "gateway:\n  rate-limit:\n    capacity: 7\n    window-seconds: 30\n";
    TestApp server(lt::test::with_admin({"config.server.search-locations=" + dir.path().string(),
                                         std::string("cluster.secret=") + kSecret}));
    const auto url = "config.url=http://127.0.0.1:" + std::to_string(server.port());
    lt::test::TempDir child_dir{"cfgurl-child"};
    {
        lt::test::ServerProcess child(child_dir.path(), {url, std::string("cluster.secret=") + kSecret});
        auto r = http_call(child.port(), "GET", "/oauth2/jwks");
        CHECK(r.header("x-ratelimit-limit") == "7");          // from the config module
        CHECK(r.header("ratelimit-policy") == "\"edge\";q=7;w=30");
    }
    {
        // The process's own --set wins over the config module.
        lt::test::ServerProcess child(child_dir.path(), {url, std::string("cluster.secret=") + kSecret,
                                                         "gateway.rate-limit.capacity=9"});
        CHECK(http_call(child.port(), "GET", "/oauth2/jwks").header("x-ratelimit-limit") == "9");
    }
    // A wrong secret is refused by the config module, and the process refuses to start (fail fast).
    auto out = lt::test::TempDir{"cfgurl-bad"};
    const std::string cmd = std::string(LT_BINARY_DIR) + "/leaky-tokens serve --set " + url +
                            " --set cluster.secret=wrong --set server.port=0 --set storage.data-dir=" +
                            out.path().string() + " > " + (out.path() / "log").string() + " 2>&1";
    CHECK(std::system(cmd.c_str()) != 0);
    std::ifstream log(out.path() / "log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(text.find("config.url") != std::string::npos, text);
}
