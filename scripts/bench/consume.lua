-- wrk script for scripts/bench/consume.sh: POST /api/v1/tokens/consume (or, with LT_BENCH_MODE=chat,
-- POST /api/v1/openai/chat) cycling over the (userId, API key) pairs that consume.sh created through
-- the public API. Environment:
--   LT_BENCH_PAIRS_FILE   one "userId apiKey" pair a line (required)
--   LT_BENCH_MODE         consume (default) | chat
--   LT_BENCH_PATH         request path (default: /api/v1/tokens/consume, or /api/v1/openai/chat)
--   LT_BENCH_TOKENS       tokens per consume request (default 1)
--   LT_BENCH_COUNTS_FILE  if set, done() appends the admitted counts there (see below)
--
-- Admission is counted from the responses, not guessed: response() counts status 200 per thread and
-- attributes it to a user through the prompt the stub provider echoes back ("u<index>" in
-- providerResponse.received.prompt); done() sums the per-thread counters (setup() keeps every thread,
-- thread:get() reads its globals) and appends to LT_BENCH_COUNTS_FILE:
--   u <index> <count>      200 responses of the user on line <index> (0-based) of the pairs file
--   s <status> <count>     responses per status
--   x <count>              200 responses without a recognisable prompt (e.g. nginx's canned body)
--   d <microseconds>       wrk's measured duration
-- The requests are formatted once in init(). response() is defined, so wrk hands every response to
-- Lua: this costs the load generator the same on both sides (nginx and leaky-tokens).

local MODE = os.getenv("LT_BENCH_MODE") or "consume"
local PATH = os.getenv("LT_BENCH_PATH")
if not PATH or PATH == "" then
   PATH = (MODE == "chat") and "/api/v1/openai/chat" or "/api/v1/tokens/consume"
end
local TOKENS = tonumber(os.getenv("LT_BENCH_TOKENS") or "1")

local function load_pairs()
   local pairs_ = {}
   local file_name = assert(os.getenv("LT_BENCH_PAIRS_FILE"), "LT_BENCH_PAIRS_FILE is not set")
   local f = assert(io.open(file_name, "r"))
   for line in f:lines() do
      local user_id, key = line:match("^(%S+)%s+(%S+)")
      if user_id then pairs_[#pairs_ + 1] = { user_id = user_id, key = key } end
   end
   f:close()
   assert(#pairs_ > 0, "no pairs in " .. file_name)
   return pairs_
end

-- Main state: remember the threads to collect their counters in done().
local threads = {}
function setup(thread)
   thread:set("first_pair", #threads * 499)
   threads[#threads + 1] = thread
end

-- Thread state (globals, so that thread:get can read them).
requests = {}
ok = 0
unattributed = 0
per_user = {}
statuses = {}
local i = 0

function init(args)
   for index, p in ipairs(load_pairs()) do
      local body
      if MODE == "chat" then
         body = string.format('{"prompt":"u%d"}', index - 1)
      else
         body = string.format('{"userId":"%s","provider":"openai","tokens":%d,"prompt":"u%d"}',
                              p.user_id, TOKENS, index - 1)
      end
      requests[#requests + 1] = wrk.format("POST", PATH, {
         ["Content-Type"] = "application/json",
         ["X-Api-Key"] = p.key,
      }, body)
   end
   i = (first_pair or 0) % #requests
end

function request()
   i = i % #requests + 1
   return requests[i]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 200 then
      ok = ok + 1
      local u = body:match('"prompt":"u(%d+)"')
      if u then
         u = tonumber(u)
         per_user[u] = (per_user[u] or 0) + 1
      else
         unattributed = unattributed + 1
      end
   end
end

function done(summary, latency, requests_)
   local users, codes, total_ok, total_x = {}, {}, 0, 0
   for _, t in ipairs(threads) do
      total_ok = total_ok + (t:get("ok") or 0)
      total_x = total_x + (t:get("unattributed") or 0)
      for u, n in pairs(t:get("per_user") or {}) do users[u] = (users[u] or 0) + n end
      for s, n in pairs(t:get("statuses") or {}) do codes[s] = (codes[s] or 0) + n end
   end
   io.write(string.format("lt-counts: 200=%d unattributed=%d", total_ok, total_x))
   for s, n in pairs(codes) do io.write(string.format(" status%d=%d", s, n)) end
   io.write("\n")
   local out_name = os.getenv("LT_BENCH_COUNTS_FILE")
   if out_name and out_name ~= "" then
      local f = assert(io.open(out_name, "a"))
      for u, n in pairs(users) do f:write(string.format("u %d %d\n", u, n)) end
      for s, n in pairs(codes) do f:write(string.format("s %d %d\n", s, n)) end
      f:write(string.format("x %d\n", total_x))
      f:write(string.format("d %d\n", summary.duration))
      f:close()
   end
end
