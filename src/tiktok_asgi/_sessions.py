"""Live login sessions: is the login session an identity cookie names still there?

With a token store, signing out deletes the login session's record; from then on every copy of
that cookie is anonymous. Stores inside the process answer at once (``peek``). Shared stores
(Redis) are asked through a small local cache whose answers are younger than
:data:`CACHE_SECONDS`: another instance's sign-out is seen within that time, and while Redis is
in trouble a cached answer still stands for that long; after that the request gets 503
``token_store_unavailable``, never a signed-in or a signed-out answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import islice

from ._store_ops import StoreOps

__all__ = ["CACHE_SECONDS", "LiveSessions"]

#: How old a cached answer of a shared store may be (the freshness budget is one second).
CACHE_SECONDS = 0.9
_CACHE_ENTRIES = 100_000  # when full, the older half goes in one go


class LiveSessions:
    """Answers whether login sessions are alive, for one store."""

    __slots__ = ("_asking", "_cache", "_key", "_ops", "_peek", "cache_seconds")

    def __init__(
        self, ops: StoreOps, key: Callable[[str], str], cache_seconds: float = CACHE_SECONDS
    ) -> None:
        self._ops = ops
        self._key = key
        self._peek = ops.peek
        self._cache: dict[str, tuple[float, bool]] = {}  # session id: (checked at, alive)
        self._asking: dict[str, asyncio.Future[bool]] = {}  # one question per session at a time
        self.cache_seconds = cache_seconds

    def known(self, session_id: str) -> bool | None:
        """The answer without waiting, or None when the store must be asked (:meth:`check`)."""
        if self._peek is not None:
            return self._peek(self._key(session_id))
        hit = self._cache.get(session_id)
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    async def check(self, session_id: str) -> bool:
        """Ask the store; raises :class:`~tiktok_asgi.stores.TokenStoreError` when it fails.

        Requests of one login session arriving together share one question to the store.
        """
        asking = self._asking.get(session_id)
        if asking is not None:
            return await asyncio.shield(asking)
        asking = self._asking[session_id] = asyncio.get_running_loop().create_future()
        try:
            alive = await self._ops.exists(self._key(session_id))
        except Exception as exc:
            asking.set_exception(exc)
            asking.exception()  # read here: nobody else may be waiting
            raise
        except BaseException:
            asking.cancel()
            raise
        else:
            asking.set_result(alive)
            self._remember(session_id, alive)
            return alive
        finally:
            del self._asking[session_id]

    def started(self, session_id: str) -> None:
        """This process just stored the session: its first requests need not ask."""
        if self._peek is None:
            self._remember(session_id, True)

    def ended(self, session_id: str) -> None:
        """This process ended the session: its own requests see it at once."""
        if self._peek is None:
            self._remember(session_id, False)

    def _remember(self, session_id: str, alive: bool) -> None:
        cache = self._cache
        cache.pop(session_id, None)
        cache[session_id] = (time.monotonic(), alive)
        if len(cache) > _CACHE_ENTRIES:
            self._cache = dict(islice(cache.items(), len(cache) // 2, None))
