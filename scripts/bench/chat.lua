-- wrk script for scripts/bench/chat.sh: POST a chat body with an X-Api-Key header that cycles over
-- many distinct keys. chat.sh creates the keys through the auth API and passes the file (one key a
-- line) in LT_BENCH_KEYS_FILE; without it the keys are synthetic (bench-key-0000 .. bench-key-0999).
-- The requests are formatted once in init(), so request() costs the load generator almost nothing.
-- No response() callback on purpose: defining one makes wrk hand every response to Lua, which would
-- slow the load generator down on a 2-core machine. wrk itself counts statuses >= 400
-- ("Non-2xx or 3xx responses").

local PATH = os.getenv("LT_BENCH_PATH") or "/api/v1/openai/chat"
local BODY = '{"prompt":"Hello from the benchmark"}'

local function load_keys()
   local keys = {}
   local file_name = os.getenv("LT_BENCH_KEYS_FILE")
   if file_name and file_name ~= "" then
      local f = assert(io.open(file_name, "r"))
      for line in f:lines() do
         if line ~= "" then keys[#keys + 1] = line end
      end
      f:close()
      assert(#keys > 0, "no keys in " .. file_name)
   else
      for k = 0, 999 do keys[#keys + 1] = string.format("bench-key-%04d", k) end
   end
   return keys
end

local requests = {}
local i = 0
local threads = 0

-- Runs in the main Lua state once per thread: start each thread at a different key.
function setup(thread)
   thread:set("first_key", threads * 499)
   threads = threads + 1
end

function init(args)
   for _, key in ipairs(load_keys()) do
      requests[#requests + 1] = wrk.format("POST", PATH, {
         ["Content-Type"] = "application/json",
         ["X-Api-Key"] = key,
      }, BODY)
   end
   i = (first_key or 0) % #requests
end

function request()
   i = i % #requests + 1
   return requests[i]
end
