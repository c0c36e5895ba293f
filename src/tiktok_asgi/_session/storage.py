"""The token store as the session code uses it: optional capabilities found once (or built from
the basic four), every call under the current request's one deadline.

A user's :class:`~tiktok_asgi.stores.TokenStore` may implement only ``get``, ``set``,
``delete`` and ``lock``; :class:`StoreOps` then builds the rest on them:

- ``replace`` (write a record only while it is still there: what keeps an ended login session
  ended) with an end marker checked before and after the write, so an ``end`` that runs
  between the two still wins, without holding a lock across a call to TikTok;
- presence checks, set-if-absent and the open_id → login sessions index (read-modify-write
  under the store's lock, as safe across processes as that lock).

A request's store calls share one deadline (:func:`store_budget`): a slow store costs a request
at most that long however many calls it makes, not one timeout per call.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any, TypeVar

from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi.errors import TokenStoreUnavailable
from tiktok_asgi.stores import TokenStore, TokenStoreError

from .feed import EndsRead

__all__ = ["StoreOps", "store_budget"]

_T = TypeVar("_T")

_INDEX_LOCK_LEASE = 5.0  # seconds; an index update is one read and one write
_ENDED_SUFFIX = ":ended"  # the end marker of stores without their own ``replace``
_DEFAULT_BUDGET = 2.0  # seconds of store work per request, for stores that state no timeout

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tiktok_asgi_store_deadline", default=None
)


@asynccontextmanager
async def store_budget(seconds: float) -> AsyncIterator[None]:
    """Every store call inside shares one deadline, ``seconds`` from now (an enclosing budget,
    if any, stays in force)."""
    if _deadline.get() is not None:
        yield
        return
    token = _deadline.set(asyncio.get_running_loop().time() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class StoreOps:
    """The capabilities the login sessions need, on any :class:`TokenStore`."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        timeout = getattr(store, "timeout", None)
        self.budget = float(timeout) if isinstance(timeout, int | float) else _DEFAULT_BUDGET
        self.peek: Callable[[str], bool] | None = _method(store, "peek")
        self._exists = _method(store, "exists") or self._exists_by_get
        self._add_once = _method(store, "add_once") or self._add_once_locked
        self._replace = _method(store, "replace")
        self._index_add = _method(store, "index_add") or self._index_add_locked
        self._index_members = _method(store, "index_members") or self._index_members_read
        self._index_remove = _method(store, "index_remove") or self._index_remove_locked
        # A feed of ends (see .feed): ends published to every instance, read by a follower.
        self._end_record = _method(store, "end_record")
        self.read_ends: Callable[[str, float], Awaitable[EndsRead | None]] | None = _method(
            store, "read_ends"
        )

    # Every call: one deadline per request, one error type. -------------------------------------

    async def call(self, call: Awaitable[_T], operation: str = "call") -> _T:
        """``call`` under the request's deadline; the store's failure is
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable`. Timed, with telemetry, as
        ``operation``."""
        if not TELEMETRY.measuring:
            return await self._call(call)
        attributes = {"operation": operation}
        started = perf_counter()
        try:
            return await self._call(call)
        except TokenStoreUnavailable:
            TELEMETRY.add("tiktok_asgi.store.errors", attributes)
            raise
        finally:
            TELEMETRY.record("tiktok_asgi.store.duration", perf_counter() - started, attributes)

    async def _call(self, call: Awaitable[_T]) -> _T:
        deadline = _deadline.get()
        try:
            if deadline is None:
                return await call
            async with asyncio.timeout_at(deadline):
                return await call
        except TimeoutError as exc:
            raise TokenStoreUnavailable() from exc
        except TokenStoreError as exc:
            raise TokenStoreUnavailable() from exc

    async def get(self, key: str) -> bytes | None:
        return await self.call(self.store.get(key), "get")

    async def create(self, key: str, value: bytes, ttl: int) -> None:
        await self.call(self.store.set(key, value, ttl), "create")

    async def exists(self, key: str) -> bool:
        return await self.call(self._exists(key), "exists")

    async def add_once(self, key: str, ttl: int) -> bool:
        return await self.call(self._add_once(key, ttl), "add_once")

    async def delete(self, key: str) -> None:
        await self.call(self.store.delete(key), "delete")

    async def replace(self, key: str, value: bytes, ttl: int) -> bool:
        """Write ``value`` only if ``key`` still holds a record; False (and nothing written)
        once it was ended or has expired."""
        if self._replace is not None:
            return bool(await self.call(self._replace(key, value, ttl), "replace"))
        return await self.call(self._replace_checked(key, value, ttl), "replace")

    async def end(self, key: str, ttl: int) -> None:
        """Remove a record for good: no ``replace`` brings it back. With a feed of ends, the
        end is published first (kept ``ttl`` seconds: as long as a cookie may name it)."""
        if self._end_record is not None:
            await self.call(self._end_record(key, ttl), "end")
            return
        if self._replace is None:
            # The marker first: a replace that already checked it re-checks after its write.
            await self.call(self.store.set(key + _ENDED_SUFFIX, b"1", ttl), "end")
        await self.call(self.store.delete(key), "end")

    async def index_add(self, index: str, member: str, ttl: int) -> None:
        await self.call(self._index_add(index, member, ttl), "index_add")

    async def index_members(self, index: str) -> list[str]:
        """The members, oldest (earliest to expire) first."""
        return list(await self.call(self._index_members(index), "index_members"))

    async def index_remove(self, index: str, member: str) -> None:
        await self.call(self._index_remove(index, member), "index_remove")

    def lock(self, key: str, timeout: float) -> Any:
        return self.store.lock(key, timeout)

    # Built from get/set/delete/lock. -----------------------------------------------------------

    async def _exists_by_get(self, key: str) -> bool:
        return await self.store.get(key) is not None

    async def _replace_checked(self, key: str, value: bytes, ttl: int) -> bool:
        marker = key + _ENDED_SUFFIX
        if await self.store.get(marker) is not None or await self.store.get(key) is None:
            return False
        await self.store.set(key, value, ttl)
        if await self.store.get(marker) is not None:  # ended while we wrote: it stays ended
            await self.store.delete(key)
            return False
        return True

    async def _add_once_locked(self, key: str, ttl: int) -> bool:
        async with self.store.lock(key, _INDEX_LOCK_LEASE):
            if await self.store.get(key) is not None:
                return False
            await self.store.set(key, b"1", ttl)
            return True

    async def _index_add_locked(self, index: str, member: str, ttl: int) -> None:
        async with self.store.lock(index, _INDEX_LOCK_LEASE):
            now = time.time()
            members = {m: t for m, t in (await self._read_index(index)).items() if t > now}
            members[member] = max(members.get(member, 0.0), now + ttl)
            await self._write_index(index, members, now)

    async def _index_remove_locked(self, index: str, member: str) -> None:
        async with self.store.lock(index, _INDEX_LOCK_LEASE):
            now = time.time()
            members = {m: t for m, t in (await self._read_index(index)).items() if t > now}
            if members.pop(member, None) is not None:
                await self._write_index(index, members, now)

    async def _write_index(self, index: str, members: dict[str, float], now: float) -> None:
        if not members:
            await self.store.delete(index)
            return
        longest = max(1, int(max(members.values()) - now) + 1)
        await self.store.set(index, json.dumps(members).encode(), longest)

    async def _index_members_read(self, index: str) -> list[str]:
        now = time.time()
        members = [(t, m) for m, t in (await self._read_index(index)).items() if t > now]
        return [m for _, m in sorted(members)]

    async def _read_index(self, index: str) -> dict[str, float]:
        blob = await self.store.get(index)
        if blob is None:
            return {}
        try:
            found: Any = json.loads(blob)
        except ValueError:
            return {}
        if not isinstance(found, dict):
            return {}
        return {str(m): float(t) for m, t in found.items() if isinstance(t, int | float)}


def _method(store: TokenStore, name: str) -> Any:
    found = getattr(store, name, None)
    return found if callable(found) else None
