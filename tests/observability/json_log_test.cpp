// log.format=json: every line the server writes on stderr is one JSON object with ts, level, logger
// and msg, and the key=value pairs of the message as fields.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <boost/json.hpp>

#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

TEST_CASE("with log.format json every log line is a JSON object with ts, level, logger and msg") {
    lt::test::TempDir dir;
    std::string log_path;
    {
        lt::test::ServerSpec spec{{"log.format=json", "log.modules.bus=debug"}};
        spec.log_level = "info";
        lt::test::ServerProcess server(dir.path(), lt::test::free_port(), spec);
        log_path = (server.dir() / "server.log").string();
        CHECK(lt::test::http_call(server.port(), "GET", "/api/v1/tokens/status").status == 200);
    }
    std::ifstream in(log_path);
    std::size_t objects = 0, with_fields = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("leaky-tokens ready on port", 0) == 0) continue;  // the start-up line scripts read
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        REQUIRE_MESSAGE(!ec, "not JSON: " << line);
        REQUIRE(v.is_object());
        const auto& o = v.as_object();
        CHECK(o.contains("ts"));
        CHECK(o.contains("level"));
        CHECK(o.contains("logger"));
        CHECK(o.contains("msg"));
        ++objects;
        if (o.size() > 4) ++with_fields;
    }
    CHECK(objects >= 5);
    CHECK(with_fields >= 1);  // e.g. "module started name=token" → "name":"token"
}
