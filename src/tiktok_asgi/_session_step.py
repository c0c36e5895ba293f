"""The gate's login-session step, with a token store: does the identity's login session still
live (signed out elsewhere, its user's sessions ended, the app removed at TikTok), and is the
profile in its cookie fresh enough?"""

from __future__ import annotations

from ._cookies.identity import Identity
from ._profiles import ProfileRefresher, SignedOut
from ._tokens import TokenManager
from .context import TikTokContext

__all__ = ["SessionStep"]

Header = tuple[bytes, bytes]


class SessionStep:
    def __init__(self, tokens: TokenManager, profiles: ProfileRefresher) -> None:
        self._live = tokens.live
        self._profiles = profiles

    async def follow(self, identity: Identity, context: TikTokContext) -> Header | None:
        """Signs ``context`` out when its login session has ended; the ``Set-Cookie`` header of
        an identity re-issued with a re-read profile, if one was. Raises
        :class:`~tiktok_asgi.stores.TokenStoreError` when the store cannot tell."""
        session_id = identity.session_id
        if session_id is None:
            return None
        alive = self._live.known(session_id)
        if alive is None:
            alive = await self._live.check(session_id)
        if not alive:
            context.sign_out()
            return None
        if not self._profiles.due(identity):
            return None
        try:
            fresh = await self._profiles.refresh(identity)
        except SignedOut:
            context.sign_out()
            return None
        if fresh is None:
            return None
        context.user = fresh[0].user
        return (b"set-cookie", fresh[1].encode("latin-1"))
