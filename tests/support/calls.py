"""The library's calls as the tests' views make them, under short names.

Each is one line of the public API: ``get_access_token(request)`` is
``await tiktok_context(request).access_token()``, ``end_user_sessions(request, open_id)`` is
``await tiktok_context(request).end_user_sessions(open_id)``, ``login_url(request, next)`` is
``tiktok_asgi.login_url`` and ``quart_login_url(next)`` is the same for Quart's current request
or websocket.
"""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import HTTPConnection
from starlette.types import Scope

from tiktok_asgi import login_url, tiktok_context

__all__ = ["end_user_sessions", "get_access_token", "login_url", "quart_login_url"]


async def get_access_token(connection: HTTPConnection | Scope) -> str:
    return await tiktok_context(connection).access_token()


async def end_user_sessions(
    connection: HTTPConnection | Scope, open_id: str, *, revoke: bool = False
) -> int:
    return await tiktok_context(connection).end_user_sessions(open_id, revoke=revoke)


def quart_login_url(next: str | None = None) -> str:
    from quart import has_websocket_context, request, websocket

    scope = websocket.scope if has_websocket_context() else request.scope
    return login_url(cast(Any, scope), next)
