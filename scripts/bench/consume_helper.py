#!/usr/bin/env python3
"""Helper of scripts/bench/consume.sh (standard library only).

seed:  log in as the bootstrap admin, register N users in parallel (bcrypt makes each register cost
       ~50 ms of server CPU), create one API key per user with the user's own token, allocate each
       user's openai quota with the admin token, and write "userId apiKey" lines (line i = user i).
check: after the runs, compare the tokens admitted according to wrk (consume.lua's counts files,
       one per wrk invocation, plus the probe) with the limits (quota, leaky bucket) and with what
       the server debited (funded - remainingTokens from GET /api/v1/tokens/quota); print markdown
       bullet lines and a last line "STATUS ok" or "STATUS fail: ...".
"""
import argparse
import concurrent.futures
import glob
import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(base, method, path, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def admin_token(base):
    status, body = call(base, "POST", "/api/v1/auth/login",
                        {"username": "root", "password": "root-password-1"})
    if status != 200 or "token" not in body:
        sys.exit(f"consume_helper: admin login answered {status}: {body}")
    return body["token"]


def seed(args):
    started = time.monotonic()
    admin = admin_token(args.base)

    def one(i):
        name = f"{args.name_prefix}-{i}"
        status, reg = call(args.base, "POST", "/api/v1/auth/register",
                           {"username": name, "email": f"{name}@localhost",
                            "password": f"bench-password-{i}"})
        if status != 201:
            raise RuntimeError(f"register {name}: {status} {reg}")
        user_id, token = reg["userId"], reg["token"]
        status, key = call(args.base, "POST", "/api/v1/auth/api-keys", {"userId": user_id},
                           {"Authorization": f"Bearer {token}"})
        if status != 201:
            raise RuntimeError(f"api-key {name}: {status} {key}")
        status, quota = call(args.base, "PUT", "/api/v1/tokens/quota",
                             {"userId": user_id, "provider": "openai",
                              "allowanceTokens": args.allowance},
                             {"Authorization": f"Bearer {admin}"})
        if status != 200 or quota.get("remainingTokens") != args.allowance:
            raise RuntimeError(f"quota {name}: {status} {quota}")
        return user_id, key["apiKey"]

    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        pairs = list(pool.map(one, range(args.users)))
    with open(args.out, "w") as f:
        for user_id, key in pairs:
            f.write(f"{user_id} {key}\n")
    print(f"{args.users} user(s) (API key, quota {args.allowance}) in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)


def read_counts(pattern):
    """Sum consume.lua counts files: per-user 200s, per-file totals and durations."""
    per_user, files = {}, []
    for name in sorted(glob.glob(pattern)):
        total, duration = 0, None
        with open(name) as f:
            for line in f:
                parts = line.split()
                if parts[0] == "u":
                    per_user[int(parts[1])] = per_user.get(int(parts[1]), 0) + int(parts[2])
                    total += int(parts[2])
                elif parts[0] == "d":
                    duration = int(parts[1]) / 1e6
        files.append((os.path.basename(name), total, duration))
    return per_user, files


def check(args):
    with open(args.pairs) as f:
        users = [line.split()[0] for line in f if line.strip()]
    per_user, files = read_counts(args.counts)
    admin = admin_token(args.base)

    retried = []

    def remaining(user_id):
        # A 502/503/504 is a hop that failed (split mode: the gateway's proxy), not an answer about
        # the quota: retried for up to 10 s, and the retries are reported.
        for attempt in range(40):
            status, body = call(args.base, "GET",
                                f"/api/v1/tokens/quota?userId={user_id}&provider=openai",
                                headers={"Authorization": f"Bearer {admin}"})
            if status not in (502, 503, 504):
                break
            retried.append(f"{status} {body.get('message', '')}")
            time.sleep(0.25)
        if status != 200:
            raise RuntimeError(f"quota of {user_id}: {status} {body}")
        return body["remainingTokens"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        remain = list(pool.map(remaining, users))

    admitted_total = sum(per_user.values())
    debited = [args.funded - r for r in remain]
    debited_total = sum(debited)
    unknown = sorted(u for u in per_user if u >= len(users))
    problems = []
    if unknown:
        problems.append(f"200s attributed to unknown user indexes {unknown[:5]}")

    # Overshoot against the quota (per user, from wrk's count and from the server's debit).
    quota_over = sum(max(0, per_user.get(i, 0) - args.funded) for i in range(len(users)))
    server_over = sum(max(0, d - args.funded) for d in debited)
    overshoot = quota_over + server_over
    lines = []

    # Overshoot against the leaky bucket: per wrk invocation (valid whatever the bucket held before:
    # a level cannot go below 0, so at most capacity + rate x elapsed can be admitted in elapsed)
    # and over the whole phase (first admission to the end of the last wrk).
    if args.capacity is not None:
        for name, total, duration in files:
            if duration is None:
                continue  # the probe
            bound = args.capacity + args.rate * (duration + 1)
            over = max(0, total - bound)
            overshoot += over
            lines.append(f"{name}: admitted {total} ≤ bound {bound:.0f} "
                         f"(capacity {args.capacity} + {args.rate:g}/s × ({duration:.2f} s + 1 s))"
                         f" → overshoot {over:.0f}")
        bound = min(args.capacity + args.rate * (args.phase_seconds + 1), args.funded)
        over = max(0, admitted_total - bound)
        overshoot += over
        lines.append(f"whole phase ({args.phase_seconds:.1f} s incl. warm-ups and the probe): admitted "
                     f"{admitted_total} ≤ bound {bound:.0f} (min(capacity + rate × (elapsed + 1 s), "
                     f"quota {args.funded})) → overshoot {over:.0f}")

    diffs = [debited[i] - per_user.get(i, 0) for i in range(len(users))]
    mismatch = sum(diffs)
    mismatched_users = sum(1 for d in diffs if d != 0)
    negative = sum(d for d in diffs if d < 0)
    label = args.label
    print(f"- {label}: admitted (200s counted by wrk, all invocations incl. warm-ups and the probe) "
          f"**{admitted_total:,}** over {len(users):,} user(s), quota {args.funded:,} each; "
          f"server debited (funded − remainingTokens) **{debited_total:,}**; "
          f"**overshoot {overshoot:.0f}**; **mismatch (debited − admitted) {mismatch}** "
          f"({mismatched_users} user(s) differ, at most {args.inflight} requests could be in flight "
          f"when wrk stopped)")
    for line in lines:
        print(f"  - {line}")
    if retried:
        print(f"  - the quota reads were retried {len(retried)} time(s) after {sorted(set(retried))}")
    if overshoot > 0:
        problems.append(f"{label}: overshoot {overshoot:.0f}")
    if negative < 0:
        problems.append(f"{label}: the server debited {-negative} tokens fewer than wrk saw admitted")
    if mismatch > args.inflight:
        problems.append(f"{label}: mismatch {mismatch} exceeds the {args.inflight} requests that "
                        f"could have been in flight when wrk stopped")
    print("STATUS " + ("ok" if not problems else "fail: " + "; ".join(problems)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--base", required=True)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--allowance", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--name-prefix", default="bench-user")
    s.add_argument("--parallel", type=int, default=8)
    c = sub.add_parser("check")
    c.add_argument("--base", required=True)
    c.add_argument("--pairs", required=True)
    c.add_argument("--counts", required=True, help="glob of consume.lua counts files")
    c.add_argument("--funded", type=int, required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--inflight", type=int, required=True)
    c.add_argument("--capacity", type=int)
    c.add_argument("--rate", type=float)
    c.add_argument("--phase-seconds", type=float)
    args = p.parse_args()
    try:
        seed(args) if args.cmd == "seed" else check(args)
    except RuntimeError as e:
        sys.exit(f"consume_helper: {e}")


if __name__ == "__main__":
    main()
