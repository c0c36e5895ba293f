"""The application each uvicorn process serves in the multi-instance test.

Settings come from ``TIKTOK_*`` environment variables, the Redis URL from ``TOKENS_REDIS_URL``:
every instance runs the same code with the same secret key and the same Redis, as behind a proxy.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.support.calls import get_access_token
from tiktok_asgi import TikTokAuthError, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.api import tiktok_api
from tiktok_asgi.redis_store import RedisTokenStore

settings = TikTokSettings.from_env()
store = RedisTokenStore(os.environ["TOKENS_REDIS_URL"], timeout=2.0)


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse(os.environ.get("INSTANCE_NAME", "?"))


async def token(request: Request) -> JSONResponse:
    return JSONResponse({"access_token": await get_access_token(request)})


async def videos(request: Request) -> JSONResponse:
    data = await tiktok_api(request).post(
        "/v2/video/list/", params={"fields": "id,title"}, json={"max_count": 2}
    )
    return JSONResponse({**data, "instance": os.environ.get("INSTANCE_NAME", "?")})


async def tiktok_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TikTokAuthError)
    return JSONResponse(exc.as_dict(), status_code=exc.status_code)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await store.aclose()


app = TikTokAuthMiddleware(
    Starlette(
        routes=[Route("/health", health), Route("/token", token), Route("/videos", videos)],
        exception_handlers={TikTokAuthError: tiktok_error},
        lifespan=lifespan,
    ),
    settings=settings,
    token_store=store,
)
