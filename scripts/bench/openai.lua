-- wrk script for scripts/bench/openai.sh: a non-streamed POST /v1/chat/completions with the API key of
-- LT_BENCH_KEY as a Bearer token and the model of LT_BENCH_MODEL, formatted once in init().
local MODEL = os.getenv("LT_BENCH_MODEL") or "openai/gpt-4o-mini"
local KEY = os.getenv("LT_BENCH_KEY") or "none"
local BODY = '{"model":"' .. MODEL .. '","max_tokens":16,"messages":[{"role":"user","content":"Hello from the benchmark"}]}'
local req

function init(args)
   req = wrk.format("POST", "/v1/chat/completions", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. KEY,
   }, BODY)
end

function request()
   return req
end
