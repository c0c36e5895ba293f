"""Ends of login sessions pushed to every instance: a follower of the store's feed of ends.

A store that can (:class:`~tiktok_asgi.redis_store.RedisTokenStore`, with a Redis stream)
publishes every end of a session *before* it deletes the record, and each instance follows
that feed from its last position: after a reconnect it reads what it missed, so no end is lost.
While the follower is caught up and in recent contact, liveness is answered in the process
without asking the store (:mod:`.liveness`); memory is one entry per end still within a
cookie's lifetime, however many sessions there are.

A feed has an **epoch**: a value the store keeps beside it, made once, naming when the feed
began (the store's clock). A new epoch means the store lost its data or failed over to a copy
that never had it: ends may have been missed, so sessions signed in before the new epoch are
checked with the store once more before they are answered locally again.

When the follower loses the feed (the store fails, the read stalls), liveness falls back to
asking the store per request at once, and the log says so; it goes back to local answers when
the follower has caught up.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from tiktok_asgi.stores import TokenStoreError

__all__ = ["FRESH_SECONDS", "WAIT_SECONDS", "EndFeed", "EndsFollower", "EndsRead"]

logger = logging.getLogger("tiktok_asgi")

#: How long one read of the feed waits for an end before it answers "none yet".
WAIT_SECONDS = 0.25
#: Local answers are given only this soon after the feed last answered: a feed that went
#: silent (a stalled connection) costs at most this long before the store is asked again.
FRESH_SECONDS = 0.75
_RETRY_FIRST, _RETRY_MOST = 0.05, 2.0  # seconds between attempts to reach a lost feed
_STOP_WAIT = 5.0  # seconds a stop waits for the read under way (bounded by the store)
_PRUNE_EVERY = 60.0  # seconds between drops of ends older than a cookie's lifetime


@dataclass(frozen=True, slots=True)
class EndsRead:
    """One read of the feed: its epoch, when that epoch began (seconds since the epoch of the
    store's clock), the position after the keys read, the ended records' keys, and whether the
    read reached the end of the feed."""

    epoch: str
    since: float
    position: str
    keys: list[str]
    caught_up: bool


@runtime_checkable
class EndFeed(Protocol):
    """What a store offers to push ends to every instance (optional)."""

    async def end_record(self, key: str, keep: int) -> None:
        """Publish the end of ``key``'s record (kept in the feed ``keep`` seconds), then
        delete the record."""

    async def read_ends(self, after: str, wait: float) -> EndsRead | None:
        """The ends after ``after`` (``"0"``: from the oldest kept), waiting up to ``wait``
        seconds for one; None once the store is closed."""


Sleep = Callable[[float], Awaitable[object]]


class EndsFollower:
    """Follows one store's feed; ``on_end(key)`` hears of each end."""

    __slots__ = (
        "_on_end",
        "_pruned",
        "_read",
        "_task",
        "caught_up",
        "clock",
        "contact",
        "ended",
        "epoch",
        "keep",
        "position",
        "since",
        "sleep",
        "wall",
    )

    def __init__(
        self,
        read: Callable[[str, float], Awaitable[EndsRead | None]],
        on_end: Callable[[str], None],
        keep: float,
    ) -> None:
        self._read = read
        self._on_end = on_end
        self.keep = keep
        #: Key → when the end was read (wall clock), for ends still within a cookie's lifetime.
        self.ended: dict[str, float] = {}
        self.epoch: str | None = None
        self.since = float("inf")  # no epoch yet: no cookie is recent enough
        self.position = "0"
        self.caught_up = False
        self.contact = float("-inf")
        self.clock: Callable[[], float] = time.monotonic
        self.wall: Callable[[], float] = time.time
        self.sleep: Sleep = asyncio.sleep
        self._task: asyncio.Task[None] | None = None
        self._pruned = 0.0

    def fresh(self) -> bool:
        """Caught up, and the feed answered recently: local answers hold."""
        return self.caught_up and self.clock() - self.contact < FRESH_SECONDS

    def ensure_running(self) -> None:
        """Start following in the running loop (again, if a previous loop went away)."""
        task = self._task
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        # A context of its own: not bound by the deadline of the request that started it.
        self._task = loop.create_task(self.follow(), context=contextvars.Context())

    async def stop(self) -> None:
        """Stop after the read under way: a Redis command cancelled halfway can leave its
        connection out of step, so it is only cancelled if it overstays its own bound."""
        task, self._task = self._task, None
        self.caught_up = False
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return
        done, _ = await asyncio.wait({task}, timeout=_STOP_WAIT)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=_STOP_WAIT)

    async def follow(self) -> None:
        """Read the feed until stopped; a lost feed is retried with backoff."""
        me = asyncio.current_task()
        delay = _RETRY_FIRST
        while self._task is me:  # a stop, or a newer follower, ends this one
            try:
                read = await self._read(self.position, WAIT_SECONDS)
            except Exception as exc:
                if not isinstance(exc, TokenStoreError | OSError | TimeoutError):
                    logger.exception("session_feed_failed", extra={"event": "session_feed"})
                self._lost(type(exc).__name__)
                if self._task is not me:
                    return
                await self.sleep(delay)
                delay = min(delay * 2, _RETRY_MOST)
                continue
            delay = _RETRY_FIRST
            if read is None:  # the store was closed
                self.caught_up = False
                if self._task is me:
                    self._task = None
                return
            if self._task is me:
                self.take(read, after=self.position)

    def take(self, read: EndsRead, after: str) -> None:
        """Apply one read of the feed, made from position ``after``."""
        if read.epoch != self.epoch:
            if self.epoch is not None:
                logger.warning(
                    "session_feed_restarted: the store's feed of ended sessions began again "
                    "(it lost its data or failed over); sessions signed in before are checked "
                    "with the store",
                    extra={"event": "session_feed"},
                )
            self.epoch, self.since = read.epoch, read.since
            self.caught_up = False
            if after != "0":
                self.position = "0"  # a new feed: read it from its start
                return
        now = self.wall()
        ended = self.ended
        on_end = self._on_end
        for key in read.keys:
            ended[key] = now
            on_end(key)
        self.position = read.position
        self.contact = self.clock()
        if read.caught_up and not self.caught_up:
            self.caught_up = True
            logger.info(
                "session_feed_following: ended sessions are answered in this process",
                extra={"event": "session_feed"},
            )
        if now - self._pruned > _PRUNE_EVERY:
            self._pruned = now
            oldest = now - self.keep
            if ended and next(iter(ended.values())) < oldest:
                self.ended = {k: t for k, t in ended.items() if t >= oldest}

    def _lost(self, why: str) -> None:
        if self.caught_up:
            logger.warning(
                "session_feed_lost (%s): asking the store on each request until it is back",
                why,
                extra={"event": "session_feed"},
            )
        self.caught_up = False
