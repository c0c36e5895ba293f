"""The gate's step for a request whose identity cookie names a login session: its verdict.

The step never touches the request's context: it answers, and the gate acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiktok_asgi._cookies.identity import Identity
from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi.user import TikTokUser

from .profiles import ProfileRefresher, SignedOut
from .tokens import TokenManager

__all__ = ["ALIVE", "ENDED", "SessionStep", "Verdict"]

Header = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Verdict:
    """``alive``: the session goes on; ``user``/``cookie``: its profile was re-read, and the
    response carries the re-issued identity cookie."""

    alive: bool
    user: TikTokUser | None = None
    cookie: Header | None = None


ALIVE = Verdict(True)
ENDED = Verdict(False)


class SessionStep:
    def __init__(self, tokens: TokenManager, profiles: ProfileRefresher) -> None:
        self._live = tokens.live
        self._budget = tokens.budget
        self._profiles = profiles

    async def follow(self, identity: Identity) -> Verdict:
        """Is the identity's login session still alive, and is its profile fresh enough?
        Raises :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store cannot tell."""
        session_id = identity.session_id
        if session_id is None:
            return ALIVE
        alive = self._live.known(session_id, identity.issued)
        if alive is None:  # only here, where the store is asked, is there a step to trace
            with TELEMETRY.span("tiktok_asgi.session_check") as span:
                async with self._budget():
                    alive = await self._live.check(session_id)
                span.set("tiktok_asgi.alive", alive)
        if not alive:
            return ENDED
        if not self._profiles.due(identity):
            return ALIVE
        try:
            fresh = await self._profiles.refresh(identity)
        except SignedOut:
            return ENDED
        if fresh is None:
            return ALIVE
        return Verdict(True, fresh[0].user, (b"set-cookie", fresh[1].encode("latin-1")))
