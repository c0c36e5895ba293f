"""Profiles that stay fresh: with a token store, an identity cookie signed more than
``profile_max_age`` ago is re-issued with the user info TikTok gives now.

TikTok's avatar URLs are signed and stop working after about 47 hours; names and counts change.
The re-read goes through the single-flight token path (one refresh per login session, even
across processes) and happens once per login session at a time in this process. If TikTok
refuses the token, the user is signed out; if TikTok is slow or down, the old profile stays and
the request waits at most ``http_timeout``.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time

from tiktok_asgi._cookies.identity import Identity, IdentityCookie
from tiktok_asgi._tiktok.provider import TikTokProvider
from tiktok_asgi.errors import LoginRequired, TikTokAPIError, TikTokAuthError
from tiktok_asgi.settings import TikTokSettings

from .tokens import TokenManager

__all__ = ["ProfileRefresher"]

logger = logging.getLogger("tiktok_asgi")

# TikTok's answers when the access token itself is no good any more (revoked or withdrawn).
_TOKEN_REFUSED = frozenset({"access_token_invalid", "invalid_grant"})
_KEEP_DONE = 10.0  # seconds a finished re-read serves requests still carrying the old cookie


class SignedOut(Exception):
    """TikTok no longer accepts this login session's access."""


class ProfileRefresher:
    """Re-reads the profiles of login sessions whose identity cookie is too old."""

    def __init__(
        self,
        settings: TikTokSettings,
        tokens: TokenManager,
        tiktok: TikTokProvider,
        cookie: IdentityCookie,
    ) -> None:
        self.max_age = settings.profile_max_age
        self._timeout = settings.http_timeout
        self._tokens = tokens
        self._tiktok = tiktok
        self._cookie = cookie
        self._running: dict[str, tuple[float, asyncio.Task[tuple[Identity, str] | None]]] = {}

    def due(self, identity: Identity) -> bool:
        return time.time() - identity.issued > self.max_age

    async def refresh(self, identity: Identity) -> tuple[Identity, str] | None:
        """The fresh identity and its ``Set-Cookie`` value, or None to keep the old profile.

        Raises :class:`SignedOut` when TikTok refuses the login session's tokens.
        """
        session_id = identity.session_id
        assert session_id is not None
        now = time.monotonic()
        running = self._running.get(session_id)
        if running is None or (running[1].done() and now - running[0] > _KEEP_DONE):
            self._forget_finished(now)
            # Shared by later requests: not bound by the deadline of the one that started it.
            task = asyncio.get_running_loop().create_task(
                self._reread(identity, session_id), context=contextvars.Context()
            )
            task.add_done_callback(_retrieve)  # its outcome may come after every waiter left
            running = self._running[session_id] = (now, task)
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(running[1])
        except TimeoutError:
            logger.warning("profile_refresh_slow", extra={"event": "profile_refresh"})
            return None

    def _forget_finished(self, now: float) -> None:
        running = self._running
        for session_id in [
            s for s, (t, job) in running.items() if job.done() and now - t > _KEEP_DONE
        ]:
            del running[session_id]

    async def _reread(self, identity: Identity, session_id: str) -> tuple[Identity, str] | None:
        try:
            record = await self._tokens.access_token(session_id)
            token = {"access_token": record.access_token, "open_id": identity.user.open_id}
            fresh = await self._tiktok.user_info(token, identity.user.granted_scopes)
        except LoginRequired as exc:
            raise SignedOut() from exc
        except TikTokAPIError as exc:
            if exc.code in _TOKEN_REFUSED:
                await self._tokens.end(session_id, revoke=False)
                raise SignedOut() from exc
            logger.warning(
                "profile_refresh_failed code=%s", exc.code, extra={"event": "profile_refresh"}
            )
            return None
        except TikTokAuthError as exc:  # TikTok or the store unreachable: keep the old profile
            logger.warning(
                "profile_refresh_failed code=%s", exc.code, extra={"event": "profile_refresh"}
            )
            return None
        user = dataclasses.replace(fresh, extra=identity.user.extra)
        renewed = Identity(user, session_id, float(int(time.time())))
        try:
            cookie = self._cookie.encode(renewed)
        except ValueError:
            return None
        try:
            if not await self._tokens.extend(session_id, record):
                raise SignedOut()  # ended while TikTok answered: never re-issued
        except TikTokAuthError:
            return None  # the store is in trouble: the old cookie and record stay as they were
        return renewed, cookie


def _retrieve(task: asyncio.Task[object]) -> None:
    if not task.cancelled():
        task.exception()
