#include "cli.hpp"

#include <iostream>
#include <map>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "adapter_factory.hpp"
#include "app.hpp"
#include "cli_admin.hpp"
#include "cli_common.hpp"
#include "cli_port.hpp"
#include "lt/ports/sql_database.hpp"
#include "remote_config.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "module_list.hpp"

namespace lt::app {

int usage_error(const std::string& msg) {
    std::cerr << "error: " << msg << "\nrun 'leaky-tokens help' for the commands and options\n";
    return kExitUsage;
}

namespace {
constexpr const char* kUsage = R"(leaky-tokens — token gateway for AI APIs

Usage:
  leaky-tokens serve [--config FILE] [--profile NAME] [--modules a,b,...] [--set key=value]...
  leaky-tokens config check [FILE] [--profile NAME] [--set key=value]...
  leaky-tokens user create --username U --password P [--email E] [--admin] [--config FILE] [--set key=value]...
  leaky-tokens users list [--config FILE] [--set key=value]...           (offline, on the data dir)
  leaky-tokens users grant|revoke --user ID --role ADMIN|USER
  leaky-tokens keys create --user ID [--name N] [--expires RFC3339] | keys list --user ID | keys revoke --user ID --key ID
  leaky-tokens quotas show --user ID|--org ID --provider P | quotas allocate --user ID|--org ID --provider P --tokens N
  leaky-tokens orgs create --name N | orgs members add|remove --org ID --user ID | orgs members list --org ID
  leaky-tokens purchases show SAGA_ID
  leaky-tokens version
  leaky-tokens help

serve          host the modules (all by default) and listen on server.port (8080)
  --config     YAML file merged over the embedded defaults (also: LEAKY_CONFIG)
  --profile    overlay profiles/NAME.yaml (built in: production)
  --modules    comma-separated module names to host
  --set        override one dotted key, repeatable (also: LEAKY_SET="k=v;k=v")
config check   validate the whole configuration (defaults, FILE, --profile, --set) without starting
user create    create a user in the configured database, or update its password (prints the user id)
  --email      default <username>@localhost
  --admin      grant ADMIN as well as USER
users, keys, quotas, orgs, purchases
               admin verbs against a running server over its public API:
  --url        the server (also: LEAKY_URL; default http://127.0.0.1:8080)
  --token      a JWT or API key (better: LEAKY_TOKEN, which stays out of the process list)
  --json       print the server's JSON instead of key: value lines
               exit codes: 0 ok, 1 refused, 2 usage error, 3 unreachable, 4 not authenticated or
               forbidden (401/403), 5 not found (404)
version        print the version and the compiled-in adapters
)";

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

int serve(const std::vector<std::string>& args) {
    config::LoadOptions load;
    AppOptions opts;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto& a = args[i];
        auto value = [&](const char* flag) -> const std::string* {
            if (i + 1 >= args.size()) return nullptr;
            (void)flag;
            return &args[++i];
        };
        const std::string* v = nullptr;
        if (a == "--config") {
            if (!(v = value("--config"))) return usage_error("--config needs a file");
            load.file = *v;
        } else if (a == "--profile") {
            if (!(v = value("--profile"))) return usage_error("--profile needs a name");
            load.profile = *v;
            opts.profile = *v;
        } else if (a == "--modules") {
            if (!(v = value("--modules"))) return usage_error("--modules needs a list");
            opts.modules = split_commas(*v);
        } else if (a == "--set") {
            if (!(v = value("--set"))) return usage_error("--set needs key=value");
            if (v->find('=') == std::string::npos) return usage_error("--set needs key=value, got '" + *v + "'");
            load.overrides.push_back(*v);
        } else {
            return usage_error("unknown option '" + a + "'");
        }
    }
    auto cfg = config::load(full_schema(), load);
    opts.load = load;  // POST /actuator/refresh loads it again the same way (and re-fetches config.url)
    if (cfg && !cfg->get_string("config.url").empty()) {
        // CONTRACT 35: the config module's values go under this process's own --config, LEAKY_SET
        // and --set, so the configuration is loaded once more with them.
        auto remote = fetch_remote_config(*cfg, opts.profile);
        if (!remote) {
            std::cerr << "error: " << remote.error().message << "\n";
            return 1;
        }
        load.remote = std::move(*remote);
        cfg = config::load(full_schema(), load);
    }
    if (!cfg) {
        std::cerr << "configuration errors:\n" << cfg.error().message << "\n";
        return 1;
    }
    // Before any module opens the data directory (a running server's, if the port is its).
    if (auto problem = port_problem(cfg->get_string("server.address", "0.0.0.0"),
                                    static_cast<std::uint16_t>(cfg->get_int("server.port", 8080)))) {
        std::cerr << "error: " << *problem << "\n";
        return 1;
    }
    auto app = App::create(std::move(*cfg), opts);
    if (!app) {
        std::cerr << "error: " << app.error().message << "\n";
        return 1;
    }
    if (auto r = (*app)->start(); !r) {
        std::cerr << "error: " << r.error().message << "\n";
        return 1;
    }
    std::cerr << "leaky-tokens ready on port " << (*app)->port() << "\n";
    return (*app)->wait();
}

int config_command(const std::vector<std::string>& args) {
    if (args.size() < 2 || args[1] != "check") return usage_error("config needs 'check' (leaky-tokens config check [FILE] [--profile NAME])");
    config::LoadOptions load;
    std::string what;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--profile" || a == "--set" || a == "--config") {
            if (i + 1 >= args.size()) return usage_error(a + " needs a value");
            const auto& v = args[++i];
            if (a == "--profile") load.profile = v;
            else if (a == "--config") load.file = v;
            else load.overrides.push_back(v);
        } else if (a.rfind("--", 0) == 0) {
            return usage_error("unknown option '" + a + "'");
        } else if (!load.file) {
            load.file = a;
        } else {
            return usage_error("config check takes one FILE");
        }
    }
    if (load.file) what = load.file->string();
    if (load.profile) {
        if (!what.empty()) what.append(" + ");
        what.append("profile ").append(*load.profile);
    }
    if (what.empty()) what = "the defaults";
    if (load.file && !load.profile && load.overrides.empty()) {
        // A partial file alone: checked as written (its own keys and values), merged over the defaults.
        auto r = config::check_file(full_schema(), *load.file);
        if (!r) {
            std::cerr << "configuration errors in " << what << ":\n" << r.error().message << "\n";
            return kExitRefused;
        }
        std::cout << what << ": ok\n";
        return kExitOk;
    }
    auto cfg = config::load(full_schema(), load);
    if (!cfg) {
        std::cerr << "configuration errors in " << what << ":\n" << cfg.error().message << "\n";
        return kExitRefused;
    }
    std::cout << what << ": ok\n";
    return kExitOk;
}

/// `users list`: the users and their roles, read from the configured SQL store (a read-only
/// transaction, safe next to a running server). There is no public endpoint listing users.
int users_list(const std::vector<std::string>& args) {
    config::LoadOptions load;
    bool as_json = false;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--json") {
            as_json = true;
            continue;
        }
        if (i + 1 >= args.size()) return usage_error(a + " needs a value");
        const auto& v = args[++i];
        if (a == "--config") load.file = v;
        else if (a == "--profile") load.profile = v;
        else if (a == "--set") load.overrides.push_back(v);
        else return usage_error("unknown option '" + a + "'");
    }
    auto cfg = config::load(full_schema(), load);
    if (!cfg) {
        std::cerr << "configuration errors:\n" << cfg.error().message << "\n";
        return kExitRefused;
    }
    BlockingPool pool(1);
    SystemClock clock;
    boost::asio::io_context io;
    auto adapters = make_adapters(*cfg, pool, clock, io.get_executor());
    if (!adapters) {
        std::cerr << "error: " << adapters.error().message << "\n";
        return kExitRefused;
    }
    ports::SqlResult users, roles;
    auto r = adapters->sql->transact_sync([&](ports::SqlSession& s) -> Result<void> {
        auto u = s.execute("SELECT id, username, email, created_at FROM auth_users ORDER BY username");
        if (!u) return fail(u.error());
        auto ro = s.execute("SELECT ur.user_id, r.name FROM auth_user_roles ur JOIN auth_roles r ON r.id = ur.role_id ORDER BY r.name");
        if (!ro) return fail(ro.error());
        users = std::move(*u);
        roles = std::move(*ro);
        return ok();
    });
    if (!r) {
        std::cerr << "error: cannot read users: " << r.error().message << "\n";
        return kExitRefused;
    }
    std::map<std::string, std::vector<std::string>> by_user;
    for (const auto& row : roles.rows) by_user[ports::as_text(row[0]).value_or("")].push_back(ports::as_text(row[1]).value_or(""));
    boost::json::array out;
    for (const auto& row : users.rows) {
        const auto id = ports::as_text(row[0]).value_or("");
        boost::json::array rs;
        for (const auto& name : by_user[id]) rs.emplace_back(name);
        out.push_back(boost::json::object{{"userId", id}, {"username", ports::as_text(row[1]).value_or("")},
                                          {"email", ports::as_text(row[2]).value_or("")}, {"roles", std::move(rs)},
                                          {"createdAt", ports::as_text(row[3]).value_or("")}});
    }
    if (as_json) {
        std::cout << boost::json::serialize(out) << "\n";
        return kExitOk;
    }
    for (const auto& v : out) {
        const auto& o = v.as_object();
        std::string rs;
        for (const auto& x : o.at("roles").as_array()) {
            if (!rs.empty()) rs.push_back(',');
            rs.append(x.as_string().data(), x.as_string().size());
        }
        std::cout << std::string(o.at("userId").as_string()) << "  " << std::string(o.at("username").as_string()) << "  " << rs << "\n";
    }
    return kExitOk;
}

int user_command(const std::vector<std::string>& args) {
    if (args.size() < 2 || args[1] != "create") return usage_error("usage: leaky-tokens user create --username U --password P");
    config::LoadOptions load;
    std::string username, password, email;
    bool admin = false;
    for (std::size_t i = 2; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--admin") {
            admin = true;
            continue;
        }
        if (i + 1 >= args.size()) return usage_error(a + " needs a value");
        const auto& v = args[++i];
        if (a == "--username") username = v;
        else if (a == "--password") password = v;
        else if (a == "--email") email = v;
        else if (a == "--config") load.file = v;
        else if (a == "--set") {
            if (v.find('=') == std::string::npos) return usage_error("--set needs key=value, got '" + v + "'");
            load.overrides.push_back(v);
        } else {
            return usage_error("unknown option '" + a + "'");
        }
    }
    if (username.empty() || password.empty()) return usage_error("user create needs --username and --password");
    auto cfg = config::load(full_schema(), load);
    if (!cfg) {
        std::cerr << "configuration errors:\n" << cfg.error().message << "\n";
        return 1;
    }
    BlockingPool pool(1);
    SystemClock clock;
    // Never run: `user create` uses only the SQL store; a network key-value store just stays idle.
    boost::asio::io_context io;
    auto adapters = make_adapters(*cfg, pool, clock, io.get_executor());
    if (!adapters) {
        std::cerr << "error: " << adapters.error().message << "\n";
        return 1;
    }
    ModuleContext ctx;
    ctx.blocking = &pool;
    ctx.config = &*cfg;
    ctx.clock = &clock;
    ctx.sql = adapters->sql.get();
    auto id = auth::create_user_offline(ctx, username, email, password, admin);
    if (!id) {
        std::cerr << "error: " << id.error().message << "\n";
        return 1;
    }
    std::cout << *id << "\n";
    return 0;
}
}  // namespace

int run_cli(const std::vector<std::string>& args) {
    if (args.empty()) return usage_error("missing command");
    const auto& cmd = args[0];
    if (cmd == "serve") return serve(args);
    if (cmd == "config") return config_command(args);
    if (cmd == "user") return user_command(args);
    if (cmd == "users" && args.size() > 1 && args[1] == "list") return users_list(args);
    if (is_admin_command(cmd)) return run_admin_command(args);
    if (cmd == "version" || cmd == "--version") {
        std::cout << "leaky-tokens " << LT_VERSION << "\nadapters:";
        for (const auto& a : compiled_adapters()) std::cout << ' ' << a;
        std::cout << "\n";
        return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        std::cout << kUsage;
        return 0;
    }
    return usage_error("unknown command '" + cmd + "'");
}

}  // namespace lt::app
