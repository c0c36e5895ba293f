"""Server level with live sessions on Redis: uvicorn loaded by ``wrk``, 12,000 users in turn.

One uvicorn process serves a bare application, the stateless signed-in middleware and the
middleware with live sessions on a real ``redis-server`` (started here, on 127.0.0.1). ``wrk``
sends each request with the next user's cookie (a Lua script reads them from a file), so each
user comes back after more than a second, as on a real site. Requests per CPU-second of the
server and per wall-clock second, interleaved rounds, ratios to bare taken per round.

    python benchmarks/server_live.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import live
import server
import stacks

from tiktok_asgi import TikTokAuthMiddleware
from tiktok_asgi._cookies.identity import Identity, IdentityCookie

USERS = 12_000
CONFIGS = ("bare", "signed_in", "redis_live")
_ROTATE = """
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
local at = 0
request = function()
  at = at % #cookies + 1
  return wrk.format(nil, "/", {["Cookie"] = cookies[at]})
end
"""


async def _sessions(redis_url: str) -> list[str]:
    """Cookie headers of :data:`USERS` live sessions stored in Redis, one user each."""
    from tiktok_asgi.redis_store import RedisTokenStore

    store = RedisTokenStore(redis_url)
    app = TikTokAuthMiddleware(stacks.starlette_app(), settings=stacks.SETTINGS, token_store=store)
    tokens = app._tokens  # the benchmark's way to sessions without 12,000 sign-ins
    assert tokens is not None
    cookie = IdentityCookie(stacks.SETTINGS)
    out = []
    try:
        for i in range(USERS):
            session_id = await tokens.save({**live._TOKEN, "open_id": f"user-{i}"})
            value = cookie.encode(Identity(stacks.user_number(i), session_id)).split(";", 1)[0]
            out.append(f"{stacks.OTHER_COOKIES}; {value}")
    finally:
        await store.aclose()
    return out


def _wrk(
    port: int, cookies: Path, script: Path, seconds: int, connections: int
) -> tuple[float, int]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script)]
    for key, value in stacks.BASE_HEADERS:
        if key not in (b"host", b"connection"):
            args += ["-H", f"{key.decode()}: {value.decode('latin-1')}"]
    args.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(  # noqa: S603
        args, capture_output=True, text=True, timeout=seconds + 30, check=True,
        env={**os.environ, "BENCH_COOKIES": str(cookies)},
        preexec_fn=lambda: os.sched_setaffinity(0, server.WRK_CPUS),
    ).stdout  # fmt: skip
    errors = server._ERRORS.search(out)
    if errors:
        raise RuntimeError(f"wrk reported {errors.group(0)!r}")
    rps, total = server._RPS.search(out), server._TOTAL.search(out)
    if rps is None or total is None:
        raise RuntimeError(f"unexpected output from wrk:\n{out}")
    return float(rps.group(1)), int(total.group(1))


def run(rounds: int = 6, seconds: int = 3, connections: int = 16) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("server level with Redis skipped: wrk is not installed (apt-get install wrk)")
        return {}
    with live.redis_server() as url, tempfile.TemporaryDirectory() as tmp:
        with_sessions = Path(tmp) / "live.txt"
        with_sessions.write_text("\n".join(asyncio.run(_sessions(url))) + "\n")
        stateless = Path(tmp) / "stateless.txt"
        plain = [f"{stacks.OTHER_COOKIES}; {c}" for c in stacks.identity_cookies(USERS)]
        stateless.write_text("\n".join(plain) + "\n")
        script = Path(tmp) / "rotate.lua"
        script.write_text(_ROTATE)
        files = {"bare": stateless, "signed_in": stateless, "redis_live": with_sessions}
        os.environ["BENCH_REDIS_URL"] = url
        wall: dict[str, list[float]] = {name: [] for name in CONFIGS}
        cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
        with server.serving(CONFIGS) as (ports, pid):
            # Warm-up: every user at least once (with Redis, each session is vouched for once:
            # these were all signed in moments after the feed's epoch began), the feed followed.
            for name in CONFIGS:
                _wrk(ports[name], files[name], script, 8, connections)
            for r in range(rounds):
                for name in CONFIGS[r % 3 :] + CONFIGS[: r % 3]:
                    before = server.cpu_seconds(pid)
                    rps, total = _wrk(ports[name], files[name], script, seconds, connections)
                    wall[name].append(rps)
                    cpu[name].append(total / (server.cpu_seconds(pid) - before))
    out: dict[str, Any] = {"users": USERS}
    for name in CONFIGS:
        out[name] = statistics.median(wall[name])
        out[f"{name}_cpu"] = statistics.median(cpu[name])
    for name in ("signed_in", "redis_live"):
        out[f"{name}_ratio"] = statistics.median(
            a / b for a, b in zip(wall[name], wall["bare"], strict=True))  # fmt: skip
        out[f"{name}_ratio_cpu"] = statistics.median(
            a / b for a, b in zip(cpu[name], cpu["bare"], strict=True))  # fmt: skip
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:22s} {value:10.3f}")
