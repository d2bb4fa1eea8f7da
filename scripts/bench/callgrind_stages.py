#!/usr/bin/env python3
"""Per-request instruction budget by stage from callgrind dumps (one file per thread).
usage: callgrind_stages.py REQUESTS FILE... (scripts/bench/callgrind_consume.sh runs it)   Anchors: regex -> stage. Cost of an anchor = inclusive cost of the
function minus its calls into other anchors (coroutine actors do not include their child coroutines,
which asio resumes from its scheduler). Threads whose top function is a background loop are
attributed whole to that stage."""
import re, sys, collections
N = int(sys.argv[1])
ANCHORS = [
  ("parse (HTTP + JSON body)", r"basic_parser<true>::put|parse_json_object|parse_json\(|http::Request::Request\(lt::http::Request&&"),
  ("auth (API key)", r"Authenticator::by_api_key|AuthFilter::apply|sha256_hex"),
  ("edge limit (gateway)", r"EdgeLimitFilter::apply|EdgeLimiter::"),
  ("route/dispatch/bus", r"RouteFilter::apply|Router::match|DispatchFilter::apply|KernelDispatcher::handle|InProcessBus::call_named|bus::detail::invoke_command|Chain::next|TokenModule::consume\(lt::token::TokenModule::consume\(lt::http"),
  ("limiter (bucket)", r"RateLimiter::acquire|add_rate_headers"),
  ("quota reserve", r"QuotaLedger::reserve|QuotaService::reserve"),
  ("provider stub", r"ProviderService::call_stub|stub_reply|ProviderCaller::(invoke|call)\(lt::token::ProviderCaller"),
  ("usage event (outbox row)", r"token::usage_event|bind_outbox_insert|UsagePayload"),
  ("settle (hot path)", r"QuotaService::settle|settle_now|bind_balance_write"),
  ("consume handler (rest)", r"ConsumeService::consume\(lt::token::ConsumeService::consume\(|ConsumeService::consume\(lt::token::ConsumeInput"),
  ("response build + write", r"write_response|Response::json|set_standard_headers|Response::set_header|ResponseHeadersFilter|State::decorate|to_json_text"),
  ("access log", r"AccessLog|access_log"),
]
BG = [("settle/group commit (thread)", r"GroupCommitter::drain_loop"),
      ("outbox relay (thread)", r"OutboxRelay::run"),
      ("analytics ingest (thread)", r"EventConsumer::run"),
      ("access log (thread)", r"AccessLog|access_log")]
def parse(path):
    names = {}; self_cost = collections.Counter(); calls = collections.defaultdict(collections.Counter)
    fn = None; pending = None; total = 0
    def name_of(tok):
        m = re.match(r"\((\d+)\)(?: (.*))?", tok)
        if not m: return tok
        if m.group(2): names[m.group(1)] = m.group(2)
        return names.get(m.group(1), m.group(1))
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="): fn = name_of(line[3:]); continue
            if line.startswith("cfn="): pending = name_of(line[4:]); continue
            if line.startswith("calls="): continue
            if line.startswith(("summary:", "totals:")): total = int(line.split()[1]); continue
            if line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                if len(parts) >= 2 and fn is not None:
                    c = int(parts[1])
                    if pending is not None: calls[fn][pending] += c; pending = None
                    else: self_cost[fn] += c
                continue
            if line.startswith(("cfi=", "cfl=", "cob=")): continue
    incl = collections.Counter()
    for f_, c in self_cost.items(): incl[f_] += c
    for f_, cs in calls.items():
        for g, c in cs.items():
            if g != f_: incl[f_] += c
    return total, self_cost, calls, incl
stage_cost = collections.Counter(); grand = 0
for path in sys.argv[2:]:
    total, self_cost, calls, incl = parse(path)
    if total == 0: continue
    grand += total
    bg = None
    for st, rx in BG:
        if any(re.search(rx, f) and incl[f] > 0.5 * total for f in incl): bg = st; break
    if bg: stage_cost[bg] += total; continue
    anchored = 0
    for f, c in incl.items():
        st = next((s for s, rx in ANCHORS if re.match(r"(?:(?:lt|boost|beast|http|detail|gateway|token|providers|bus|cluster|crypto|\(anonymous namespace\))::)*(?:" + rx + ")", f)), None)
        if st is None: continue
        into = sum(cc for g, cc in calls[f].items() if g != f and any(re.match(r"(?:(?:lt|boost|beast|http|detail|gateway|token|providers|bus|cluster|crypto|\(anonymous namespace\))::)*(?:" + rx + ")", g) for _, rx in ANCHORS))
        stage_cost[st] += c - into; anchored += c - into
    stage_cost["HTTP server, coroutines, scheduler, alloc (rest of I/O threads)"] += total - anchored
print(f"| stage | Ir per request | share |\n|---|---:|---:|")
for st, c in sorted(stage_cost.items(), key=lambda x: -x[1]):
    print(f"| {st} | {c / N:,.0f} | {100 * c / grand:.1f} % |")
print(f"| **total** | **{grand / N:,.0f}** | 100 % |")
