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
import binascii
import hashlib
import logging
import struct
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sized
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

    Every signed-in user costs a record and an index entry here, so both are kept compact: a
    value that is base64url text (a sealed record is) is held as the bytes it spells and spelled
    again when read; an index is one ``bytes`` of its members and their expiry times, under a
    160-bit digest of its name (indexes and once-keys are only ever looked up by name, never
    listed, and are not on a request's path); once-keys, under digests too, leave as new ones
    come once their time is up rather than when the store is full.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._items: dict[str, bytes] = {}  # key: _held(expires at, value)
        self._indexes: dict[bytes, bytes] = {}  # _digest(index): _pack_members({member: until})
        self._once: dict[bytes, float] = {}  # _digest(add_once key): expires at
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if _until(item)[0] <= time.monotonic():
            del self._items[key]
            return None
        return _value(item)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if key not in self._items and len(self._items) >= self._max:
            self._items = _unexpired(self._items, lambda item: _until(item)[0])
            _refuse_when_full(self._items, self._max, "records")
        self._items[key] = _held(time.monotonic() + ttl, value)

    async def replace(self, key: str, value: bytes, ttl: int) -> bool:
        """See :class:`TokenStore`'s optional capabilities: written only while ``key`` lives."""
        if not self.peek(key):
            return False
        self._items[key] = _held(time.monotonic() + ttl, value)
        return True

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)
        if self._once:
            self._once.pop(_digest(key), None)

    def peek(self, key: str) -> bool:
        item = self._items.get(key)
        return item is not None and _until(item)[0] > time.monotonic()

    async def exists(self, key: str) -> bool:
        return self.peek(key)

    async def index_add(self, index: str, member: str, ttl: int) -> None:
        now = time.monotonic()
        name = _digest(index)
        packed = self._indexes.get(name)
        if packed is None and len(self._indexes) >= self._max:  # bounded like the records
            self._indexes = {i: p for i, p in self._indexes.items() if _unpack_members(p, now)}
            _refuse_when_full(self._indexes, self._max, "indexes")
        members = _unpack_members(packed, now) if packed is not None else {}
        members[member] = max(members.get(member, 0.0), now + ttl)
        self._indexes[name] = _pack_members(members)

    async def index_members(self, index: str) -> list[str]:
        packed = self._indexes.get(_digest(index))
        if packed is None:
            return []
        members = _unpack_members(packed, time.monotonic())
        return sorted(members, key=members.__getitem__)

    async def index_remove(self, index: str, member: str) -> None:
        name = _digest(index)
        packed = self._indexes.get(name)
        if packed is None:
            return
        members = _unpack_members(packed, time.monotonic())
        if members.pop(member, None) is None:
            return
        if members:
            self._indexes[name] = _pack_members(members)
        else:
            del self._indexes[name]

    async def add_once(self, key: str, ttl: int) -> bool:
        """See :class:`OnceStore`. Kept apart from the records (``len()`` counts records only),
        bounded like them."""
        now = time.monotonic()
        once = self._once
        name = _digest(key)
        if once.get(name, 0.0) > now:
            return False
        # The oldest keys first: those whose time is up leave as new ones come.
        for _ in range(2):
            oldest = next(iter(once), None)
            if oldest is None or once[oldest] > now:
                break
            del once[oldest]
        if name not in once and len(once) >= self._max:
            self._once = once = _unexpired(once, lambda until: until)
            _refuse_when_full(once, self._max, "once-keys")
        once[name] = now + ttl
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


def _digest(name: str) -> bytes:
    """What an index or a once-key is held under: a third of its name's size (a collision among
    160-bit digests is out of reach)."""
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=20).digest()


# A record as the store holds it, one ``bytes``: its expiry time (a double), whether the value
# was base64url text held as the bytes it spells (a quarter smaller; a sealed record is such
# text), then the value.
_HEAD = struct.Struct("<d?")
_until = struct.Struct("<d").unpack_from
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _held(until: float, value: bytes) -> bytes:
    try:
        raw = binascii.a2b_base64(value.translate(_TO_STANDARD), strict_mode=True)
    except (binascii.Error, TypeError, ValueError):
        return _HEAD.pack(until, False) + value
    if _spelled(raw) != value:
        return _HEAD.pack(until, False) + value  # another spelling of those bytes: kept as is
    return _HEAD.pack(until, True) + raw


def _value(item: bytes) -> bytes:
    data = item[_HEAD.size :]
    return _spelled(data) if item[_HEAD.size - 1] else data


def _spelled(raw: bytes) -> bytes:
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE)


# An index's member: its expiry time (a double), its length in bytes, its UTF-8.
_MEMBER = struct.Struct("<dH")


def _pack_members(members: Mapping[str, float]) -> bytes:
    parts = []
    for member, until in members.items():
        data = member.encode("utf-8", "surrogatepass")
        parts.append(_MEMBER.pack(until, len(data)) + data)
    return b"".join(parts)


def _unpack_members(packed: bytes, now: float) -> dict[str, float]:
    """The members of a packed index whose time is not up at ``now``."""
    members: dict[str, float] = {}
    at = 0
    while at < len(packed):
        until, size = _MEMBER.unpack_from(packed, at)
        at += _MEMBER.size
        if until > now:
            members[packed[at : at + size].decode("utf-8", "surrogatepass")] = until
        at += size
    return members


_K = TypeVar("_K")
_V = TypeVar("_V")


def _unexpired(entries: dict[_K, _V], until: Callable[[_V], float]) -> dict[_K, _V]:
    now = time.monotonic()
    return {k: v for k, v in entries.items() if until(v) > now}


def _refuse_when_full(entries: Sized, limit: int, what: str) -> None:
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
