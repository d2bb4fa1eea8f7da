#include "quota/org_service.hpp"

#include <functional>
#include <utility>

#include "lt/core/time.hpp"

namespace lt::token {

using ports::as_text;
using ports::SqlSession;
using ports::SqlValue;

namespace {

SqlValue text(std::string_view v) { return SqlValue(std::string(v)); }

Result<bool> org_exists(SqlSession& s, const std::string& org_id) {
    auto r = s.execute("SELECT 1 FROM token_orgs WHERE id = $1", {text(org_id)});
    if (!r) return fail(r.error());
    return !r->rows.empty();
}

}  // namespace

OrgService::OrgService(ports::SqlDatabase& db, BlockingPool& blocking) : db_(db), blocking_(blocking) {}

std::size_t OrgService::cached_orgs() const {
    std::lock_guard lock(mutex_);
    return cache_.size();
}

void OrgService::install(const std::string& org_id, Snapshot snapshot, std::uint64_t seen) {
    std::lock_guard lock(mutex_);
    if (version_ != seen || cache_.count(org_id)) return;
    if (!snapshot->exists) {
        if (absent_ >= kMaxAbsent) {
            std::erase_if(cache_, [](const auto& kv) { return !kv.second->exists; });
            absent_ = 0;
        }
        ++absent_;
    }
    cache_.emplace(org_id, std::move(snapshot));
}

void OrgService::write_through(const std::string& org_id, const std::function<void(Cached&)>& change) {
    std::lock_guard lock(mutex_);
    ++version_;
    auto it = cache_.find(org_id);
    if (it == cache_.end()) return;
    auto next = std::make_shared<Cached>(*it->second);
    const bool was_absent = !next->exists;
    change(*next);
    if (was_absent && next->exists) --absent_;
    it->second = std::move(next);
}

boost::asio::awaitable<Result<OrgService::Snapshot>> OrgService::lookup(std::string org_id) {
    std::uint64_t seen = 0;
    {
        std::lock_guard lock(mutex_);
        if (auto it = cache_.find(org_id); it != cache_.end()) co_return it->second;
        seen = version_;
    }
    auto loaded = std::make_shared<Cached>();
    auto op = blocking_.run([this, &org_id, &loaded] {
        return db_.transact_sync([&org_id, &loaded](SqlSession& s) -> Result<void> {
            auto org = s.execute("SELECT id, name, created_at FROM token_orgs WHERE id = $1", {text(org_id)});
            if (!org) return fail(org.error());
            if (org->rows.empty()) return ok();
            const auto& row = org->rows.front();
            loaded->exists = true;
            loaded->org.org_id = as_text(row[0]).value_or(org_id);
            loaded->org.name = as_text(row[1]).value_or("");
            auto created = as_text(row[2]);
            loaded->org.created_at = (created ? parse_rfc3339(*created) : std::nullopt).value_or(
                std::chrono::system_clock::time_point{});
            auto members = s.execute("SELECT user_id FROM token_org_members WHERE org_id = $1", {text(org_id)});
            if (!members) return fail(members.error());
            for (const auto& m : members->rows) {
                if (auto id = as_text(m[0])) loaded->members.insert(std::move(*id));
            }
            return ok();
        });
    });
    auto read = co_await std::move(op);
    if (!read) co_return fail(read.error());
    Snapshot snapshot = std::move(loaded);
    install(org_id, snapshot, seen);
    co_return snapshot;
}

boost::asio::awaitable<Result<Org>> OrgService::create(std::string name, std::optional<std::string> org_id,
                                                       std::chrono::system_clock::time_point now) {
    Org org{org_id ? std::move(*org_id) : new_uuid(), std::move(name), now};
    auto op = blocking_.run([this, &org] {
        return db_.transact_sync([&org](SqlSession& s) -> Result<void> {
            auto exists = org_exists(s, org.org_id);
            if (!exists) return fail(exists.error());
            if (*exists) return fail(Errc::conflict, "org already exists");
            auto r = s.execute("INSERT INTO token_orgs (id, name, created_at) VALUES ($1, $2, $3)",
                               {text(org.org_id), text(org.name), SqlValue(format_rfc3339(org.created_at))});
            if (!r) {
                if (r.error().code == Errc::conflict) return fail(Errc::conflict, "org already exists");
                return fail(r.error());
            }
            return ok();
        });
    });
    auto done = co_await std::move(op);
    if (!done) co_return fail(done.error());
    write_through(org.org_id, [&org](Cached& c) {
        c.exists = true;
        c.org = org;
        c.members.clear();
    });
    co_return org;
}

boost::asio::awaitable<Result<void>> OrgService::add_member(std::string org_id, std::string user_id,
                                                            std::chrono::system_clock::time_point now) {
    auto op = blocking_.run([this, &org_id, &user_id, now] {
        return db_.transact_sync([&org_id, &user_id, now](SqlSession& s) -> Result<void> {
            auto exists = org_exists(s, org_id);
            if (!exists) return fail(exists.error());
            if (!*exists) return fail(Errc::not_found, "org not found");
            auto r = s.execute(
                "INSERT INTO token_org_members (org_id, user_id, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (org_id, user_id) DO NOTHING",
                {text(org_id), text(user_id), SqlValue(format_rfc3339(now))});
            if (!r) return fail(r.error());
            return ok();
        });
    });
    auto done = co_await std::move(op);
    if (!done) co_return fail(done.error());
    write_through(org_id, [&user_id](Cached& c) { c.members.insert(user_id); });
    co_return ok();
}

boost::asio::awaitable<Result<void>> OrgService::remove_member(std::string org_id, std::string user_id) {
    auto op = blocking_.run([this, &org_id, &user_id] {
        return db_.transact_sync([&org_id, &user_id](SqlSession& s) -> Result<void> {
            auto r = s.execute("DELETE FROM token_org_members WHERE org_id = $1 AND user_id = $2",
                               {text(org_id), text(user_id)});
            if (!r) return fail(r.error());
            if (r->affected > 0) return ok();
            auto exists = org_exists(s, org_id);
            if (!exists) return fail(exists.error());
            return fail(Errc::not_found, *exists ? "member not found" : "org not found");
        });
    });
    auto done = co_await std::move(op);
    if (!done) co_return fail(done.error());
    write_through(org_id, [&user_id](Cached& c) { c.members.erase(user_id); });
    co_return ok();
}

boost::asio::awaitable<Result<std::vector<std::string>>> OrgService::members(std::string org_id) {
    auto op = lookup(std::move(org_id));
    auto snap = co_await std::move(op);
    if (!snap) co_return fail(snap.error());
    if (!(*snap)->exists) co_return fail(Errc::not_found, "org not found");
    co_return std::vector<std::string>((*snap)->members.begin(), (*snap)->members.end());
}

boost::asio::awaitable<Result<std::optional<Org>>> OrgService::find(std::string org_id) {
    auto op = lookup(std::move(org_id));
    auto snap = co_await std::move(op);
    if (!snap) co_return fail(snap.error());
    if (!(*snap)->exists) co_return std::optional<Org>();
    co_return std::optional<Org>((*snap)->org);
}

boost::asio::awaitable<Result<bool>> OrgService::exists(std::string org_id) {
    auto op = lookup(std::move(org_id));
    auto snap = co_await std::move(op);
    if (!snap) co_return fail(snap.error());
    co_return (*snap)->exists;
}

boost::asio::awaitable<Result<bool>> OrgService::is_member(std::string org_id, std::string user_id) {
    auto op = lookup(std::move(org_id));
    auto snap = co_await std::move(op);
    if (!snap) co_return fail(snap.error());
    co_return (*snap)->exists && (*snap)->members.count(user_id) > 0;
}

}  // namespace lt::token
