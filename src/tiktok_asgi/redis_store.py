"""A token store in Redis, shared by every process and instance of an application.

Needs the ``redis`` extra: ``pip install ".[redis]"`` from a checkout of tiktok-asgi. Values are
the token manager's encrypted records (Redis never sees a token in clear); refresh locks are Redis
locks, so one refresh per login session happens across all instances. Every Redis failure, and
every call slower than ``timeout``, becomes :class:`~tiktok_asgi.stores.TokenStoreError`, which
the middleware answers with 503 ``token_store_unavailable``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

from ._extras import missing_extra
from .stores import TokenStoreError

try:
    from redis.asyncio import Redis
    from redis.asyncio.lock import Lock
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:
    raise missing_extra(__name__, "redis", exc) from exc

__all__ = ["RedisTokenStore"]

_T = TypeVar("_T")
_LOCK_POLL = 0.05  # seconds between attempts to take a refresh lock another process holds
# Adds a member with its expiry time as score, drops expired members, and lets the whole index
# expire with its longest-lived member: the index never outlives the records it points to.
_INDEX_ADD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local old = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not old) or tonumber(old) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(top[2])))
return 1
"""


class RedisTokenStore:
    """:class:`~tiktok_asgi.stores.TokenStore` on Redis (redis-py's asyncio client).

    ``redis`` is a URL (``redis://127.0.0.1:6379/0``, ``rediss://…``, ``unix://…``) or a
    ``redis.asyncio.Redis`` client you configured yourself. ``timeout`` bounds every call, in
    seconds, whatever the client's own settings: a Redis that is down or stalled costs a request
    at most about that long. Clients built here from a URL also get socket timeouts of
    ``timeout`` and one immediate retry (a pooled connection may have died with a restart).
    ``key_prefix`` is prepended to every key, to share one Redis database between applications.

    A client built from a URL is closed by :meth:`aclose`; a client you passed stays yours.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        timeout: float = 2.0,
        key_prefix: str = "",
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.timeout = timeout
        self._prefix = key_prefix
        if isinstance(redis, str):
            self.redis: Redis = Redis.from_url(
                redis,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
            )
            self._owned = True
        elif isinstance(redis, Redis):
            self.redis = redis
            self._owned = False
        else:
            raise TypeError("redis must be a redis:// URL or a redis.asyncio.Redis client")

    def __repr__(self) -> str:
        # The connection details may carry a password: never shown.
        return f"RedisTokenStore(timeout={self.timeout!r}, key_prefix={self._prefix!r})"

    async def get(self, key: str) -> bytes | None:
        value = await self._call(self.redis.get(self._prefix + key))
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, str):  # a client made with decode_responses=True
            raise TokenStoreError("the Redis client must not decode responses")
        raise TokenStoreError(f"Redis answered GET with {type(value).__name__}")

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        await self._call(self.redis.set(self._prefix + key, value, ex=max(1, int(ttl))))

    async def delete(self, key: str) -> None:
        await self._call(self.redis.delete(self._prefix + key))

    async def replace(self, key: str, value: bytes, ttl: int) -> bool:
        """``SET key value XX EX ttl``: written only while the key exists (an ended login
        session's record is never written back)."""
        written = await self._call(
            self.redis.set(self._prefix + key, value, xx=True, ex=max(1, int(ttl)))
        )
        return bool(written)

    async def add_once(self, key: str, ttl: int) -> bool:
        """``SET key 1 NX EX ttl``: True if the key was absent (see
        :class:`~tiktok_asgi.stores.OnceStore`)."""
        added = await self._call(self.redis.set(self._prefix + key, b"1", nx=True, ex=max(1, ttl)))
        return bool(added)

    async def exists(self, key: str) -> bool:
        return bool(await self._call(self.redis.exists(self._prefix + key)))

    async def index_add(self, index: str, member: str, ttl: int) -> None:
        now = time.time()
        script = self.redis.eval(
            _INDEX_ADD, 1, self._prefix + index, now + max(1, int(ttl)), member, now
        )
        await self._call(script)

    async def index_members(self, index: str) -> list[str]:
        found = await self._call(
            self.redis.zrangebyscore(self._prefix + index, time.time(), "+inf")
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def index_remove(self, index: str, member: str) -> None:
        await self._call(self.redis.zrem(self._prefix + index, member))  # an empty set goes too

    @asynccontextmanager
    async def lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109 (the lock's lease, not a call timeout)
        """A Redis lock held at most ``timeout`` seconds, waited for at most as long.

        Raises :class:`TokenStoreError` when Redis fails or the lock stays taken that long.
        """
        lock = Lock(
            self.redis,
            f"{self._prefix}{key}:lock",
            timeout=timeout,
            sleep=_LOCK_POLL,
            blocking_timeout=timeout,
            thread_local=False,
        )
        acquired = await self._call(lock.acquire(), bound=timeout + self.timeout)
        if not acquired:
            raise TokenStoreError(f"the refresh lock stayed taken for {timeout:g} seconds")
        try:
            yield
        finally:
            # Raises (as TokenStoreError) if the lease ran out and another holder took over.
            await self._call(lock.release())

    async def ping(self) -> None:
        """Raises :class:`TokenStoreError` unless Redis answers; e.g. for a readiness probe."""
        await self._call(self.redis.ping())

    async def aclose(self) -> None:
        """Close the connection pool of a client built from a URL."""
        if self._owned:
            await self.redis.aclose()

    async def _call(self, call: Awaitable[_T], bound: float | None = None) -> _T:
        try:
            async with asyncio.timeout(self.timeout if bound is None else bound):
                return await call
        except TimeoutError as exc:
            raise TokenStoreError("Redis did not answer in time") from exc
        except (RedisError, OSError) as exc:
            raise TokenStoreError(f"Redis failed: {type(exc).__name__}") from exc
