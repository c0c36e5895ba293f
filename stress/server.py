"""The server under load: a small app behind the middleware, with the emulator inside.

Run by the harness as ``uvicorn --factory stress.server:create_app``. TikTok's token and user info
endpoints answer in-process through the emulator's transport; browsers reach its consent form
mounted at ``/tiktok``. ``/_stress/stats`` reports the process's memory, descriptors and caches.
"""

from __future__ import annotations

import gc
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tiktok_asgi import TikTokAuthMiddleware, TikTokUser
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
from tiktok_asgi.limits import Rate, RequestLimits

SECRET_KEY = "stress-secret-key-for-loopback-runs-only-0123456789"
# Every simulated person comes from 127.0.0.1, as many people behind one NAT address do: that
# deployment raises the per-address counts (each browser keeps its own), and still pays for them.
ONE_ADDRESS = Rate(per_client=1_000_000, per_browser=30)
LIMITS = RequestLimits(login=ONE_ADDRESS, callback=ONE_ADDRESS)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def create_app() -> TikTokAuthMiddleware:
    port = int(os.environ["STRESS_PORT"])
    users = int(os.environ.get("STRESS_USERS", "1000"))
    emulator = TikTokEmulator(users=EmulatorUser.generate(users), rate_limit=None)
    settings = emulator.settings(
        f"http://127.0.0.1:{port}/auth/tiktok/callback", secret_key=SECRET_KEY, limits=LIMITS
    )

    async def me(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse(
            {
                "authenticated": user.is_authenticated,
                "open_id": user.open_id if isinstance(user, TikTokUser) else None,
                # Echoed so that a load client can match each answer to its request.
                "expect": request.query_params.get("expect"),
            }
        )

    async def stats(request: Request) -> JSONResponse:
        gc.collect()
        return JSONResponse(
            {
                "rss": rss_bytes(),
                "fds": open_fds(),
                # Private attributes, read only here: the bounded caches of the middleware.
                "identity_cache": middleware._identity.cache_size()[0],
                "identity_cache_bytes": middleware._identity.cache_size()[1],
                "consumed_states": len(middleware.conversation._flows._consumed),
                "emulator_requests": len(emulator.requests),
            }
        )

    app = Starlette(
        routes=[
            Route("/me", me),
            Route("/_stress/stats", stats),
            Mount("/tiktok", app=emulator),
        ]
    )
    middleware = TikTokAuthMiddleware(app, settings=settings, transport=emulator.transport())
    return middleware
