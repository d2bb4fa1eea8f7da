#!/usr/bin/env python3
"""Seeds N users straight into a stopped `leaky-tokens serve` data dir (embedded profile, SQLite),
for scripts/bench/soak.sh: registering 100,000 users over HTTP would hash 100,000 passwords (bcrypt
cost 10, ~50 minutes on two cores). The rows are what the server itself writes:

  auth_users       like UserService::register_user + AuthStore::insert_user: a fresh UUID, the name, the
                   e-mail, a password hash, created_at = updated_at (format_rfc3339: fixed-width
                   "YYYY-MM-DDTHH:MM:SS.mmmZ"), username_key (see below), roles_version 0;
  auth_user_roles  the USER role (id fixed by migrations/auth/sqlite/0001_auth.sql), as register grants;
  auth_api_keys    like ApiKeyService::create: raw key "leaky_<user id>_<48 hex>", stored as the
                   lower-case hex SHA-256 of the raw key (crypto::sha256_hex), name NULL, no expiry;
  token_pools      like bind_allowance_upsert (PUT /api/v1/tokens/quota): owner 'user', provider
                   'openai', allowance = allowance_remaining = ALLOWANCE, nothing purchased, reset_time =
                   now + 24 h (token.quota.window's default; the window never ends during a soak).

The password hash is a syntactically valid bcrypt string (looks_like_bcrypt) that matches no password
the benchmark uses: these users never log in.

username_key is the canonical name (auth/src/username.cpp: NFKC_Casefold, ICU confusable skeleton,
NFKC_Casefold again). For the names written here ("soak_" + decimal digits) ICU maps "0" -> "o",
"1" -> "l" and "m" -> "rn" and leaves the other characters alone (checked with uspoof_getSkeleton,
ICU 72); the key is computed accordingly, so the server's start-up fill (rows whose key is NULL) has
nothing to do and registration's uniqueness check sees these names.

Usage: soak_seed.py --db DATA_DIR/leaky-tokens.db --users N --allowance A --out PAIRS_FILE
Writes one "userId apiKey" line per user (the format of consume.lua's LT_BENCH_PAIRS_FILE).
"""
import argparse
import datetime
import hashlib
import secrets
import sqlite3
import sys
import time
import uuid

ROLE_USER_ID = "11111111-1111-1111-1111-111111111111"
# 60 characters, "$2b$10$" + 22 salt + 31 hash characters of bcrypt's alphabet.
PASSWORD_HASH = "$2b$10$" + "soakSeedSaltNotForLogi" + "nSoakSeedHashMatchesNoPassword0"


def rfc3339(t):
    """format_rfc3339: UTC, milliseconds, fixed width."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def username_key(name):
    key = name.lower()
    return key.replace("m", "rn").replace("0", "o").replace("1", "l")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--allowance", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    assert len(PASSWORD_HASH) == 60

    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = rfc3339(now)
    reset = rfc3339(now + datetime.timedelta(hours=24))
    width = max(6, len(str(args.users - 1)))
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA foreign_keys = ON")
    (role,) = db.execute("SELECT name FROM auth_roles WHERE id = ?", (ROLE_USER_ID,)).fetchone()
    if role != "USER":
        sys.exit(f"soak_seed: role {ROLE_USER_ID} is {role!r}, not USER")

    users, roles, keys, pools, pairs = [], [], [], [], []
    for i in range(args.users):
        user_id = str(uuid.uuid4())
        name = f"soak_{i:0{width}d}"
        raw_key = f"leaky_{user_id}_{secrets.token_hex(24)}"
        users.append((user_id, name, f"{name}@localhost", PASSWORD_HASH, stamp, stamp, username_key(name)))
        roles.append((user_id, ROLE_USER_ID))
        keys.append((str(uuid.uuid4()), user_id, hashlib.sha256(raw_key.encode()).hexdigest(), stamp))
        pools.append((str(uuid.uuid4()), user_id, args.allowance, args.allowance, reset, stamp, stamp))
        pairs.append(f"{user_id} {raw_key}\n")

    with db:  # one transaction
        db.executemany(
            "INSERT INTO auth_users (id, username, email, password_hash, created_at, updated_at, username_key, "
            "roles_version) VALUES (?, ?, ?, ?, ?, ?, ?, 0)", users)
        db.executemany("INSERT INTO auth_user_roles (user_id, role_id) VALUES (?, ?)", roles)
        db.executemany(
            "INSERT INTO auth_api_keys (id, user_id, key_hash, name, created_at, expires_at) "
            "VALUES (?, ?, ?, NULL, ?, NULL)", keys)
        db.executemany(
            "INSERT INTO token_pools (id, owner_type, owner_id, provider, allowance, allowance_remaining, "
            "purchased_total, purchased_remaining, reset_time, created_at, updated_at) "
            "VALUES (?, 'user', ?, 'openai', ?, ?, 0, 0, ?, ?, ?)", pools)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(args.out, "w") as f:
        f.writelines(pairs)
    print(f"soak_seed: {args.users} users (API key, openai pool of {args.allowance}) in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
