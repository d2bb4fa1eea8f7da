#pragma once
/// OrgService: organizations and their members (CONTRACT 19), stored in token_orgs and
/// token_org_members and cached in memory.
///
/// Caching: an org (or its absence) is read from SQL on first use, then kept; writes go to SQL first
/// and then to the cache (write-through). This module is the only writer, so the cache stays exact in
/// ONE process; several replicas sharing a database would need invalidation (a later issue). Absent
/// orgs are cached too, at most kMaxAbsent of them (then they are forgotten all at once).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "lt/core/blocking_pool.hpp"
#include "lt/core/result.hpp"
#include "lt/ports/sql_database.hpp"

namespace lt::token {

/// An organization.
struct Org {
    std::string org_id;  ///< UUID (lower-case)
    std::string name;
    std::chrono::system_clock::time_point created_at;
};

/// Thread-safe: any thread or coroutine may call every member; callers resume on their own
/// executor. All SQL runs on the blocking pool. Ids are compared exactly (pass canonical UUIDs).
class OrgService {
public:
    /// Absent orgs remembered at most (a bound against lookups of random ids).
    static constexpr std::size_t kMaxAbsent = 10000;

    /// `db` and `blocking` must outlive the service.
    OrgService(ports::SqlDatabase& db, BlockingPool& blocking);

    /// Creates an org with `org_id` (or a new UUID when absent). Errc::conflict `org already exists`.
    boost::asio::awaitable<Result<Org>> create(std::string name, std::optional<std::string> org_id,
                                               std::chrono::system_clock::time_point now =
                                                   std::chrono::system_clock::now());

    /// Adds a member; adding an existing member succeeds (idempotent). Errc::not_found `org not found`.
    /// Whether `user_id` is a registered user is the caller's check.
    boost::asio::awaitable<Result<void>> add_member(std::string org_id, std::string user_id,
                                                    std::chrono::system_clock::time_point now =
                                                        std::chrono::system_clock::now());

    /// Removes a member. Errc::not_found `org not found` or `member not found`.
    boost::asio::awaitable<Result<void>> remove_member(std::string org_id, std::string user_id);

    /// The members' user ids in ascending order. Errc::not_found `org not found`.
    boost::asio::awaitable<Result<std::vector<std::string>>> members(std::string org_id);

    /// The org, or nullopt when it does not exist.
    boost::asio::awaitable<Result<std::optional<Org>>> find(std::string org_id);

    /// True when the org exists.
    boost::asio::awaitable<Result<bool>> exists(std::string org_id);

    /// True when the org exists and `user_id` is one of its members.
    boost::asio::awaitable<Result<bool>> is_member(std::string org_id, std::string user_id);

    /// Orgs held in memory (existing and absent ones). Any thread.
    std::size_t cached_orgs() const;

private:
    /// An immutable snapshot of one org; replaced (copy-on-write) by writes.
    struct Cached {
        bool exists = false;
        Org org;
        std::set<std::string> members;
    };
    using Snapshot = std::shared_ptr<const Cached>;

    /// The cached snapshot of `org_id`, read from SQL when not cached.
    boost::asio::awaitable<Result<Snapshot>> lookup(std::string org_id);
    /// Caches `snapshot` unless a write happened since `seen` (the read may be older than it).
    void install(const std::string& org_id, Snapshot snapshot, std::uint64_t seen);
    /// Applies a committed write to the cached snapshot, if cached.
    void write_through(const std::string& org_id, const std::function<void(Cached&)>& change);

    ports::SqlDatabase& db_;
    BlockingPool& blocking_;
    mutable std::mutex mutex_;  ///< guards cache_, absent_ and version_
    std::unordered_map<std::string, Snapshot> cache_;
    std::size_t absent_ = 0;     ///< snapshots in cache_ with exists == false
    std::uint64_t version_ = 0;  ///< bumped by every committed write
};

}  // namespace lt::token
