#include <doctest/doctest.h>

#include "lt/core/time.hpp"

using namespace std::chrono;

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds and a trailing Z") {
    system_clock::time_point tp{milliseconds(1770287700123)};
    CHECK(lt::format_rfc3339(tp) == "2026-02-05T10:35:00.123Z");
}

TEST_CASE("RFC 3339 parsing accepts 0 to 9 fractional digits and offsets") {
    auto a = lt::parse_rfc3339("2026-02-05T10:35:00Z");
    auto b = lt::parse_rfc3339("2026-02-05T10:35:00.123456789Z");
    auto c = lt::parse_rfc3339("2026-02-05T11:35:00+01:00");
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    CHECK(*a == *c);
    CHECK(duration_cast<nanoseconds>(*b - *a).count() == 123456789);
    CHECK_FALSE(lt::parse_rfc3339("2026-02-05 nope"));
    CHECK_FALSE(lt::parse_rfc3339("2026-13-05T10:35:00Z"));
}

TEST_CASE("generated UUIDs are canonical lower-case version 4 and distinct") {
    auto a = lt::new_uuid();
    auto b = lt::new_uuid();
    CHECK(lt::is_uuid(a));
    CHECK(a != b);
    CHECK(a[14] == '4');
    CHECK(lt::to_lower(a) == a);
    CHECK(lt::normalize_uuid("AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE") == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    CHECK_FALSE(lt::is_uuid("1-1-1-1-1"));
    CHECK_FALSE(lt::is_uuid("not-a-uuid"));
}

TEST_CASE("durations accept ms, s, m, h, d and bare seconds") {
    CHECK(lt::parse_duration("500ms") == milliseconds(500));
    CHECK(lt::parse_duration("3s") == milliseconds(3000));
    CHECK(lt::parse_duration("10m") == milliseconds(600000));
    CHECK(lt::parse_duration("24h") == milliseconds(86400000));
    CHECK(lt::parse_duration("7") == milliseconds(7000));
    CHECK_FALSE(lt::parse_duration("3 weeks"));
    CHECK_FALSE(lt::parse_duration("-3s"));
    CHECK_FALSE(lt::parse_duration(""));
}

TEST_CASE("constant-time comparison agrees with ordinary equality") {
    CHECK(lt::constant_time_equals("abc", "abc"));
    CHECK_FALSE(lt::constant_time_equals("abc", "abd"));
    CHECK_FALSE(lt::constant_time_equals("abc", "abcd"));
    CHECK(lt::trim("  x y \n") == "x y");
}
