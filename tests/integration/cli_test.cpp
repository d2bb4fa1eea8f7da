// The command-line contract of the leaky-tokens executable, and the configuration documentation.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <cstdlib>

#include <sys/wait.h>

#include "lt/core/config.hpp"
#include "module_list.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

namespace {
struct Run {
    int code;
    std::string output;
};
Run run(const std::string& args) {
    std::string cmd = std::string(LT_BINARY_DIR) + "/leaky-tokens " + args + " 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}
std::string write_file(const lt::test::TempDir& dir, const std::string& name, const std::string& text) {
    auto path = dir.path() / name;
    std::ofstream(path) << text;
    return path.string();
}
}  // namespace

TEST_CASE("version exits 0 and names the compiled-in adapters") {
    auto r = run("version");
    CHECK(r.code == 0);
    CHECK(r.output.find("leaky-tokens") != std::string::npos);
    CHECK(r.output.find("sql:sqlite") != std::string::npos);
}

TEST_CASE("an unknown command or option is a usage error with exit code 2") {
    CHECK(run("frobnicate").code == 2);
    CHECK(run("serve --bogus").code == 2);
    CHECK(run("").code == 2);
    CHECK(run("help").code == 0);
}

TEST_CASE("config check accepts a valid partial file and lists every bad key of an invalid one") {
    lt::test::TempDir dir;
    auto good = write_file(dir, "good.yaml", "server:\n  port: 9090\nproviders:\n  openai:\n    latency: 5ms\n");
    CHECK(run("config check " + good).code == 0);
    auto bad = write_file(dir, "bad.yaml", "server:\n  port: nope\n  colour: blue\nproviders:\n  openai:\n    latency: fast\n");
    auto r = run("config check " + bad);
    CHECK(r.code == 1);
    CHECK(r.output.find("server.port") != std::string::npos);
    CHECK(r.output.find("server.colour") != std::string::npos);
    CHECK(r.output.find("providers.openai.latency") != std::string::npos);
}

TEST_CASE("serve with a bad --set value exits non-zero at once naming the key") {
    auto r = run("serve --set server.port=70000 --set token.nothing=1");
    CHECK(r.code == 1);
    CHECK(r.output.find("server.port") != std::string::npos);
    CHECK(r.output.find("token.nothing") != std::string::npos);
}

TEST_CASE("docs/configuration.md documents every configuration key and the shipped files are valid") {
    std::ifstream in(std::string(LT_SOURCE_DIR) + "/docs/configuration.md");
    std::stringstream ss;
    ss << in.rdbuf();
    auto documented = lt::config::documented_keys(ss.str());
    auto schema = lt::app::full_schema();
    for (const auto& k : schema.keys()) {
        CHECK_MESSAGE(std::find(documented.begin(), documented.end(), k.pattern) != documented.end(),
                      "undocumented key: " << k.pattern);
    }
    for (const auto& d : documented) {
        bool known = std::any_of(schema.keys().begin(), schema.keys().end(),
                                 [&](const auto& k) { return k.pattern == d; });
        CHECK_MESSAGE(known, "documented key that does not exist: " << d);
    }
    auto embedded = lt::config::check_embedded(schema);
    CHECK_MESSAGE(embedded, (embedded ? "" : embedded.error().message));
}

TEST_CASE("user create makes an ADMIN that can log in once the server starts on the same data") {
    lt::test::TempDir dir;
    auto set = " --set storage.data-dir=" + dir.path().string() + " --set log.level=warn" +
               lt::test::extra_set_args(dir.path());
    auto r = run("user create --username chief --password chief-password-1 --admin" + set);
    CHECK_MESSAGE(r.code == 0, r.output);
    CHECK(r.output.find('-') != std::string::npos);  // prints the user id
    CHECK(run("user create --username chief" + set).code == 2);  // no password: usage error
    lt::test::TestApp app({}, {}, dir.path());
    auto login = lt::test::http_call(app.port(), "POST", "/api/v1/auth/login",
                                     R"({"username":"chief","password":"chief-password-1"})");
    REQUIRE_MESSAGE(login.status == 200, login.body);
    CHECK(login.body.find("\"ADMIN\"") != std::string::npos);
}

TEST_CASE("serve without a registry refuses to start when a hosted module calls one it does not host") {
    lt::test::TempDir dir;
    const auto common = " --set server.port=0 --set log.level=warn --set storage.data-dir=" + dir.path().string();
    auto token = run("serve --modules token" + common);
    CHECK(token.code == 1);
    CHECK_MESSAGE(token.output.find("missing modules: providers, auth") != std::string::npos, token.output);
    CHECK(token.output.find("provider.chat.v1") != std::string::npos);
    auto gateway = run("serve --modules gateway,token,providers" + common);
    CHECK(gateway.code == 1);
    CHECK_MESSAGE(gateway.output.find("missing modules: auth") != std::string::npos, gateway.output);
}

TEST_CASE("serve with registry.url and no cluster secret refuses to start") {
    lt::test::TempDir dir;
    ::unsetenv("LEAKY_CLUSTER_SECRET");  // the child inherits the environment
    auto direct = run("serve --modules auth --set server.port=0 --set registry.url=http://127.0.0.1:9 --set storage.data-dir=" +
                      dir.path().string());
    CHECK(direct.code == 1);
    CHECK_MESSAGE(direct.output.find("cluster.secret") != std::string::npos, direct.output);
}
