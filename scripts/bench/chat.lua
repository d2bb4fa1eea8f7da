-- wrk script for scripts/bench/chat.sh: POST a chat body with an X-Api-Key header that cycles over
-- KEYS distinct keys (bench-key-0000 .. bench-key-0999). The requests are formatted once in init(), so
-- request() costs the load generator almost nothing. No response() callback on purpose: defining one
-- makes wrk hand every response to Lua, which would slow the load generator down on a 2-core machine.
-- Status codes >= 400 are counted by wrk itself ("Non-2xx or 3xx responses").

local KEYS = tonumber(os.getenv("LT_BENCH_KEYS") or "1000")
local PATH = os.getenv("LT_BENCH_PATH") or "/api/v1/openai/chat"
local BODY = '{"prompt":"Hello from the benchmark"}'

local requests = {}
local i = 0
local threads = 0

-- Runs in the main Lua state once per thread: start each thread at a different key.
function setup(thread)
   thread:set("first_key", threads * 499)
   threads = threads + 1
end

function init(args)
   for k = 1, KEYS do
      requests[k] = wrk.format("POST", PATH, {
         ["Content-Type"] = "application/json",
         ["X-Api-Key"] = string.format("bench-key-%04d", k - 1),
      }, BODY)
   end
   i = (first_key or 0) % KEYS
end

function request()
   i = i % KEYS + 1
   return requests[i]
end
