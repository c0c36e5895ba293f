"""Start the server, sign browsers in, soak it with authenticated requests, read its figures.

Everything binds 127.0.0.1; every loop is bounded in count and in time; the server process is
always terminated.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from tests.support.asgi import keep_cookies
from tests.support.processes import free_port, listening, running
from tests.support.signin import Step, consent_form, run_steps_async, sign_in_steps

from stress.server import SECRET_KEY
from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi._cookies.identity import Identity, IdentityCookie
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

ROOT = Path(__file__).resolve().parent.parent
COOKIE = "tiktok_session"


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        response = httpx2.get(f"{self.url}/_stress/stats", timeout=30)
        response.raise_for_status()
        stats: dict[str, int] = response.json()
        return stats


@contextmanager
def running_server(users: int, *, startup_timeout: float = 30) -> Iterator[Server]:
    """``uvicorn`` serving :func:`stress.server.create_app` on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "STRESS_PORT": str(port),
        "STRESS_USERS": str(users),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "stress.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--backlog",
        "1024",
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(
            command,
            log=Path(tmp) / "server.log",
            ready=listening(port),
            timeout=startup_timeout,
            env=env,
            cwd=ROOT,
            name="the stress server",
        ) as process,
    ):
        yield Server(port, process)


# Sign-ins ----------------------------------------------------------------------------------------


@dataclass
class SignInResult:
    attempted: int = 0
    signed_in: int = 0
    errors: list[str] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cookies: list[str] = field(default_factory=list)


def _cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


async def _one_sign_in(client: httpx2.AsyncClient, user: EmulatorUser) -> tuple[str, str]:
    """One browser: the shared sign-in (consent on the emulator's form mounted on the server),
    then ``/me``; its identity cookie and the ``open_id`` ``/me`` names. The client is shared by
    every browser, so each keeps its own cookie jar."""
    jar: dict[str, str] = {}

    async def perform(step: Step) -> httpx2.Response:
        options = step.httpx_options()
        options["headers"] = {**options["headers"], **_cookie_header(jar)}
        response = await client.request(step.method, step.url, **options)
        keep_cookies(jar, response.headers.get_list("set-cookie"))
        return response

    steps = sign_in_steps(
        "/auth/tiktok/login", consent_form(user.open_id, ["user.info.basic"]), next="/me"
    )
    location = await run_steps_async(steps, perform)
    if location != "/me":
        raise AssertionError(f"the callback redirected to {location}")
    me = await client.get("/me", headers=_cookie_header({COOKIE: jar[COOKIE]}))
    data = me.json()
    return jar[COOKIE], str(data.get("open_id"))


async def sign_in_many(
    url: str, users: int, concurrency: int, *, time_limit: float = 600
) -> SignInResult:
    """``users`` distinct emulator users sign in, ``concurrency`` at a time, each in its own
    cookie jar; every ``/me`` must name that browser's own user."""
    people = EmulatorUser.generate(users)
    result = SignInResult(attempted=users)
    cookies: list[str | None] = [None] * users
    gate = asyncio.Semaphore(concurrency)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def browser(i: int) -> None:
            async with gate:
                try:
                    cookie, open_id = await _one_sign_in(client, people[i])
                except Exception as exc:  # every failure is counted and reported
                    result.errors.append(f"{people[i].username}: {type(exc).__name__}: {exc}")
                    return
                if open_id != people[i].open_id:
                    result.crossed.append(f"{people[i].open_id} saw {open_id}")
                    return
                result.signed_in += 1
                cookies[i] = cookie

        await asyncio.wait_for(
            asyncio.gather(*(browser(i) for i in range(users))), timeout=time_limit
        )
    result.seconds = time.monotonic() - started
    result.cookies = [c for c in cookies if c is not None]
    return result


# Soak --------------------------------------------------------------------------------------------


def minted_cookies(n: int) -> list[str]:
    """``n`` distinct, validly signed identity cookies (the harness knows the server's key), to
    push many distinct values through the middleware's verification cache. Cookies are bound to
    the app: the client key is the server's (the emulator's default)."""
    settings = TikTokSettings(
        client_key=TikTokEmulator().client_key,
        client_secret="stress",
        redirect_uri="http://127.0.0.1/auth/tiktok/callback",
        secret_key=SECRET_KEY,
    )
    cookie = IdentityCookie(settings)
    users = (TikTokUser(open_id=f"minted-{i}", display_name=f"Minted {i}") for i in range(n))
    return [cookie.encode(Identity(u)).split(";", 1)[0].partition("=")[2] for u in users]


@dataclass
class SoakResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    tool: str = ""


async def soak_python(
    url: str, cookies: list[tuple[str, str]], total: int, concurrency: int, time_limit: float
) -> SoakResult:
    """``total`` GET ``/me``, cycling through ``(cookie, expected open_id)``; a wrong or
    anonymous answer counts as an error."""
    result = SoakResult(tool="httpx2")
    counter = iter(range(total))
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for i in counter:
                cookie, expected = cookies[i % len(cookies)]
                response = await client.get(
                    "/me", params={"expect": expected}, headers={"cookie": f"{COOKIE}={cookie}"}
                )
                result.requests += 1
                body = response.json() if response.status_code == 200 else {}
                if body.get("open_id") != expected or body.get("expect") != expected:
                    result.errors += 1

        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), timeout=time_limit
        )
    result.seconds = time.monotonic() - started
    return result


_WRK_SCRIPT = """
local cookies = {}
local expected = {}
local limit = tonumber(os.getenv("SOAK_PER_THREAD"))
local n = 0
local done_count = 0
errors = 0
for line in io.lines(os.getenv("SOAK_COOKIES")) do
  local c, id = line:match("([^ ]+) ([^ ]+)")
  cookies[#cookies + 1] = c
  expected[#expected + 1] = id
end
request = function()
  n = n + 1
  local i = (n % #cookies) + 1
  return wrk.format("GET", "/me?expect=" .. expected[i],
    {["Cookie"] = "tiktok_session=" .. cookies[i]})
end
response = function(status, headers, body)
  done_count = done_count + 1
  local want = body:match('"expect":"([^"]*)"')
  local got = body:match('"open_id":"([^"]*)"')
  if status ~= 200 or want == nil or want ~= got then
    errors = errors + 1
  end
  if done_count >= limit then wrk.thread:stop() end
end
"""

_WRK_DONE = """
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  io.write(string.format("SOAK requests=%d errors=%d non2xx=%d socket_errors=%d\\n",
    summary.requests, e, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def soak_wrk(
    url: str, cookies: list[tuple[str, str]], total: int, connections: int, time_limit: float
) -> SoakResult | None:
    """The soak through Debian's ``wrk`` (keep-alive connections), in rounds until ``total``
    answers were checked or ``time_limit`` seconds passed. None if wrk is missing.

    wrk runs for its whole ``-d`` even when every thread stopped early, so each round's duration
    is sized from the rate of the previous one (the first round lasts 10 s).
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    result = SoakResult(tool="wrk")
    started = time.monotonic()
    rate = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cookie_file = Path(tmp) / "cookies.txt"
        cookie_file.write_text("".join(f"{c} {i}\n" for c, i in cookies))
        script = Path(tmp) / "soak.lua"
        script.write_text(_WRK_SCRIPT + _WRK_DONE)
        for _ in range(20):  # rounds, bounded
            left = total - result.requests
            time_left = time_limit - (time.monotonic() - started)
            if left <= 0 or time_left < 2:
                break
            duration = 10.0 if rate == 0 else max(2.0, left / rate * 1.15 + 1)
            duration = min(duration, time_left)
            requests, errors, seconds = _wrk_round(
                wrk, url, script, cookie_file, left, connections, duration
            )
            result.requests += requests
            result.errors += errors
            rate = requests / seconds if seconds > 0 else 0.0
    result.seconds = time.monotonic() - started
    return result


def _wrk_round(
    wrk: str,
    url: str,
    script: Path,
    cookie_file: Path,
    limit: int,
    connections: int,
    duration: float,
) -> tuple[int, int, float]:
    threads = 2
    env = {
        **os.environ,
        "SOAK_COOKIES": str(cookie_file),
        # Each wrk thread stops itself after its share; wrk reports the exact total.
        "SOAK_PER_THREAD": str(-(-limit // threads)),
    }
    started = time.monotonic()
    out = subprocess.run(  # noqa: S603 (fixed argument list)
        [
            wrk,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"{url}/me",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("SOAK "))
    fields = dict(part.split("=") for part in line.split()[1:])
    errors = int(fields["errors"]) + int(fields["socket_errors"])
    return int(fields["requests"]), errors, time.monotonic() - started


def report(title: str, figures: dict[str, Any]) -> str:
    width = max(len(k) for k in figures)
    lines = [title, "-" * len(title)]
    lines += [f"{k.ljust(width)}  {v}" for k, v in figures.items()]
    return "\n".join(lines)


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
