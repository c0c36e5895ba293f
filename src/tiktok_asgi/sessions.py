"""Ending a TikTok user's login sessions: every browser, every instance sharing the store.

    from tiktok_asgi import tiktok_context

    ended = await tiktok_context(request).end_user_sessions(open_id)   # in a view

    from tiktok_asgi.sessions import end_user_sessions_in_store

    ended = await end_user_sessions_in_store(            # in an admin script or a job
        open_id, settings=settings, token_store=store
    )

Both need the token store the middleware uses; both delete the sessions' token records (the
cookies naming them are anonymous from then on). With ``revoke=True`` they also revoke the
user's access at TikTok, which disconnects the app from the user's account (their next sign-in
asks for consent again): "sign out everywhere" is not "disconnect", so it is off by default.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._deprecation import warn_deprecated
from ._session import TokenManager
from ._tiktok.http import AsyncBaseTransport, SharedTransport
from ._tiktok.provider import TikTokProvider
from .context import tiktok_context
from .settings import TikTokSettings
from .stores import TokenStore

__all__ = ["end_user_sessions_in_store"]


async def end_user_sessions(
    connection: HTTPConnection | Scope, open_id: str, *, revoke: bool = False
) -> int:
    """Deprecated: ``await tiktok_context(request).end_user_sessions(open_id)`` does the same;
    this alias is removed in tiktok-asgi 0.2.0.

    End every login session of the TikTok user ``open_id`` and return how many there were; see
    :meth:`~tiktok_asgi.TikTokContext.end_user_sessions`.
    """
    warn_deprecated(
        "tiktok_asgi.sessions.end_user_sessions(request, open_id)",
        "await tiktok_context(request).end_user_sessions(open_id)",
    )
    return await tiktok_context(connection).end_user_sessions(open_id, revoke=revoke)


async def end_user_sessions_in_store(
    open_id: str,
    *,
    settings: TikTokSettings,
    token_store: TokenStore,
    revoke: bool = False,
    transport: AsyncBaseTransport | None = None,
) -> int:
    """:meth:`~tiktok_asgi.TikTokContext.end_user_sessions` outside a request: with the
    application's settings and store.

    ``transport`` (an httpx2 transport) carries the revocations to TikTok when given.
    """
    shared = SharedTransport(transport)
    try:
        tokens = TokenManager(settings, token_store, TikTokProvider(settings, shared))
        user = _open_id(open_id)
        ended = len(await tokens.end_user(user, revoke=revoke))
        await tokens.report_ended(user, ended, "end_user_sessions")
        return ended
    finally:
        await shared.aclose()


def _open_id(open_id: object) -> str:
    if not isinstance(open_id, str) or not open_id:
        raise ValueError("open_id must be the TikTok user's open_id, a non-empty string")
    return open_id
