// OrgService: creation, conflicts, membership, cache coherence across restarts.
#include "quota_harness.hpp"

namespace lt::token::test {
namespace {

Org create(QuotaHarness& h, std::string name, std::optional<std::string> id = std::nullopt) {
    auto r = run(h.orgs->create(std::move(name), std::move(id), h.clock.now()));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return *r;
}

}  // namespace

TEST_CASE("an org is created with a given or a new id and a second create of that id conflicts") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto given = new_uuid();
    auto org = create(h, "Acme", given);
    CHECK(org.org_id == given);
    CHECK(org.name == "Acme");
    CHECK(org.created_at == h.clock.now());
    CHECK(is_uuid(create(h, "Other").org_id));

    auto again = run(h.orgs->create("Acme again", given, h.clock.now()));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::conflict);
    CHECK(again.error().message == "org already exists");

    auto found = run(h.orgs->find(given));
    REQUIRE(found);
    REQUIRE(*found);
    CHECK((*found)->name == "Acme");
}

TEST_CASE("an org looked up before it exists is found once created") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto id = new_uuid();
    CHECK_FALSE(*run(h.orgs->exists(id)));  // cached as absent
    create(h, "Later", id);
    CHECK(*run(h.orgs->exists(id)));
    auto members = run(h.orgs->members(id));
    REQUIRE(members);
    CHECK(members->empty());
}

TEST_CASE("members are added idempotently, listed in order and removed once") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto org = create(h, "Acme");
    auto alice = "aaaaaaaa-0000-4000-8000-000000000000";
    auto bob = "bbbbbbbb-0000-4000-8000-000000000000";
    REQUIRE(run(h.orgs->add_member(org.org_id, bob, h.clock.now())));
    REQUIRE(run(h.orgs->add_member(org.org_id, alice, h.clock.now())));
    REQUIRE(run(h.orgs->add_member(org.org_id, alice, h.clock.now())));  // idempotent
    auto members = run(h.orgs->members(org.org_id));
    REQUIRE(members);
    CHECK(*members == std::vector<std::string>{alice, bob});
    CHECK(*run(h.orgs->is_member(org.org_id, alice)));
    CHECK(h.scalar("SELECT COUNT(*) FROM token_org_members") == 2);

    REQUIRE(run(h.orgs->remove_member(org.org_id, alice)));
    CHECK_FALSE(*run(h.orgs->is_member(org.org_id, alice)));
    auto twice = run(h.orgs->remove_member(org.org_id, alice));
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code == Errc::not_found);
    CHECK(twice.error().message == "member not found");
}

TEST_CASE("membership operations on an org that does not exist answer org not found") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto missing = new_uuid();
    auto user = new_uuid();
    for (auto r : {run(h.orgs->add_member(missing, user, h.clock.now())), run(h.orgs->remove_member(missing, user))}) {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::not_found);
        CHECK(r.error().message == "org not found");
    }
    auto members = run(h.orgs->members(missing));
    REQUIRE_FALSE(members);
    CHECK(members.error().message == "org not found");
    CHECK_FALSE(*run(h.orgs->is_member(missing, user)));
    CHECK_FALSE(*run(h.orgs->find(missing)));
}

TEST_CASE("a restarted service reads orgs and members back from SQL") {
    TempDir dir;
    std::string id;
    auto user = new_uuid();
    {
        QuotaHarness h((dir.path() / "token.db"));
        id = create(h, "Acme").org_id;
        REQUIRE(run(h.orgs->add_member(id, user, h.clock.now())));
    }
    QuotaHarness again((dir.path() / "token.db"));
    CHECK(*run(again.orgs->is_member(id, user)));
    auto org = run(again.orgs->find(id));
    CHECK((*org)->name == "Acme");
    CHECK((*org)->created_at == again.clock.now());
}

TEST_CASE("absent orgs are remembered only up to a bound") {
    TempDir dir;
    QuotaHarness h((dir.path() / "token.db"));
    auto kept = create(h, "Kept").org_id;
    CHECK(*run(h.orgs->exists(kept)));
    for (std::size_t i = 0; i < OrgService::kMaxAbsent + 5; ++i) {
        auto op = h.orgs->exists(new_uuid());
        CHECK_FALSE(*run(std::move(op)));
    }
    CHECK(h.orgs->cached_orgs() <= OrgService::kMaxAbsent + 1);
    CHECK(*run(h.orgs->exists(kept)));
}

}  // namespace lt::token::test
