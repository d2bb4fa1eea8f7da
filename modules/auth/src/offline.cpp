// `leaky-tokens user create`: user management without a running server.
#include "lt/auth/auth.hpp"
#include "lt/core/clock.hpp"
#include "lt/ports/sql_database.hpp"
#include "user_service.hpp"

namespace lt::auth {

Result<std::string> create_user_offline(const ModuleContext& ctx, std::string username, std::string email,
                                        std::string password, bool admin) {
    if (ctx.sql == nullptr) return fail(Errc::internal, "create_user_offline needs the SQL database");
    auto migrated = ports::run_migrations(*ctx.sql, "auth", ports::embedded_migrations("auth", ctx.sql->dialect()));
    if (!migrated) return fail(migrated.error());
    SystemClock system;
    const auto now = ctx.clock != nullptr ? ctx.clock->now() : system.now();
    return upsert_user(*ctx.sql, now, username, email, password, admin);
}

}  // namespace lt::auth
