"""Where token records live: the :class:`TokenStore` protocol and the in-process store.

Stores keep opaque, already-encrypted bytes under opaque keys; they never see a token in clear.
:class:`~tiktok_asgi.redis_store.RedisTokenStore` is the store shared by many processes.
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

    With it, each sign-in answer (its ``state``) is accepted once across every process sharing
    the store; without it, once per process. Not part of :class:`TokenStore`, so stores written
    before it keep working.
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
