"""Resident-set growth over many signed-in requests, in a fresh process: ``python memory.py``.

Two cases after a warm-up: one identity cookie sent over and over (a busy user), and cookies of
many distinct users in rotation, more than the verified-cookie cache holds (the cache must stay
bounded). Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import sys

import inprocess
import stacks

REQUESTS = 100_000
DISTINCT_USERS = 8192  # more than the verified-cookie cache keeps (4 MiB of cookie text)
ROTATING_REQUESTS = 30_000


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def _growth(templates: list[dict[str, object]], warmup: int, count: int) -> int:
    app = stacks.build("signed_in")
    rounds = len(templates)
    for i in range(warmup):
        await inprocess.drive(app, templates[i % rounds], 1)
    gc.collect()
    before = rss_kib()
    for i in range(count):
        await inprocess.drive(app, templates[i % rounds], 1)
    gc.collect()
    return rss_kib() - before


def _template(cookie: str) -> dict[str, object]:
    headers = [*stacks.BASE_HEADERS, stacks.cookie_header(cookie)]
    return stacks.http_scope("/", headers)


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else REQUESTS
    one = [stacks.http_scope("/", stacks.headers_for("signed_in"))]
    many = [
        _template(
            stacks.identity_cookie(
                dataclasses.replace(stacks.USER, open_id=f"open-{i:05d}", display_name=f"User {i}")
            )
        )
        for i in range(DISTINCT_USERS)
    ]
    result = {
        "requests": requests,
        "one_user_kib": asyncio.run(_growth(one, 20_000, requests)),
        "many_users_kib": asyncio.run(_growth(many, 2 * DISTINCT_USERS, ROTATING_REQUESTS)),
        "many_users_requests": ROTATING_REQUESTS,
        "distinct_users": DISTINCT_USERS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
