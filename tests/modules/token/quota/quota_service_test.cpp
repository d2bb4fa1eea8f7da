// QuotaService: pool arithmetic (CONTRACT 18, 20), windows, tier caps, reserve/settle/release, persistence.
#include <limits>
#include <set>
#include <string_view>

#include "quota/pool_math.hpp"
#include "quota_harness.hpp"

namespace lt::token::test {
namespace {

using namespace std::chrono_literals;
using std::optional;

constexpr auto kMax = std::numeric_limits<std::int64_t>::max();

optional<PoolView> view(QuotaHarness& h, const PoolKey& key, optional<std::int64_t> cap = {}) {
    auto r = run(h.quota->get(key, cap, h.clock.now()));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
}

PoolView allocate(QuotaHarness& h, const PoolKey& key, std::int64_t allowance, optional<std::int64_t> cap = {}) {
    auto r = run(h.quota->set_allowance(key, allowance, cap, h.clock.now()));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
}

void credit(QuotaHarness& h, const PoolKey& key, std::int64_t n) {
    auto r = run(h.quota->credit_purchase(key, n, h.clock.now()));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
}

Result<Reservation> reserve(QuotaHarness& h, const PoolKey& key, std::int64_t n, optional<std::int64_t> cap = {}) {
    return run(h.quota->reserve(key, n, cap, h.clock.now()));
}

Result<void> settle(QuotaHarness& h, Reservation r, std::vector<OutboxRow> rows = {}) {
    return run(h.quota->settle(std::move(r), std::move(rows), h.clock.now()));
}

/// Reserves and settles n tokens, which must succeed.
void spend(QuotaHarness& h, const PoolKey& key, std::int64_t n) {
    auto r = reserve(h, key, n);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    auto s = settle(h, std::move(*r), {usage_row(h.clock.now())});
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
}

}  // namespace

TEST_CASE("a window reset refills the allowance, caps a user pool's allowance and never touches purchases") {
    const auto t0 = std::chrono::system_clock::time_point(std::chrono::hours(1000));
    PoolBalance b{1000, 10, 50, 20, t0};
    CHECK_FALSE(apply_window_reset(b, OwnerType::user, 300, t0 - 1s, 24h));
    CHECK(b.allowance_remaining == 10);
    CHECK(apply_window_reset(b, OwnerType::user, 300, t0, 24h));
    CHECK(b == PoolBalance{300, 300, 50, 20, t0 + 24h});

    PoolBalance org{1000, 10, 50, 20, t0};
    CHECK(apply_window_reset(org, OwnerType::org, 300, t0 + 1h, 24h));
    CHECK(org == PoolBalance{1000, 1000, 50, 20, t0 + 25h});

    PoolBalance fresh{100, 40, 0, 0, std::nullopt};
    CHECK(apply_window_reset(fresh, OwnerType::user, std::nullopt, t0, 24h));
    CHECK(fresh == PoolBalance{100, 40, 0, 0, t0 + 24h});  // first access only starts the window

    PoolBalance never{100, 40, 0, 0, t0};
    CHECK_FALSE(apply_window_reset(never, OwnerType::user, std::nullopt, t0 + 48h, 0ms));
    CHECK(capped_allowance(500, OwnerType::user, 0) == 500);  // a cap of 0 means none
}

TEST_CASE("a debit spends the allowance before purchased tokens and never drives a balance negative") {
    PoolBalance b{100, 30, 50, 50, std::nullopt};
    auto d = debit(b, 40);
    CHECK(d.from_allowance == 30);
    CHECK(d.from_purchased == 10);
    CHECK(b.allowance_remaining == 0);
    CHECK(b.purchased_remaining == 40);
    auto over = debit(b, 100);
    CHECK(over.from_purchased == 40);
    CHECK(b.purchased_remaining == 0);
}

TEST_CASE("a pool that does not exist reads as absent and refuses reservations with 402") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    CHECK_FALSE(view(h, key).has_value());
    auto r = reserve(h, key, 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::payment_required);
    CHECK(r.error().message == "insufficient token quota");
    auto zero = reserve(h, key, 0);
    REQUIRE_FALSE(zero);
    CHECK(zero.error().code == Errc::invalid_argument);
}

TEST_CASE("an allocated pool with purchases reports A + P in total and a + p remaining, here and in SQL") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    auto v = allocate(h, key, 1000);
    CHECK(v.allowance == 1000);
    CHECK(v.allowance_remaining == 1000);
    CHECK(v.reset_time == h.clock.now() + 24h);
    credit(h, key, 500);
    auto got = view(h, key);
    REQUIRE(got);
    CHECK(got->total() == 1500);
    CHECK(got->remaining() == 1500);
    CHECK(got->purchased_total == 500);
    CHECK(got->purchased_remaining == 500);
    auto row = h.stored(key);
    REQUIRE(row);
    CHECK(row->balance == PoolBalance{1000, 1000, 500, 500, h.clock.now() + 24h});
}

TEST_CASE("settles spend the allowance first, then purchased tokens") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = org_key();
    allocate(h, key, 100);
    credit(h, key, 50);
    spend(h, key, 80);
    CHECK(h.stored(key)->balance.allowance_remaining == 20);
    CHECK(h.stored(key)->balance.purchased_remaining == 50);
    spend(h, key, 40);
    auto row = h.stored(key);
    CHECK(row->balance.allowance_remaining == 0);
    CHECK(row->balance.purchased_remaining == 30);
    CHECK(row->balance.purchased_total == 50);
    CHECK_FALSE(reserve(h, key, 31));
    spend(h, key, 30);
    CHECK(view(h, key)->remaining() == 0);
    CHECK(h.outbox_rows() == 3);
}

TEST_CASE("reserve admits only what a + p minus the pending reservations covers") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 10);
    auto a = reserve(h, key, 6);
    REQUIRE(a);
    auto b = reserve(h, key, 5);
    REQUIRE_FALSE(b);
    CHECK(b.error().code == Errc::payment_required);
    auto c = reserve(h, key, 4);
    REQUIRE(c);
    CHECK(view(h, key)->pending == 10);
    h.quota->release(std::move(*a));
    CHECK(view(h, key)->pending == 4);
    CHECK(reserve(h, key, 6));  // a temporary: dropped at once, so refunded
    CHECK(view(h, key)->pending == 4);
}

TEST_CASE("a window reset refills the allowance only, purchased tokens stay as they were") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    credit(h, key, 50);
    spend(h, key, 120);
    h.clock.advance(24h);
    auto v = view(h, key);
    REQUIRE(v);
    CHECK(v->allowance_remaining == 100);
    CHECK(v->purchased_total == 50);
    CHECK(v->purchased_remaining == 30);
    CHECK(v->reset_time == h.clock.now() + 24h);
    h.flush();
    CHECK(h.stored(key)->balance == PoolBalance{100, 100, 50, 30, h.clock.now() + 24h});
}

TEST_CASE("the tier cap lowers a user pool's allowance at allocation and at reset, an org pool's never") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto user = user_key();
    auto capped = allocate(h, user, 1000, 300);
    CHECK(capped.allowance == 300);
    CHECK(capped.allowance_remaining == 300);

    auto later = user_key();
    allocate(h, later, 1000);
    credit(h, later, 5000);
    h.clock.advance(24h);
    auto v = view(h, later, 300);
    CHECK(v->allowance == 300);
    CHECK(v->allowance_remaining == 300);
    CHECK(v->total() == 5300);  // A itself dropped; purchases are never capped
    CHECK(v->purchased_remaining == 5000);

    auto org = org_key();
    CHECK(allocate(h, org, 1000, 300).allowance == 1000);
    h.clock.advance(24h);
    CHECK(view(h, org, 300)->allowance == 1000);
    h.flush();
    CHECK(h.stored(later)->balance.allowance == 300);
    CHECK(h.stored(org)->balance.allowance == 1000);
}

TEST_CASE("a pool funded only by purchases is unchanged by a reset") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    credit(h, key, 500);
    spend(h, key, 100);
    auto before = view(h, key);
    h.clock.advance(48h);
    auto after = view(h, key, 300);
    CHECK(after->allowance == 0);
    CHECK(after->allowance_remaining == 0);
    CHECK(after->purchased_total == 500);
    CHECK(after->purchased_remaining == 400);
    CHECK(after->remaining() == before->remaining());
}

TEST_CASE("a window of 0 never resets") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"), QuotaOptions{0ms});
    auto key = user_key();
    auto v = allocate(h, key, 100);
    CHECK_FALSE(v.reset_time);
    spend(h, key, 60);
    h.clock.advance(24h * 30);
    CHECK(view(h, key)->allowance_remaining == 40);
}

TEST_CASE("a settle after the window ended spends from the refilled allowance") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    spend(h, key, 90);
    auto r = reserve(h, key, 10);
    REQUIRE(r);
    h.clock.advance(24h);
    REQUIRE(settle(h, std::move(*r)));
    CHECK(h.stored(key)->balance.allowance_remaining == 90);
    CHECK(h.stored(key)->balance.reset_time == h.clock.now() + 24h);
}

TEST_CASE("reserve then release leaves the database untouched") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    h.flush();
    const auto row_before = h.stored(key);
    const auto outbox_before = h.outbox_rows();
    const auto transactions_before = h.committer->transactions();
    for (int i = 0; i < 50; ++i) {
        auto r = reserve(h, key, 7);
        REQUIRE(r);
        h.quota->release(std::move(*r));
    }
    {
        auto dropped = reserve(h, key, 100);
        REQUIRE(dropped);
        CHECK(view(h, key)->pending == 100);
    }  // destroyed while held: refunded
    CHECK(view(h, key)->pending == 0);
    CHECK(h.committer->transactions() == transactions_before);
    CHECK(h.outbox_rows() == outbox_before);
    auto row_after = h.stored(key);
    CHECK(row_after->balance == row_before->balance);
    CHECK(row_after->updated_at == row_before->updated_at);
}

TEST_CASE("settle persists the balance and its outbox rows in one transaction") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    auto r = reserve(h, key, 30);
    REQUIRE(r);
    auto first = usage_row(h.clock.now(), R"({"n":1})");
    auto second = usage_row(h.clock.now(), R"({"n":2})");
    second.aggregate_id = "agg-1";
    REQUIRE(settle(h, std::move(*r), {first, second}));
    CHECK(h.stored(key)->balance.allowance_remaining == 70);
    auto rows = h.query("SELECT id, payload, aggregate_id, published_at FROM token_outbox ORDER BY seq");
    REQUIRE(rows.rows.size() == 2);
    CHECK(ports::as_text(rows.rows[0][0]) == first.id);
    CHECK(ports::as_text(rows.rows[0][1]) == R"({"n":1})");
    CHECK_FALSE(ports::as_text(rows.rows[0][2]));
    CHECK(ports::as_text(rows.rows[1][2]) == "agg-1");
    CHECK_FALSE(ports::as_text(rows.rows[1][3]));

    SUBCASE("a settle whose outbox row cannot be written debits nothing") {
        auto again = reserve(h, key, 10);
        REQUIRE(again);
        auto duplicate = usage_row(h.clock.now());
        duplicate.id = first.id;
        auto failed = settle(h, std::move(*again), {duplicate});
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code == Errc::conflict);
        CHECK(h.stored(key)->balance.allowance_remaining == 70);
        CHECK(h.outbox_rows() == 2);
        auto v = view(h, key);  // the pool was reloaded from SQL
        CHECK(v->allowance_remaining == 70);
        CHECK(v->pending == 0);
        spend(h, key, 70);
        CHECK(h.stored(key)->balance.allowance_remaining == 0);
    }
}

TEST_CASE("a reservation settles once and settling it again is refused") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    auto r = reserve(h, key, 10);
    REQUIRE(r);
    Reservation held = std::move(*r);
    CHECK(held.active());
    CHECK_FALSE(r->active());
    auto twice = settle(h, std::move(*r));
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code == Errc::invalid_argument);
    REQUIRE(settle(h, std::move(held)));
    CHECK(view(h, key)->allowance_remaining == 90);
    CHECK(view(h, key)->pending == 0);
}

TEST_CASE("a restarted service sees the committed balances") {
    TempDir dir;
    auto key = org_key("Gemini");
    {
        QuotaHarness h((dir.path() / "token.db"));
        allocate(h, key, 1000);
        credit(h, key, 200);
        spend(h, key, 1100);
    }
    QuotaHarness again((dir.path() / "token.db"));
    auto v = view(again, key);
    REQUIRE(v);
    CHECK(v->allowance_remaining == 0);
    CHECK(v->purchased_remaining == 100);
    CHECK(v->total() == 1200);
    CHECK(again.outbox_rows() == 1);
}

TEST_CASE("provider names are stored lower-case and looked up case-insensitively") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto upper = user_key("OpenAI");
    allocate(h, upper, 10);
    auto lower = upper;
    lower.provider = "openai";
    CHECK(view(h, lower)->allowance == 10);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_pools WHERE provider = 'openai'") == 1);
}

TEST_CASE("credits and allowances that would overflow 64 bits are refused") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    credit(h, key, kMax);
    auto more = run(h.quota->credit_purchase(key, 1, h.clock.now()));
    REQUIRE_FALSE(more);
    CHECK(more.error().code == Errc::invalid_argument);
    auto allowance = run(h.quota->set_allowance(key, 1, std::nullopt, h.clock.now()));
    REQUIRE_FALSE(allowance);
    CHECK(allowance.error().code == Errc::invalid_argument);
    auto negative = run(h.quota->set_allowance(key, -1, std::nullopt, h.clock.now()));
    REQUIRE_FALSE(negative);
    CHECK(negative.error().code == Errc::invalid_argument);
    CHECK(view(h, key)->total() == kMax);
    CHECK(h.stored(key)->balance.purchased_total == kMax);
    spend(h, key, 2147483647);
    CHECK(view(h, key)->remaining() == kMax - 2147483647);
}

TEST_CASE("a purchase credited with the saga's own writes commits both together") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 10);
    auto row = usage_row(h.clock.now());
    row.event_type = "token.purchase.v1";
    auto extra = [row](ports::SqlSession& s) {
        std::array<BoundStatement, 1> st{bind_outbox_insert(row)};
        return run_statements(s, st);
    };
    REQUIRE(run(h.quota->credit_purchase(key, 40, h.clock.now(), extra)));
    CHECK(view(h, key)->remaining() == 50);
    CHECK(h.stored(key)->balance.purchased_remaining == 40);
    CHECK(h.outbox_rows() == 1);

    auto failing = [](ports::SqlSession&) -> Result<void> { return fail(Errc::conflict, "saga step refused"); };
    REQUIRE_FALSE(run(h.quota->credit_purchase(key, 40, h.clock.now(), failing)));
    CHECK(view(h, key)->remaining() == 50);
    CHECK(h.stored(key)->balance.purchased_remaining == 40);
}

TEST_CASE("a credit inside the caller's own transaction shows once the pool is invalidated") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    spend(h, key, 10);
    REQUIRE(h.db->transact_sync([&](ports::SqlSession& s) {
        return QuotaService::credit_purchase_in(s, key, 40, h.clock.now());
    }));
    CHECK(view(h, key)->purchased_remaining == 0);  // cached: under-reports until invalidated
    h.quota->invalidate(key);
    auto v = view(h, key);
    CHECK(v->purchased_total == 40);
    CHECK(v->remaining() == 130);

    auto fresh = org_key();  // no pool yet: the credit creates it
    CHECK_FALSE(view(h, fresh));
    REQUIRE(h.db->transact_sync([&](ports::SqlSession& s) {
        return QuotaService::credit_purchase_in(s, fresh, 5, h.clock.now());
    }));
    h.quota->invalidate(fresh);
    CHECK(view(h, fresh)->remaining() == 5);
}

TEST_CASE("record writes outbox rows alone") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    REQUIRE(run(h.quota->record({usage_row(h.clock.now()), usage_row(h.clock.now())})));
    REQUIRE(run(h.quota->record({})));
    CHECK(h.outbox_rows() == 2);
    CHECK(h.scalar("SELECT COUNT(*) FROM token_pools") == 0);
}

}  // namespace lt::token::test

namespace lt::token::test {

TEST_CASE("event ids are version-7 UUIDs that sort by creation time") {
    std::set<std::string> seen;
    std::string previous = new_event_id();
    for (int i = 0; i < 1000; ++i) {
        auto id = new_event_id();
        CHECK(is_uuid(id));
        CHECK(id[14] == '7');
        CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);
        CHECK(seen.insert(id).second);
        // The first 12 hex digits are the millisecond: never decreasing.
        CHECK(id.substr(0, 13) >= previous.substr(0, 13));
        previous = id;
    }
}

}  // namespace lt::token::test

namespace lt::token::test {

TEST_CASE("reserve_up_to takes as much as the pool has between min and max, and settle_partial gives the rest back") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto key = user_key();
    allocate(h, key, 100);
    auto a = run(h.quota->reserve_up_to(key, 10, 70, std::nullopt, h.clock.now()));
    REQUIRE(a);
    CHECK(a->tokens() == 70);
    auto b = run(h.quota->reserve_up_to(key, 10, 70, std::nullopt, h.clock.now()));
    REQUIRE(b);
    CHECK(b->tokens() == 30);  // lowered to what is left
    auto c = run(h.quota->reserve_up_to(key, 1, 5, std::nullopt, h.clock.now()));
    REQUIRE_FALSE(c);
    CHECK(c.error().code == Errc::payment_required);
    auto s = run(h.quota->settle_partial(std::move(*a), 25, {usage_row(h.clock.now())}, h.clock.now()));
    REQUIRE(s);
    auto d = run(h.quota->reserve_up_to(key, 40, 100, std::nullopt, h.clock.now()));
    REQUIRE(d);
    CHECK(d->tokens() == 45);  // the 45 unspent came back
    h.quota->release(std::move(*b));
    h.quota->release(std::move(*d));
    auto v = view(h, key);
    REQUIRE(v);
    CHECK(v->remaining() == 75);  // exactly the 25 settled were spent
    auto row = h.stored(key);
    REQUIRE(row);
    CHECK(row->balance.allowance_remaining == 75);
}

}  // namespace lt::token::test
