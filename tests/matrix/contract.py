"""What every row serves, and what a row is."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

from tests.matrix.servers import Server, uvicorn_server
from tiktok_asgi import TikTokSettings
from tiktok_asgi._tiktok.http import AsyncBaseTransport

SECRET = "the protected view's content"
STATS = "user.info.stats"
PROTECTED = ("/admin/",)  # with its trailing slash: Litestar routes /admin there too
WEBHOOK = "/auth/tiktok/webhook"

Build = Callable[[TikTokSettings, AsyncBaseTransport], ASGIApp]


@dataclass(frozen=True)
class Adapter:
    """One row: the app with the middleware as the framework's documentation sets it up."""

    name: str
    build: Build
    server: Server = uvicorn_server
    guarded_socket: str = "/guarded/ws"
    # Around the server's life: what the framework needs set globally (Django's URLconf).
    around: Callable[[], AbstractContextManager[Any]] = field(default=nullcontext)
