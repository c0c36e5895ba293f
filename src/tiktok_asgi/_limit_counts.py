"""Counts of requests per key and window: in this process, or shared through the token store.

A window opens at a key's first request and lasts ``window`` seconds; every request in it adds
one. :class:`LocalCounts` keeps at most ``most`` keys and forgets the oldest beyond that, so
requests from ever new addresses cannot grow memory without bound. :class:`SharedCounts` asks a
token store offering ``count_hit`` (the Redis store does), so that every instance sharing it
counts together; while the store fails, this process counts alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

__all__ = ["CountHit", "LocalCounts", "SharedCounts"]

logger = logging.getLogger("tiktok_asgi")

CountHit = Callable[[str, int], Awaitable[tuple[int, float]]]
"""A store's ``count_hit(key, window)``: the key's count, this request included, and the
seconds left in its window."""

_PAUSE_AFTER_FAILURE = 5.0  # seconds of counting alone before the store is asked again


class LocalCounts:
    """Counts in a dict kept in insertion order: a window that opens moves its key to the end,
    so the first key is the one whose window opened longest ago."""

    __slots__ = ("_entries", "_most")

    def __init__(self, most: int) -> None:
        self._most = most
        self._entries: dict[str, list[float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        entries = self._entries
        entry = entries.get(key)
        if entry is None or entry[1] <= now:
            if entry is not None:
                del entries[key]
            elif len(entries) >= self._most:
                del entries[next(iter(entries))]
            entry = entries[key] = [0, now + window]
        entry[0] += 1
        return int(entry[0]), entry[1] - now


class SharedCounts:
    """Counts through the store's ``count_hit``; on its failure, :class:`LocalCounts` for a few
    seconds, logged once per outage. A failing store never fails a request."""

    __slots__ = ("_count_hit", "_failing", "_local", "_prefix", "_retry_at")

    def __init__(self, count_hit: CountHit, local: LocalCounts, prefix: str) -> None:
        self._count_hit = count_hit
        self._local = local
        self._prefix = prefix  # the store's keys, not this process's
        self._failing = False
        self._retry_at = 0.0

    async def hit(self, key: str, window: int, now: float) -> tuple[int, float]:
        if now >= self._retry_at:
            try:
                counted = await self._count_hit(self._prefix + key, window)
            except Exception as exc:  # any store failure: counted here instead, never a 500
                self._retry_at = now + _PAUSE_AFTER_FAILURE
                if not self._failing:
                    self._failing = True
                    logger.warning(
                        "request limits are counted in this process only: the token store "
                        "failed (%s); other instances' requests are not counted until it is back",
                        type(exc).__name__,
                        extra={"event": "rate_limit_store_failed"},
                    )
            else:
                if self._failing:
                    self._failing = False
                    logger.info(
                        "request limits are counted in the token store again",
                        extra={"event": "rate_limit_store_back"},
                    )
                return counted
        return self._local.hit(key, window, now)
