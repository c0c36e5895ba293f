"""Which webhook deliveries were handled: marked only after handling, shared through the store.

A delivery is known by the digest of its body (TikTok's redeliveries carry the same body). It is
*claimed* while one instance handles it (so two deliveries arriving together are not handled
twice) and *done* once handled; a claim that is released, or outlives :data:`CLAIM_SECONDS`
(the instance died), lets TikTok's next delivery handle it again.
"""

from __future__ import annotations

import logging
import time

from ._session import TokenManager
from .errors import TikTokAuthError

__all__ = ["CLAIM_SECONDS", "DONE_SECONDS", "DeliveryMarks"]

logger = logging.getLogger("tiktok_asgi")

CLAIM_SECONDS = 120  # longer than any handling should take
DONE_SECONDS = 73 * 3600  # TikTok retries for up to 72 hours
_DONE_PREFIX = "tiktok_asgi:webhook-done:"
_CLAIM_PREFIX = "tiktok_asgi:webhook-claim:"
_LOCAL_LIMIT = 10_000  # deliveries remembered in the process when there is no token store


class DeliveryMarks:
    """Done and claimed marks: in the token store when there is one, else in this process."""

    def __init__(self, tokens: TokenManager | None) -> None:
        self._tokens = tokens
        self._here: dict[str, float] = {}  # key: expires at (monotonic)

    async def done(self, digest: str) -> bool:
        if self._tokens is None:
            return self._held(_DONE_PREFIX + digest)
        async with self._tokens.budget():
            return await self._tokens.ops.exists(_DONE_PREFIX + digest)

    async def claim(self, digest: str) -> bool:
        """True if this delivery may be handled here now. Raises
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store fails."""
        if self._tokens is None:
            return self._hold(_CLAIM_PREFIX + digest, CLAIM_SECONDS)
        async with self._tokens.budget():
            return await self._tokens.ops.add_once(_CLAIM_PREFIX + digest, CLAIM_SECONDS)

    async def release(self, digest: str) -> None:
        """Handling failed: the next delivery handles it."""
        if self._tokens is None:
            self._here.pop(_CLAIM_PREFIX + digest, None)
            return
        try:
            async with self._tokens.budget():
                await self._tokens.ops.delete(_CLAIM_PREFIX + digest)
        except TikTokAuthError:
            logger.warning("webhook_claim_kept", extra={"event": "webhook"})  # it expires

    async def finish(self, digest: str) -> None:
        """Handled: redeliveries are answered 200 and not handled again."""
        if self._tokens is None:
            self._hold(_DONE_PREFIX + digest, DONE_SECONDS)
            self._here.pop(_CLAIM_PREFIX + digest, None)
            return
        try:
            async with self._tokens.budget():
                await self._tokens.ops.create(_DONE_PREFIX + digest, b"1", DONE_SECONDS)
                await self._tokens.ops.delete(_CLAIM_PREFIX + digest)
        except TikTokAuthError:
            # Handled all the same; a redelivery would be handled again, which handling allows.
            logger.warning("webhook_done_unmarked", extra={"event": "webhook"})

    def _held(self, key: str) -> bool:
        return self._here.get(key, 0.0) > time.monotonic()

    def _hold(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        if self._here.get(key, 0.0) > now:
            return False
        if len(self._here) >= _LOCAL_LIMIT:
            self._here = {k: t for k, t in self._here.items() if t > now}
            while len(self._here) >= _LOCAL_LIMIT:
                del self._here[next(iter(self._here))]
        self._here[key] = now + seconds
        return True
