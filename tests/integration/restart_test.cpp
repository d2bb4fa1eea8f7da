// Restarting the embedded profile on the same data: usage events that the previous process published
// to its in-memory event log (and possibly never delivered) are counted exactly once afterwards.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include <boost/json.hpp>

#include "support/accounts.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"
#include "support/test_http.hpp"

using lt::test::http_call;
using lt::test::TestApp;

namespace {
std::int64_t allowed_events(std::uint16_t port, const lt::test::Account& who) {
    auto r = http_call(port, "GET", "/api/v1/analytics/report?provider=openai&windowMinutes=60", "", who.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return boost::json::parse(r.body).as_object().at("allowedEvents").as_int64();
}
}  // namespace

TEST_CASE("usage events survive a restart of the embedded profile and are counted exactly once") {
    lt::test::TempDir dir{"restart"};
    constexpr int kConsumes = 40;
    lt::test::Account user;
    {
        TestApp app(lt::test::with_admin(), {}, dir.path());
        auto root = lt::test::admin(app.port());
        user = lt::test::signup(app.port(), "restarter");
        lt::test::allocate(app.port(), root, "userId", user.id, 1000000);
        const std::string body = R"({"userId":")" + user.id + R"(","provider":"openai","tokens":1})";
        for (int i = 0; i < kConsumes; ++i) {
            auto r = http_call(app.port(), "POST", "/api/v1/tokens/consume", body, user.auth());
            REQUIRE_MESSAGE(r.status == 200, r.body);
        }
    }  // shut down right after the last consume: some events may not have reached analytics
    TestApp app(lt::test::with_admin(), {}, dir.path());
    std::int64_t seen = 0;
    for (int i = 0; i < 100 * lt::test::event_patience_factor() && seen < kConsumes; ++i) {
        seen = allowed_events(app.port(), user);
        if (seen < kConsumes) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(seen == kConsumes);
    // The outbox re-sent everything it kept; duplicates must not count.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(allowed_events(app.port(), user) == kConsumes);
}
