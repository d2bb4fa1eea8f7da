// The failed-login window script: its Lua (run by lua5.4 with a stub of redis.call, as Redis would)
// and its native C++ twin (run by the memory store) give the same replies and stored fields over a
// random sequence of checks, failures and resets, with the clock stepping both ways.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "login_limiter.hpp"

namespace {

struct Op {
    std::string key;
    std::vector<std::int64_t> args;  ///< op, now, window, cap, ttl
};

constexpr const char* kStub = R"lua(
local db = {}
local wrote, expired
redis = {}
function redis.call(cmd, key, ...)
  local a = {...}
  local h = db[key]
  if cmd == 'HMGET' then
    local r = {}
    for i = 1, #a do r[i] = (h and h[a[i]]) or false end
    return r
  elseif cmd == 'HSET' then
    if not h then h = {}; db[key] = h end
    for i = 1, #a, 2 do
      if type(a[i + 1]) == 'number' then h[a[i]] = string.format('%.14g', a[i + 1]) else h[a[i]] = a[i + 1] end
    end
    wrote = true
    return 0
  elseif cmd == 'PEXPIRE' then
    assert(a[1] == ARGV[#ARGV], 'PEXPIRE without the ttl argument')
    expired = true
    return 1
  end
  error('unsupported command ' .. tostring(cmd))
end
local chunk = assert(load(script, '=script'))
setmetatable(_G, {
  __newindex = function(_, name) error('script writes global ' .. tostring(name)) end,
  __index = function(_, name) error('script reads undefined global ' .. tostring(name)) end,
})
for _, op in ipairs(ops) do
  rawset(_G, 'KEYS', {op[1]})
  rawset(_G, 'ARGV', op[2])
  wrote, expired = false, false
  local reply = chunk()
  assert(wrote == expired, 'a write without PEXPIRE')
  local parts = {}
  for i, v in ipairs(reply) do parts[i] = string.format('%.17g', v) end
  local h = db[op[1]]
  local state = '-'
  if h then state = h.f0 .. ' ' .. h.f1 end
  print(table.concat(parts, ' ') .. ' | ' .. state)
end
)lua";

std::vector<Op> random_ops(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<Op> ops;
    std::int64_t now = 1'700'000'000'000;
    for (int i = 0; i < 2000; ++i) {
        const std::int64_t step = static_cast<std::int64_t>(rng() % 4000) - 500;  // mostly forward, sometimes back
        now += step;
        const std::int64_t r = static_cast<std::int64_t>(rng() % 10);
        const std::int64_t op = r < 5 ? 1 : r < 9 ? 3 : 2;
        const std::int64_t window = (rng() % 8 == 0) ? 1000 : 30000;
        const std::int64_t cap = 1 + static_cast<std::int64_t>(rng() % 6);
        std::string key = "k";  // (operator+ on a literal trips g++ 12's -Wrestrict)
        key += std::to_string(rng() % 3);
        ops.push_back(Op{key, {op, now, window, cap, window}});
    }
    return ops;
}

std::vector<std::string> run_native(const std::vector<Op>& ops, int& refused) {
    std::map<std::string, lt::ports::KvState> db;
    std::vector<std::string> out;
    const auto& script = lt::auth::LoginLimiter::script();
    for (const auto& op : ops) {
        auto& state = db[op.key];
        const std::vector<std::int64_t> args(op.args.begin(), op.args.end() - 1);  // the store appends no ttl
        auto reply = script.native(state, args);
        if (reply[0] == 0) ++refused;
        std::ostringstream line;
        for (std::size_t i = 0; i < reply.size(); ++i) line << (i ? " " : "") << reply[i];
        line << " | ";
        if (state.exists) line << state.fields[0] << " " << state.fields[1];
        else line << "-";
        out.push_back(line.str());
    }
    return out;
}

}  // namespace

TEST_CASE("the failed-login window script's Lua gives the same replies and state as its native twin") {
    if (std::system("command -v lua5.4 >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: lua5.4 is not installed (apt-get install -y lua5.4)");
        return;
    }
    std::string name = "lt_login_lua_";
    name += std::to_string(::getpid());
    const auto dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir);
    for (std::uint64_t seed : {1u, 2u}) {
        CAPTURE(seed);
        const auto ops = random_ops(seed);
        std::ostringstream driver;
        driver << "script = [===[" << lt::auth::LoginLimiter::script().lua << "]===]\nops = {\n";
        for (const auto& op : ops) {
            driver << "{'" << op.key << "', {";
            for (std::size_t i = 0; i < op.args.size(); ++i) driver << (i ? ", " : "") << "'" << op.args[i] << "'";
            driver << "}},\n";
        }
        driver << "}\n" << kStub;
        const auto script = dir / "driver.lua";
        const auto output = dir / "out.txt";
        std::ofstream(script) << driver.str();
        const std::string command = "lua5.4 '" + script.string() + "' > '" + output.string() + "' 2>&1";
        const int status = std::system(command.c_str());
        std::vector<std::string> lua;
        {
            std::ifstream in(output);
            for (std::string line; std::getline(in, line);) lua.push_back(line);
        }
        REQUIRE_MESSAGE(status == 0, (lua.empty() ? std::string("no output") : lua.back()));
        int refused = 0;
        const auto native = run_native(ops, refused);
        CHECK(refused > 50);
        REQUIRE(lua.size() == native.size());
        int mismatches = 0;
        for (std::size_t i = 0; i < native.size() && mismatches < 5; ++i) {
            if (lua[i] != native[i]) {
                ++mismatches;
                CAPTURE(i);
                CHECK(lua[i] == native[i]);
            }
        }
        CHECK(mismatches == 0);
    }
    std::filesystem::remove_all(dir);
}
