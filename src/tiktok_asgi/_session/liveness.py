"""Is the login session an identity cookie names still alive?

A login session is alive while its record is in the token store. Stores inside the process
answer at once (``peek``). Shared stores (Redis) are asked through a small local cache whose
answers are younger than :data:`CACHE_SECONDS`: another instance's sign-out is seen within that
time, and while Redis is in trouble a cached answer still stands for that long; after that the
request gets 503 ``token_store_unavailable``, never a signed-in or a signed-out answer.

Ends this process could not write to the store yet (it was down) are held here: they answer
"ended" at once, and are written when the store is back. Open WebSockets wait on
:meth:`LiveSessions.watch` to hear of an end in this process without asking anyone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import islice

from .storage import StoreOps

__all__ = ["CACHE_SECONDS", "LiveSessions"]

#: How old a cached answer of a shared store may be (the freshness budget is one second).
CACHE_SECONDS = 0.9
_CACHE_ENTRIES = 100_000  # when full, the older half goes in one go


class LiveSessions:
    """Answers whether login sessions are alive, for one store."""

    __slots__ = (
        "_asking",
        "_cache",
        "_key",
        "_ops",
        "_peek",
        "_watchers",
        "cache_seconds",
        "clock",
        "unwritten_ends",
    )

    def __init__(
        self, ops: StoreOps, key: Callable[[str], str], cache_seconds: float = CACHE_SECONDS
    ) -> None:
        self._ops = ops
        self._key = key
        self._peek = ops.peek
        self._cache: dict[str, tuple[float, bool]] = {}  # session id: (checked at, alive)
        self._asking: dict[str, asyncio.Future[bool]] = {}  # one question per session at a time
        self._watchers: dict[str, _Watch] = {}
        #: Session id → open_id of ends not yet written to the store (see TokenManager).
        self.unwritten_ends: dict[str, str | None] = {}
        self.cache_seconds = cache_seconds
        self.clock: Callable[[], float] = time.monotonic

    def known(self, session_id: str) -> bool | None:
        """The answer without waiting, or None when the store must be asked (:meth:`check`)."""
        if self.unwritten_ends and session_id in self.unwritten_ends:
            return False
        if self._peek is not None:
            return self._peek(self._key(session_id))
        hit = self._cache.get(session_id)
        if hit is not None and self.clock() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    async def check(self, session_id: str) -> bool:
        """Ask the store; raises :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when it
        fails. Requests of one login session arriving together share one question."""
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
            alive = alive and session_id not in self.unwritten_ends
            asking.set_result(alive)
            self._remember(session_id, alive)
            if not alive:
                self._notify(session_id)
            return alive
        finally:
            del self._asking[session_id]

    async def alive(self, session_id: str) -> bool:
        """:meth:`known`, else :meth:`check`."""
        known = self.known(session_id)
        return known if known is not None else await self.check(session_id)

    def started(self, session_id: str) -> None:
        """This process just stored the session: its first requests need not ask."""
        if self._peek is None:
            self._remember(session_id, True)

    def ended(self, session_id: str) -> None:
        """This process ended the session: its own requests and sockets see it at once."""
        if self._peek is None:
            self._remember(session_id, False)
        self._notify(session_id)

    def watch(self, session_id: str) -> asyncio.Event:
        """An event set when this process learns that the session ended; pair with
        :meth:`unwatch`. A session's sockets share one event."""
        entry = self._watchers.get(session_id)
        if entry is None:
            entry = self._watchers[session_id] = _Watch()
        entry.count += 1
        return entry.event

    def unwatch(self, session_id: str) -> None:
        entry = self._watchers.get(session_id)
        if entry is not None:
            entry.count -= 1
            if entry.count <= 0:
                del self._watchers[session_id]

    def _notify(self, session_id: str) -> None:
        entry = self._watchers.pop(session_id, None)
        if entry is not None:
            entry.event.set()

    def _remember(self, session_id: str, alive: bool) -> None:
        cache = self._cache
        cache.pop(session_id, None)
        cache[session_id] = (self.clock(), alive)
        if len(cache) > _CACHE_ENTRIES:
            self._cache = dict(islice(cache.items(), len(cache) // 2, None))


class _Watch:
    __slots__ = ("count", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.count = 0
