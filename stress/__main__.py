"""``python -m stress`` (``nox -s stress``): 1,000 sign-ins at 100-way concurrency, then a soak of
100,000 authenticated requests, through uvicorn on 127.0.0.1. Prints its figures; exits non-zero
if any sign-in failed, any identity crossed, any soak answer was wrong, or a resource leaked.

Options: ``--users N --concurrency C --requests R --soak-connections K``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from stress.harness import (
    minted_cookies,
    report,
    running_server,
    sign_in_many,
    soak_python,
    soak_wrk,
)
from tiktok_asgi._cookies.identity import CACHE_BYTES
from tiktok_asgi.emulator import EmulatorUser

MiB = 1024 * 1024
# Generous bounds for a shared, noisy machine: the point is "flat", not a benchmark.
MAX_RSS_GROWTH = 64 * MiB
MAX_FD_GROWTH = 8
IDENTITY_CACHE_BYTES = CACHE_BYTES
CONSUMED_LIMIT = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--soak-connections", type=int, default=64)
    parser.add_argument("--minted", type=int, default=6000, help="extra distinct valid cookies")
    parser.add_argument("--time-limit", type=float, default=600)
    args = parser.parse_args(argv)

    failures: list[str] = []
    with running_server(args.users) as server:
        boot = server.stats()
        signed = asyncio.run(
            sign_in_many(server.url, args.users, args.concurrency, time_limit=args.time_limit)
        )
        print(
            report(
                f"Sign-ins: {args.users} distinct users, {args.concurrency}-way, uvicorn on "
                "127.0.0.1",
                {
                    "signed in": signed.signed_in,
                    "errors": len(signed.errors),
                    "crossed identities": len(signed.crossed),
                    "seconds": round(signed.seconds, 1),
                    "sign-ins per second": round(signed.signed_in / signed.seconds, 1),
                },
            ),
            flush=True,
        )
        for line in (signed.errors + signed.crossed)[:10]:
            print("  ", line)
        if signed.errors or signed.crossed or signed.signed_in != args.users:
            failures.append("sign-ins")

        people = [u.open_id for u in _users(args.users)]
        pairs = list(zip(signed.cookies, people, strict=True)) if not failures else []
        pairs += [(c, f"minted-{i}") for i, c in enumerate(minted_cookies(args.minted))]
        # Warm up (caches fill, allocator settles), then measure the soak.
        warm = asyncio.run(soak_python(server.url, pairs, 5000, 20, args.time_limit))
        before = server.stats()
        soak = soak_wrk(server.url, pairs, args.requests, args.soak_connections, args.time_limit)
        if soak is None:
            soak = asyncio.run(soak_python(server.url, pairs, args.requests, 50, args.time_limit))
        after = server.stats()
        growth = after["rss"] - before["rss"]
        print(
            report(
                f"Soak: GET /me with {len(pairs)} distinct identity cookies ({soak.tool})",
                {
                    "requests": soak.requests,
                    "wrong or failed answers": soak.errors + warm.errors,
                    "seconds": round(soak.seconds, 1),
                    "requests per second": round(soak.requests / soak.seconds),
                    "RSS at boot (MiB)": round(boot["rss"] / MiB, 1),
                    "RSS before soak (MiB)": round(before["rss"] / MiB, 1),
                    "RSS after soak (MiB)": round(after["rss"] / MiB, 1),
                    "RSS growth during soak (MiB)": round(growth / MiB, 2),
                    "open fds before / after": f"{before['fds']} / {after['fds']}",
                    "identity cache entries": after["identity_cache"],
                    f"identity cache bytes (limit {IDENTITY_CACHE_BYTES})": after[
                        "identity_cache_bytes"
                    ],
                    "consumed states (limit 10000)": after["consumed_states"],
                },
            ),
            flush=True,
        )
        if soak.errors or warm.errors or soak.requests < args.requests:
            failures.append("soak answers")
        if growth > MAX_RSS_GROWTH:
            failures.append("memory growth")
        if after["fds"] > before["fds"] + MAX_FD_GROWTH:
            failures.append("file descriptors")
        if after["identity_cache_bytes"] > IDENTITY_CACHE_BYTES:
            failures.append("identity cache")
        if after["consumed_states"] > CONSUMED_LIMIT:
            failures.append("consumed states")
    if failures:
        print("FAILED:", ", ".join(failures))
        return 1
    print("OK")
    return 0


def _users(n: int) -> tuple[EmulatorUser, ...]:
    return EmulatorUser.generate(n)


if __name__ == "__main__":
    sys.exit(main())
