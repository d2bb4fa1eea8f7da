// lt::parse_json refuses what Boost.JSON would accept ambiguously (issue 15), and valid_utf8 makes any
// bytes safe to echo in a JSON body.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "lt/core/json.hpp"

TEST_CASE("parse_json refuses repeated members at any depth and numbers out of double's range") {
    auto dup = lt::parse_json(R"({"tokens":1,"tokens":2000000000})");
    REQUIRE_FALSE(dup);
    CHECK(dup.error().message == "duplicate key in JSON object");
    CHECK_FALSE(lt::parse_json(R"({"a":[{"b":1,"c":{"d":1,"d":1}}]})"));
    CHECK_FALSE(lt::parse_json(R"({"a":1,"\u0061":2})"));  // the same key, escaped
    auto big = lt::parse_json("[1.5e309]");
    REQUIRE_FALSE(big);
    CHECK(big.error().message == "number out of range in JSON body");
    CHECK_FALSE(lt::parse_json("-1e400"));
    // The same key in different objects, and large but finite numbers, are fine.
    CHECK(lt::parse_json(R"({"a":{"k":1},"b":{"k":2},"n":1.7e308,"m":18446744073709551615})"));
}

TEST_CASE("valid_utf8 replaces each byte outside a well-formed sequence and keeps the rest") {
    CHECK(lt::valid_utf8("/x\xff") == "/x\xef\xbf\xbd");
    CHECK(lt::valid_utf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");          // overlong
    CHECK(lt::valid_utf8("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
    CHECK(lt::valid_utf8("a\xe2\x82") == "a\xef\xbf\xbd\xef\xbf\xbd");         // truncated
    CHECK(lt::valid_utf8("J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x98\x80") == "J\xc3\xb6rg \xe2\x82\xac \xf0\x9f\x98\x80");
    boost::system::error_code ec;
    (void)boost::json::parse(lt::to_json_text(boost::json::string(lt::valid_utf8("\xff\xfe\x80"))), ec);
    CHECK_FALSE(ec);
}
