#include "cli.hpp"

#include <iostream>
#include <sstream>

#include <boost/asio/io_context.hpp>

#include "adapter_factory.hpp"
#include "app.hpp"
#include "remote_config.hpp"
#include "lt/auth/auth.hpp"
#include "lt/core/blocking_pool.hpp"
#include "lt/core/clock.hpp"
#include "module_list.hpp"

namespace lt::app {

namespace {
constexpr const char* kUsage = R"(leaky-tokens — token gateway for AI APIs

Usage:
  leaky-tokens serve [--config FILE] [--profile NAME] [--modules a,b,...] [--set key=value]...
  leaky-tokens config check FILE
  leaky-tokens user create --username U --password P [--email E] [--admin] [--config FILE] [--set key=value]...
  leaky-tokens version
  leaky-tokens help

serve          host the modules (all by default) and listen on server.port (8080)
  --config     YAML file merged over the embedded defaults (also: LEAKY_CONFIG)
  --profile    overlay profiles/NAME.yaml
  --modules    comma-separated module names to host
  --set        override one dotted key, repeatable (also: LEAKY_SET="k=v;k=v")
config check   validate a partial YAML file merged over the defaults
user create    create a user in the configured database, or update its password (prints the user id)
  --email      default <username>@localhost
  --admin      grant ADMIN as well as USER
version        print the version and the compiled-in adapters
)";

int usage_error(const std::string& msg) {
    std::cerr << "error: " << msg << "\n\n" << kUsage;
    return 2;
}

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
    if (args.size() != 3 || args[1] != "check") return usage_error("usage: leaky-tokens config check FILE");
    auto r = config::check_file(full_schema(), args[2]);
    if (!r) {
        std::cerr << "configuration errors in " << args[2] << ":\n" << r.error().message << "\n";
        return 1;
    }
    std::cout << args[2] << ": ok\n";
    return 0;
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
