// ConfigRepository, PropertyCipher and the renderers alone, over a temp directory of YAML files.
#include <doctest/doctest.h>

#include <fstream>

#include <boost/json.hpp>

#include "config_repository.hpp"
#include "lt/config_server/config_server.hpp"
#include "property_cipher.hpp"
#include "support/temp_dir.hpp"

namespace json = boost::json;
using lt::config_server::ConfigRepository;
using lt::config_server::PropertyCipher;

namespace {
void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

std::vector<std::string> source_names(const lt::config_server::Environment& env) {
    std::vector<std::string> out;
    for (const auto& s : env.property_sources) out.push_back(s.name.substr(s.name.rfind('/') + 1));
    return out;
}
}  // namespace

TEST_CASE("property sources follow Spring's precedence with the last profile most specific") {
    lt::test::TempDir dir{"cfg"};
    write(dir.path() / "application.yml", "shared: base\nlevel: 1\n");
    write(dir.path() / "application-prod.yml", "level: 2\n");
    write(dir.path() / "billing.yml", "level: 3\nname: billing\n");
    write(dir.path() / "billing-dev.yml", "level: 4\n");
    write(dir.path() / "billing-prod.yaml", "level: 5\n");
    ConfigRepository repo({dir.path()}, PropertyCipher(), lt::make_logger("cfg", "off"));
    auto env = repo.find("billing", "dev,prod", std::nullopt);
    REQUIRE(env);
    CHECK(source_names(*env) ==
          std::vector<std::string>{"billing-prod.yaml", "billing-dev.yml", "billing.yml", "application-prod.yml", "application.yml"});
    auto merged = lt::config_server::merge(*env);
    auto get = [&](const std::string& k) {
        for (const auto& [key, v] : merged) {
            if (key == k) return v;
        }
        return json::value("absent");
    };
    CHECK(get("level") == 5);
    CHECK(get("shared") == "base");
    CHECK(get("name") == "billing");
    auto j = lt::config_server::to_json(*env);
    CHECK(j.at("name") == "billing");
    CHECK(j.at("profiles") == json::array{"dev", "prod"});
    CHECK(j.at("label").is_null());
    CHECK(j.at("version").is_null());
    CHECK(j.at("state").is_null());
    CHECK(j.at("propertySources").as_array().size() == 5);
}

TEST_CASE("nested YAML is flattened to dotted keys with typed scalars and indexed lists") {
    lt::test::TempDir dir{"cfg"};
    write(dir.path() / "app.yml",
          "server:\n  port: 8080\n  ratio: 0.5\n  on: yes\n  name: \"8080\"\nhosts: [a, b]\nempty:\n");
    ConfigRepository repo({dir.path()}, PropertyCipher(), lt::make_logger("cfg", "off"));
    auto env = repo.find("app", "default", std::string("main"));
    REQUIRE(env);
    auto j = lt::config_server::to_json(*env);
    CHECK(j.at("label") == "main");
    const auto& src = j.at("propertySources").at(0).at("source").as_object();
    CHECK(src.at("server.port") == 8080);
    CHECK(src.at("server.ratio") == 0.5);
    CHECK(src.at("server.on") == true);
    CHECK(src.at("server.name") == "8080");
    CHECK(src.at("hosts[0]") == "a");
    CHECK(src.at("hosts[1]") == "b");
    CHECK(src.at("empty") == "");
}

TEST_CASE("an application without a file of its own is not found even when application.yml exists") {
    lt::test::TempDir dir{"cfg"};
    write(dir.path() / "application.yml", "a: 1\n");
    ConfigRepository repo({dir.path()}, PropertyCipher(), lt::make_logger("cfg", "off"));
    CHECK(repo.find("nobody", "default", std::nullopt).error().code == lt::Errc::not_found);
    CHECK(repo.find("..", "default", std::nullopt).error().code == lt::Errc::not_found);
    CHECK(repo.find("application", "default", std::nullopt));
    ConfigRepository none({}, PropertyCipher(), lt::make_logger("cfg", "off"));
    CHECK(none.find("application", "default", std::nullopt).error().code == lt::Errc::not_found);
}

TEST_CASE("the cipher round-trips and refuses tampered text, another key and a missing key") {
    PropertyCipher cipher("passphrase");
    auto c = cipher.encrypt("s3cret value");
    REQUIRE(c);
    CHECK(*c != "s3cret value");
    CHECK(cipher.decrypt(*c).value() == "s3cret value");
    CHECK(cipher.decrypt("{cipher}" + *c).value() == "s3cret value");
    CHECK(cipher.encrypt("x").value() != cipher.encrypt("x").value());  // fresh nonce each time
    std::string tampered = *c;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    CHECK(cipher.decrypt(tampered).error().code == lt::Errc::invalid_argument);
    CHECK(cipher.decrypt("not base64!").error().code == lt::Errc::invalid_argument);
    CHECK(PropertyCipher("other").decrypt(*c).error().code == lt::Errc::invalid_argument);
    CHECK(PropertyCipher().encrypt("x").error().code == lt::Errc::unavailable);
    CHECK(cipher.decrypt(cipher.encrypt("").value()).value().empty());
}

TEST_CASE("cipher values are served decrypted or as n/a when they cannot be") {
    lt::test::TempDir dir{"cfg"};
    PropertyCipher cipher("k");
    write(dir.path() / "app.yml", "db:\n  password: '{cipher}" + cipher.encrypt("hunter2").value() +
                                      "'\n  broken: '{cipher}AAAA'\n");
    ConfigRepository repo({dir.path()}, cipher, lt::make_logger("cfg", "off"));
    auto env = repo.find("app", "default", std::nullopt);
    REQUIRE(env);
    const auto& src = env->property_sources.at(0).source;
    CHECK(src.at(0).second == "hunter2");
    CHECK(src.at(1).second == "<n/a>");
    ConfigRepository keyless({dir.path()}, PropertyCipher(), lt::make_logger("cfg", "off"));
    CHECK(keyless.find("app", "default", std::nullopt)->property_sources.at(0).source.at(0).second == "<n/a>");
}

TEST_CASE("the merged view renders as nested YAML and as escaped properties") {
    lt::config_server::FlatProperties p{{"server.port", 8080},
                                        {"server.name", "a b"},
                                        {"hosts[0]", "x"},
                                        {"hosts[1]", "y"},
                                        {"odd key", "v=1\nnext"}};
    auto yaml = lt::config_server::render_yaml(p);
    CHECK(yaml.find("server:\n  port: 8080\n  name: a b\n") != std::string::npos);
    CHECK(yaml.find("hosts:\n  - x\n  - y\n") != std::string::npos);
    auto props = lt::config_server::render_properties(p);
    CHECK(props == "server.port=8080\nserver.name=a b\nhosts[0]=x\nhosts[1]=y\nodd\\ key=v=1\\nnext\n");
    CHECK(lt::config_server::render_yaml({}) == "{}\n");
}

TEST_CASE("a config server environment reads back as flat properties with precedence") {
    json::value env = json::parse(R"({"name":"a","profiles":["default"],"label":null,"version":null,"state":null,
        "propertySources":[{"name":"a","source":{"x":"1","y":true}},{"name":"b","source":{"x":"2","z":3}}]})");
    auto props = lt::config_server::properties_from_environment(env);
    REQUIRE(props);
    CHECK(*props == std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "true"}, {"z", "3"}});
    CHECK_FALSE(lt::config_server::properties_from_environment(json::object{}));
}
