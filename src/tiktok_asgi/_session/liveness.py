"""Is the login session an identity cookie names still alive?

A login session is alive while its record is in the token store. Stores inside the process
answer at once (``peek``). A shared store with a feed of ends (Redis) pushes every end to every
instance (:mod:`.feed`): while this instance follows the feed, a session is answered here, with
no store call: ended if the feed said so, else alive when its cookie was signed after the
feed's epoch began (a cookie naming a session is signed only right after its record was read or
written, so any later end is in the feed), or when the store vouched for it since.

Otherwise (a store without a feed, or the feed lost) the store is asked through a small local
cache whose answers are younger than :data:`CACHE_SECONDS`: another instance's sign-out is seen
within that time, and while the store is in trouble a cached answer still stands for that long;
after that the request gets 503 ``token_store_unavailable``, never a signed-in or a signed-out
answer.

Ends this process could not write to the store yet (it was down) are held here: they answer
"ended" at once, and are written when the store is back. Open WebSockets wait on
:meth:`LiveSessions.watch` to hear of an end in this process without asking anyone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import islice

from .feed import EndsFollower
from .storage import StoreOps

__all__ = ["CACHE_SECONDS", "CLOCK_SKEW", "LiveSessions"]

#: How old a cached answer of a shared store may be (the freshness budget is one second).
CACHE_SECONDS = 0.9
#: Cookies signed this close to the feed's epoch are vouched for by the store, not the epoch:
#: the instances' clocks and the store's may differ by this much.
CLOCK_SKEW = 300.0
_CACHE_ENTRIES = 100_000  # when full, the older half goes in one go


class LiveSessions:
    """Answers whether login sessions are alive, for one store."""

    __slots__ = (
        "_asking",
        "_cache",
        "_key",
        "_ops",
        "_peek",
        "_vouched",
        "_vouched_epoch",
        "_watchers",
        "cache_seconds",
        "clock",
        "feed",
        "unwritten_ends",
    )

    def __init__(
        self,
        ops: StoreOps,
        key: Callable[[str], str],
        cache_seconds: float = CACHE_SECONDS,
        *,
        keep: float = 0.0,
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
        #: The follower of the store's feed of ends (``keep``: a cookie's lifetime), if any.
        self.feed: EndsFollower | None = (
            EndsFollower(ops.read_ends, self._feed_ended, keep)
            if ops.read_ends is not None and self._peek is None
            else None
        )
        # Sessions the store said were alive while the feed followed this epoch.
        self._vouched: set[str] = set()
        self._vouched_epoch: str | None = None

    def known(self, session_id: str, issued: float | None = None) -> bool | None:
        """The answer without waiting, or None when the store must be asked (:meth:`check`).
        ``issued``: when the identity cookie naming the session was signed, if known."""
        if self.unwritten_ends and session_id in self.unwritten_ends:
            return False
        if self._peek is not None:
            return self._peek(self._key(session_id))
        feed = self.feed
        if feed is not None and feed.fresh():
            if self._key(session_id) in feed.ended:
                return False
            if issued is not None and issued >= feed.since + CLOCK_SKEW:
                return True
            if session_id in self._vouched and self._vouched_epoch == feed.epoch:
                return True
        hit = self._cache.get(session_id)
        if hit is not None and self.clock() - hit[0] < self.cache_seconds:
            return hit[1]
        return None

    async def check(self, session_id: str) -> bool:
        """Ask the store; raises :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when it
        fails. Requests of one login session arriving together share one question."""
        feed = self.feed
        if feed is not None:
            feed.ensure_running()
        asking = self._asking.get(session_id)
        if asking is not None:
            return await asyncio.shield(asking)
        asking = self._asking[session_id] = asyncio.get_running_loop().create_future()
        # The feed's state before the question: a vouch holds only if no end can have slipped
        # between the two (the feed followed this epoch all along).
        epoch = feed.epoch if feed is not None and feed.caught_up else None
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
            if feed is not None and epoch is not None:
                if alive and feed.caught_up and feed.epoch == epoch:
                    self._vouch(session_id, epoch)
                elif alive and self._key(session_id) in feed.ended:
                    alive = False  # ended while the question was on its way
            asking.set_result(alive)
            self._remember(session_id, alive)
            if not alive:
                self._notify(session_id)
            return alive
        finally:
            del self._asking[session_id]

    async def alive(self, session_id: str, issued: float | None = None) -> bool:
        """:meth:`known`, else :meth:`check`."""
        known = self.known(session_id, issued)
        return known if known is not None else await self.check(session_id)

    def following(self) -> bool:
        """Whether ends reach this process from the store's feed right now."""
        feed = self.feed
        return feed is not None and feed.fresh()

    def start_following(self) -> None:
        """Follow the store's feed of ends from now on (else from the first question)."""
        if self.feed is not None:
            self.feed.ensure_running()

    async def stop(self) -> None:
        """Stop following the feed (at shutdown)."""
        if self.feed is not None:
            await self.feed.stop()

    def _vouch(self, session_id: str, epoch: str) -> None:
        if self._vouched_epoch != epoch:
            self._vouched = set()
            self._vouched_epoch = epoch
        elif len(self._vouched) >= _CACHE_ENTRIES:
            self._vouched.clear()  # asked again once: cheaper than tracking their age
        self._vouched.add(session_id)

    def _feed_ended(self, key: str) -> None:
        """An end arrived from the feed: this process's sockets of that session close now."""
        session_id = self._session_of(key)
        if session_id is not None:
            self._cache.pop(session_id, None)
            self._vouched.discard(session_id)
            self._notify(session_id)

    def _session_of(self, key: str) -> str | None:
        prefix = self._key("")
        return key[len(prefix) :] if key.startswith(prefix) else None

    def started(self, session_id: str) -> None:
        """This process just stored the session: its first requests need not ask."""
        if self._peek is None:
            self._remember(session_id, True)

    def ended(self, session_id: str) -> None:
        """This process ended the session: its own requests and sockets see it at once."""
        if self._peek is None:
            self._remember(session_id, False)
            self._vouched.discard(session_id)
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
