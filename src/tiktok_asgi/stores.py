"""Where token records live: the :class:`TokenStore` protocol and the in-process store.

Stores keep opaque, already-encrypted bytes under opaque keys; they never see a token in clear.
:class:`~tiktok_asgi.redis_store.RedisTokenStore` is the store shared by many processes.

Besides the four methods every store has, a store may offer optional capabilities; the
middleware looks for them once, at start-up, and builds each from ``get``/``set``/``delete``/
``lock`` when it is missing (see :mod:`tiktok_asgi._store_ops`):

- ``async exists(key) -> bool``: whether a key is there (else ``get(key) is not None``);
- ``async add_once(key, ttl) -> bool``: remember ``key`` for ``ttl`` seconds unless it is
  remembered already; true when it was new (:class:`OnceStore`);
- ``async index_add(index, member, ttl)``, ``async index_members(index) -> list[str]``,
  ``async index_remove(index, member)``, ``async index_clear(index)``: a set of members, each
  kept ``ttl`` seconds (the open_id → login sessions index);
- ``peek(key) -> bool`` (synchronous): for stores inside the process only, whose answer costs no
  waiting; such stores are asked on every request, others through a cache of at most a second.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, runtime_checkable

__all__ = ["MemoryTokenStore", "OnceStore", "TokenStore", "TokenStoreError"]


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
    """A bounded in-process store for one process and tests (oldest entries evicted first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
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
        self._items.pop(key, None)
        while len(self._items) >= self._max:
            del self._items[next(iter(self._items))]
        self._items[key] = (time.monotonic() + ttl, value)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def peek(self, key: str) -> bool:
        item = self._items.get(key)
        return item is not None and item[0] > time.monotonic()

    async def exists(self, key: str) -> bool:
        return self.peek(key)

    async def index_add(self, index: str, member: str, ttl: int) -> None:
        now = time.monotonic()
        members = self._indexes.get(index)
        if members is None:
            while len(self._indexes) >= self._max:  # bounded like the records
                del self._indexes[next(iter(self._indexes))]
            members = self._indexes[index] = {}
        for old in [m for m, until in members.items() if until <= now]:
            del members[old]
        members[member] = max(members.get(member, 0.0), now + ttl)

    async def index_members(self, index: str) -> list[str]:
        now = time.monotonic()
        return [m for m, until in self._indexes.get(index, {}).items() if until > now]

    async def index_remove(self, index: str, member: str) -> None:
        members = self._indexes.get(index)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._indexes[index]

    async def index_clear(self, index: str) -> None:
        self._indexes.pop(index, None)

    async def add_once(self, key: str, ttl: int) -> bool:
        """See :class:`OnceStore`. Kept apart from the records (``len()`` counts records only),
        bounded like them."""
        now = time.monotonic()
        if self._once.get(key, 0.0) > now:
            return False
        if len(self._once) >= self._max:
            self._once = {k: t for k, t in self._once.items() if t > now}
            while len(self._once) >= self._max:
                del self._once[next(iter(self._once))]
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
