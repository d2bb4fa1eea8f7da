// The Lua text of every limiter script against its native C++ twin: a random sequence of operations
// (all six scripts, shared keys, tier and strategy changes, clock steps both ways, extreme bounds) is
// run natively and, through lua5.4 with a stub of redis.call, as Lua; replies and stored fields must
// be identical. The stub stores what Redis would (a bare Lua number becomes a "%.14g" string) and
// checks that every write is followed by PEXPIRE with the ttl argument.

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

#include "limiter/rate_limiter.hpp"
#include "limiter_script_ops.hpp"

namespace {

using lt::token::testing::Coverage;
using lt::token::testing::Operation;
using lt::token::testing::random_operations;
using lt::token::testing::run_native;
using lt::token::testing::script_of;

constexpr const char* kStub = R"lua(
local db = {}
local wrote, expired
local function stored(v)
  if type(v) == 'number' then return string.format('%.14g', v) end
  return v
end
redis = {}
function redis.call(cmd, key, ...)
  local a = {...}
  local h = db[key]
  if cmd == 'HMGET' then
    local r = {}
    for i = 1, #a do r[i] = (h and h[a[i]]) or false end
    return r
  elseif cmd == 'HGET' then
    return (h and h[a[1]]) or false
  elseif cmd == 'HSET' then
    if not h then h = {}; db[key] = h end
    local added = 0
    for i = 1, #a, 2 do
      if h[a[i]] == nil then added = added + 1 end
      h[a[i]] = stored(a[i + 1])
    end
    wrote = true
    return added
  elseif cmd == 'EXISTS' then
    return h and 1 or 0
  elseif cmd == 'PEXPIRE' then
    if not h then return 0 end
    assert(a[1] == ARGV[#ARGV], 'PEXPIRE without the ttl argument')
    expired = true
    return 1
  end
  error('unsupported command ' .. tostring(cmd))
end
local chunks = {}
for i, text in ipairs(scripts) do chunks[i] = assert(load(text, '=script' .. i)) end
-- Like Redis, refuse scripts that create or read undefined globals.
setmetatable(_G, {
  __newindex = function(_, name) error('script writes global ' .. tostring(name)) end,
  __index = function(_, name) error('script reads undefined global ' .. tostring(name)) end,
})
for _, op in ipairs(ops) do
  rawset(_G, 'KEYS', {op[2]})
  rawset(_G, 'ARGV', op[3])
  wrote, expired = false, false
  local reply = chunks[op[1]]()
  assert(wrote == expired, 'a write without PEXPIRE')
  local parts = {}
  for i, v in ipairs(reply) do parts[i] = string.format('%.17g', v) end
  local h = db[op[2]]
  local state = '-'
  if h then state = h.f0 .. ' ' .. h.f1 .. ' ' .. h.f2 .. ' ' .. h.f3 end
  print(table.concat(parts, ' ') .. ' | ' .. state)
end
)lua";

std::string lua_driver(const std::vector<Operation>& ops) {
    std::ostringstream out;
    out << "scripts = {\n";
    for (int i = 0; i < 6; ++i) out << "[===[" << script_of(i).lua << "]===],\n";
    out << "}\nops = {\n";
    for (const auto& op : ops) {
        out << "{" << op.script + 1 << ", '" << op.key << "', {";
        for (std::size_t i = 0; i < op.args.size(); ++i) out << (i ? ", " : "") << "'" << op.args[i] << "'";
        out << "}},\n";
    }
    out << "}\n" << kStub;
    return out.str();
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

TEST_CASE("every limiter script's Lua gives the same replies and state as its native twin") {
    if (std::system("command -v lua5.4 >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: lua5.4 is not installed (apt-get install -y lua5.4)");
        return;
    }
    std::string name = "lt_limiter_lua_";
    name += std::to_string(::getpid());
    const auto dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir);
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(seed);
        const auto ops = random_operations(seed);
        const auto script = dir / "driver.lua";
        const auto output = dir / "out.txt";
        std::ofstream(script) << lua_driver(ops);
        const std::string command = "lua5.4 '" + script.string() + "' > '" + output.string() + "' 2>&1";
        const int status = std::system(command.c_str());
        const auto lua = read_lines(output);
        REQUIRE_MESSAGE(status == 0, (lua.empty() ? std::string("no output") : lua.back()));
        Coverage coverage;
        const auto native = run_native(ops, coverage);
        CHECK(coverage.allowed > 100);
        CHECK(coverage.denied > 100);
        CHECK(coverage.denied_forever > 10);
        CHECK(coverage.refunds_applied > 100);
        REQUIRE(lua.size() == native.size());
        int mismatches = 0;
        for (std::size_t i = 0; i < native.size() && mismatches < 5; ++i) {
            if (lua[i] != native[i]) {
                ++mismatches;
                CAPTURE(i);
                CAPTURE(ops[i].script);
                CHECK(lua[i] == native[i]);
            }
        }
        CHECK(mismatches == 0);
    }
    std::filesystem::remove_all(dir);
}
