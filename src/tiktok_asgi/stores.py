"""Where token records live: the :class:`TokenStore` protocol and the in-process store.

Stores keep opaque, already-encrypted bytes under opaque keys; they never see a token in clear.
:class:`~tiktok_asgi.redis_store.RedisTokenStore` is the store shared by many processes.

Besides the four methods every store has, a store may offer optional capabilities; the
middleware looks for them once, at start-up, and builds each from ``get``/``set``/``delete``/
``lock`` when it is missing (see :mod:`tiktok_asgi._session.storage`):

- ``async exists(key) -> bool``: whether a key is there (else ``get(key) is not None``);
- ``async replace(key, value, ttl) -> bool``: write ``value`` only if ``key`` holds a value
  now, atomically (Redis: ``SET key value XX EX ttl``); False when it does not. Without it,
  an end marker is written beside each ended record and checked around each write;
- ``async add_once(key, ttl) -> bool``: remember ``key`` for ``ttl`` seconds unless it is
  remembered already; true when it was new (:class:`OnceStore`);
- ``async index_add(index, member, ttl)``, ``async index_members(index) -> list[str]`` (oldest
  first, by expiry), ``async index_remove(index, member)``: a set of members, each kept ``ttl``
  seconds (the open_id → login sessions index; ending sessions removes exactly those ended);
- ``peek(key) -> bool`` (synchronous): for stores inside the process only, whose answer costs no
  waiting; such stores are asked on every request, others through a cache of at most a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["MemoryTokenStore", "OnceStore", "TokenStore", "TokenStoreError"]

logger = logging.getLogger("tiktok_asgi")


class TokenStoreError(Exception):
    """The token store could not be reached or answered wrongly."""


@runtime_checkable
class TokenStore(Protocol):
    """Where encrypted token records live; keys are opaque strings, values opaque bytes."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: int) -> None: ...

    async def delete(self, key: str) -> None: ...

    def lock(self, key: str, timeout: float) -> AbstractAsyncContextManager[None]:
        """Mutual exclusion for refreshing one login session, as wide as the store is shared."""
        ...


@runtime_checkable
class OnceStore(Protocol):
    """An optional capability of a :class:`TokenStore`: remember a key once, atomically.

    Each sign-in answer (its ``state``) is accepted once, and each webhook delivery handled once,
    across every process sharing the store. A store without it gets the same from ``get``/``set``
    under its ``lock`` (one more round trip); it is not part of :class:`TokenStore`, so stores
    written before it keep working.
    """

    async def add_once(self, key: str, ttl: int) -> bool:
        """Store ``key`` for ``ttl`` seconds unless present; True if it was absent (Redis:
        ``SET key 1 NX EX ttl``)."""
        ...


class MemoryTokenStore:
    """An in-process store for one process and tests.

    It never drops a live record to make room: entries leave when they expire. ``max_entries``
    bounds the records (and, apart, the indexes and once-keys); when it is reached and nothing
    has expired, a new record is refused with :class:`TokenStoreError` (the sign-in answers 503
    ``token_store_unavailable``) and an error is logged, so a full store is seen, never silent.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._items: dict[str, tuple[float, bytes]] = {}
        self._indexes: dict[str, dict[str, float]] = {}  # index: {member: expires at}
        self._once: dict[str, float] = {}  # add_once keys: expiry times
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            del self._items[key]
            return None
        return item[1]

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if key not in self._items and len(self._items) >= self._max:
            self._items = _unexpired(self._items, lambda item: item[0])
            _refuse_when_full(self._items, self._max, "records")
        self._items[key] = (time.monotonic() + ttl, value)

    async def replace(self, key: str, value: bytes, ttl: int) -> bool:
        """See :class:`TokenStore`'s optional capabilities: written only while ``key`` lives."""
        if not self.peek(key):
            return False
        self._items[key] = (time.monotonic() + ttl, value)
        return True

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)
        self._once.pop(key, None)

    def peek(self, key: str) -> bool:
        item = self._items.get(key)
        return item is not None and item[0] > time.monotonic()

    async def exists(self, key: str) -> bool:
        return self.peek(key)

    async def index_add(self, index: str, member: str, ttl: int) -> None:
        now = time.monotonic()
        members = self._indexes.get(index)
        if members is None:
            if len(self._indexes) >= self._max:  # bounded like the records, never evicting
                self._indexes = {
                    i: ms for i, ms in self._indexes.items() if any(t > now for t in ms.values())
                }
                _refuse_when_full(self._indexes, self._max, "indexes")
            members = self._indexes[index] = {}
        for old in [m for m, until in members.items() if until <= now]:
            del members[old]
        members[member] = max(members.get(member, 0.0), now + ttl)

    async def index_members(self, index: str) -> list[str]:
        now = time.monotonic()
        members = self._indexes.get(index, {})
        return [m for m, until in sorted(members.items(), key=lambda mt: mt[1]) if until > now]

    async def index_remove(self, index: str, member: str) -> None:
        members = self._indexes.get(index)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._indexes[index]

    async def add_once(self, key: str, ttl: int) -> bool:
        """See :class:`OnceStore`. Kept apart from the records (``len()`` counts records only),
        bounded like them."""
        now = time.monotonic()
        if self._once.get(key, 0.0) > now:
            return False
        if key not in self._once and len(self._once) >= self._max:
            self._once = _unexpired(self._once, lambda until: until)
            _refuse_when_full(self._once, self._max, "once-keys")
        self._once[key] = now + ttl
        return True

    @asynccontextmanager
    async def lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109 (the protocol's lock lease, not a call timeout)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    def __len__(self) -> int:
        return len(self._items)


_V = TypeVar("_V")


def _unexpired(entries: dict[str, _V], until: Callable[[_V], float]) -> dict[str, _V]:
    now = time.monotonic()
    return {k: v for k, v in entries.items() if until(v) > now}


def _refuse_when_full(entries: Mapping[str, object], limit: int, what: str) -> None:
    if len(entries) >= limit:
        logger.error(
            "memory_token_store_full %s=%d: raise max_entries or use RedisTokenStore",
            what,
            limit,
            extra={"event": "token_store_full"},
        )
        raise TokenStoreError(
            f"MemoryTokenStore holds {limit} live {what}: raise max_entries, or share a "
            "RedisTokenStore"
        )
