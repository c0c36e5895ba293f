"""The optional capabilities of a token store, each found once or built from the basic four.

A user's :class:`~tiktok_asgi.stores.TokenStore` may implement only ``get``, ``set``,
``delete`` and ``lock``; :class:`StoreOps` then builds presence checks, set-if-absent and the
open_id → login sessions index on them (read-modify-write under the store's lock, so it is as
safe across processes as the store's lock is).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .stores import TokenStore

__all__ = ["StoreOps"]

_INDEX_LOCK_LEASE = 5.0  # seconds; an index update is one read and one write


class StoreOps:
    """The capabilities the live sessions need, on any :class:`TokenStore`."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        self.peek: Callable[[str], bool] | None = _method(store, "peek")
        self.exists: Callable[[str], Awaitable[bool]] = _method(store, "exists") or self._exists
        self.add_once: Callable[[str, int], Awaitable[bool]] = (
            _method(store, "add_once") or self._add_once
        )
        self.index_add: Callable[[str, str, int], Awaitable[None]] = (
            _method(store, "index_add") or self._index_add
        )
        self.index_members: Callable[[str], Awaitable[list[str]]] = (
            _method(store, "index_members") or self._index_members
        )
        self.index_remove: Callable[[str, str], Awaitable[None]] = (
            _method(store, "index_remove") or self._index_remove
        )
        self.index_clear: Callable[[str], Awaitable[None]] = (
            _method(store, "index_clear") or store.delete
        )

    async def _exists(self, key: str) -> bool:
        return await self.store.get(key) is not None

    async def _add_once(self, key: str, ttl: int) -> bool:
        async with self.store.lock(key, _INDEX_LOCK_LEASE):
            if await self.store.get(key) is not None:
                return False
            await self.store.set(key, b"1", ttl)
            return True

    async def _index_add(self, index: str, member: str, ttl: int) -> None:
        async with self.store.lock(index, _INDEX_LOCK_LEASE):
            now = time.time()
            members = {m: t for m, t in (await self._read_index(index)).items() if t > now}
            members[member] = max(members.get(member, 0.0), now + ttl)
            longest = max(1, int(max(members.values()) - now) + 1)
            await self.store.set(index, json.dumps(members).encode(), longest)

    async def _index_remove(self, index: str, member: str) -> None:
        async with self.store.lock(index, _INDEX_LOCK_LEASE):
            now = time.time()
            members = {m: t for m, t in (await self._read_index(index)).items() if t > now}
            if members.pop(member, None) is None:
                return
            if not members:
                await self.store.delete(index)
                return
            longest = max(1, int(max(members.values()) - now) + 1)
            await self.store.set(index, json.dumps(members).encode(), longest)

    async def _index_members(self, index: str) -> list[str]:
        now = time.time()
        return [m for m, t in (await self._read_index(index)).items() if t > now]

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
