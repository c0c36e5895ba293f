"""A token store in Redis, shared by every process and instance of an application.

Needs the ``redis`` extra: ``pip install ".[redis]"`` from a checkout of tiktok-asgi. Values are
the token manager's encrypted records (Redis never sees a token in clear); refresh locks are Redis
locks, so one refresh per login session happens across all instances. Every Redis failure, and
every call slower than ``timeout``, becomes :class:`~tiktok_asgi.stores.TokenStoreError`, which
the middleware answers with 503 ``token_store_unavailable``.

Three ways to reach Redis:

- one server (or a managed primary behind one address): a URL, or a ``redis.asyncio.Redis``;
- Sentinel: :meth:`RedisTokenStore.sentinel`, or a client from
  ``redis.asyncio.sentinel.Sentinel(...).master_for(name)``. A failover is 503s while it lasts,
  then the store talks to the new primary by itself;
- Redis Cluster: a ``redis.asyncio.RedisCluster`` client. Records, users' indexes, refresh
  locks and request-limit counts are each read and written alone (every command, script and
  pipeline of theirs touches one key), so they need no shared hash slot and spread over the
  masters by their whole name.
  Keys a pipeline reads together share a ``{…}`` tag: the stream of ended sessions and its
  epoch (``{ends}``). A ``key_prefix`` holding ``{…}`` would put every key in one slot.

Redis replicates asynchronously: a write a primary acknowledged may be missing from the replica
that a failover promotes (a session signed in just before is gone, an ended one is back).
``replicas=N`` closes that gap, at a price in availability: see :class:`RedisTokenStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from . import _redis_feed
from ._extras import missing_extra
from ._session.feed import EndsRead
from .stores import TokenStoreError

try:
    from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
    from redis.asyncio.client import Pipeline
    from redis.asyncio.lock import Lock
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisClusterException, RedisError
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
# One key, one round trip, atomic: the count, with its window opened at the first request.
_COUNT_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('PTTL', KEYS[1])}
"""

_POOL_SIZE = 20  # connections per Redis server, opened by start() and kept
_HEALTH_CHECK = 60.0  # seconds a pooled connection may idle before a PING checks it first
_FOLLOW_EVERY = 0.5  # seconds between two resets of the connections after a replica shortfall
# Opening a connection costs no round trip beyond TCP's (a distant Redis makes each as slow as
# the command that needed the connection): RESP2, which needs no HELLO (a URL's ``protocol=3``
# still wins), and no CLIENT SETINFO, only a name in CLIENT LIST.
_LEAN: dict[str, Any] = {
    "protocol": 2,
    **(
        {"driver_info": None}
        if importlib.util.find_spec("redis.driver_info") is not None
        else {"lib_name": None, "lib_version": None}
    ),
}


async def _connected(connection: Any) -> None:
    """Set up a connection just opened. It is healthy: its first command needs no PING first."""
    interval = connection.health_check_interval
    connection.next_health_check = asyncio.get_running_loop().time() + interval
    await connection.on_connect()


def _connection_options(timeout: float, connect_timeout: float) -> dict[str, Any]:
    """How the store's own clients open and use connections."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": _HEALTH_CHECK,
        "retry": Retry(NoBackoff(), 1),  # a pooled connection may have died with a restart
        "redis_connect_func": _connected,
        **_LEAN,
    }


class _NotReplicated(RedisError):
    """Fewer replicas than the store asks for acknowledged a write in time."""


# Commands that write no data (SCRIPT LOAD only caches a script): answered at once, without
# waiting for replicas. Any other command counts as a write.
_READS = frozenset(
    {"DBSIZE", "ECHO", "EXISTS", "GET", "INFO", "MGET", "PING", "PTTL", "ROLE", "SCAN", "SCRIPT",
     "TIME", "TTL", "TYPE", "WAIT", "WAITAOF", "XLEN", "XRANGE", "XREAD", "XREVRANGE", "ZCARD",
     "ZRANGE", "ZRANGEBYSCORE", "ZSCORE"}
)  # fmt: skip


def _writes(args: tuple[Any, ...]) -> bool:
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return name.split(" ", 1)[0].upper() not in _READS  # "SCRIPT LOAD" is one argument


class _ReplicatedRedis(Redis):
    """A client whose every write is followed, on the same connection and in the same round
    trip, by ``WAIT replicas``: it counts as done only once that many replicas have it;
    otherwise :class:`_NotReplicated` is raised (the write may still have happened)."""

    replicas = 1
    wait_ms = 500

    _next_follow = 0.0

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return _ReplicatedPipeline(self, transaction, shard_hint)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not _writes(args):
            plain: Any = super()  # redis-py leaves these untyped
            return await plain.execute_command(*args, **options)
        pipe: Any = self.pipeline(transaction=False)
        async with pipe:
            pipe.pipeline_execute_command(*args, **options)
            (result,) = await pipe.execute()
        return result

    async def follow_primary(self) -> None:
        """Behind Sentinel, drop the connections (those in use once they are given back): the
        next ones ask Sentinel where the primary is now, rather than talk on to an old one that
        a failover left behind until Sentinel turns it into a replica."""
        pool = self.connection_pool
        now = time.monotonic()
        if not isinstance(pool, SentinelConnectionPool) or now < self._next_follow:
            return
        self._next_follow = now + _FOLLOW_EVERY
        await pool.disconnect(inuse_connections=False)
        mark = getattr(pool, "update_active_connections_for_reconnect", None)
        if mark is not None:
            await mark()


class _ReplicatedPipeline(Pipeline):
    """A pipeline of :class:`_ReplicatedRedis`: ``WAIT`` after its commands if one writes."""

    def __init__(self, client: _ReplicatedRedis, transaction: bool, shard_hint: str | None):
        super().__init__(client.connection_pool, client.response_callbacks, transaction, shard_hint)
        self._client = client

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if not any(_writes(args) for args, _ in self.command_stack):
            return await super().execute(raise_on_error)
        queue: Any = self  # redis-py leaves these untyped
        if self.is_transaction or self.explicit_transaction or self.watching:
            # WAIT inside MULTI answers at once, without waiting.
            await queue.reset()
            raise RedisError("with replicas, the store's pipelines run with transaction=False")
        client = self._client
        queue.pipeline_execute_command("WAIT", client.replicas, client.wait_ms)
        results = await super().execute(raise_on_error)
        acked = results.pop()
        if not isinstance(acked, int) or acked < client.replicas:
            await client.follow_primary()
            raise _NotReplicated(f"{acked} of {client.replicas} replicas acknowledged in time")
        return results


class _StoreLock(Lock):
    """redis-py's lock, given back at once when taking it was not confirmed by the replicas:
    taken but unconfirmed, it would block every refresh of its session for the whole lease."""

    async def do_acquire(self, token: str | bytes) -> bool:
        try:
            return await super().do_acquire(token)
        except _NotReplicated:
            with contextlib.suppress(RedisError):  # not ours, or not confirmed either: still gone
                await self.do_release(token.encode() if isinstance(token, str) else token)
            raise


class _SentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, bounded: a caller waits for a free connection rather than opening one
    more or failing."""


class RedisTokenStore:
    """:class:`~tiktok_asgi.stores.TokenStore` on Redis (redis-py's asyncio client).

    ``redis`` is a URL (``redis://127.0.0.1:6379/0``, ``rediss://…``, ``unix://…``: one server)
    or a client you configured yourself: a ``redis.asyncio.Redis`` (Sentinel's ``master_for``
    gives one too) or a ``redis.asyncio.RedisCluster``; :meth:`sentinel` builds the client for
    Sentinel. ``timeout`` bounds every call, in seconds, whatever the client's own settings: a
    Redis that is down or stalled costs a request at most about that long (a request's calls
    share it). ``key_prefix`` is prepended to every key, to share one Redis database between
    applications.

    Clients built here (from a URL, or by :meth:`sentinel`) keep a warm, bounded pool: at most
    ``pool_size`` connections per server, opened ahead of need by :meth:`start` and kept; a call
    finding them all busy waits for one rather than opening more. Opening one costs no round
    trip beyond TCP's (RESP2 without ``HELLO``, no ``CLIENT SETINFO``, no PING before its first
    command); one idle for a minute is checked with a PING before it is used again. Socket
    timeouts are ``timeout``, and ``connect_timeout`` (default ``timeout``) to open a connection,
    with one immediate retry (a pooled connection may have died with a restart). A Redis far
    away then makes requests slower, not failed.

    ``replicas=N`` (default 0) follows every write, in the same round trip, with ``WAIT N``: it
    counts as done only once ``N`` replicas have it; otherwise it is a 503, and the session code
    holds what it must not lose (an end, a rotated refresh token) and writes it again later.
    Sentinel may promote any replica, so only ``N`` equal to the number of replicas makes sure
    that a failover loses no session and brings back no ended one; with fewer, such losses are
    rarer, not impossible. The price: each write waits for the replicas (on one network, well
    under a millisecond, and no extra round trip from the application); and while fewer than
    ``N`` replicas follow the primary, every write is 503 (sign-ins, sign-outs, refreshes;
    signed-in requests that need none still work). After a failover that lasts until the old
    primary is back as a replica (Sentinel makes it one about ten seconds later) or another
    replica has joined. With ``replicas=0``, a failover forgets the writes of its last moments,
    and those that connections still talking to the old primary make until Sentinel demotes it.
    ``replicas`` needs one primary (a URL, a ``Redis`` or Sentinel client), not Redis Cluster;
    with a client you passed, the store uses that client's connection pool.

    A client built here is closed by :meth:`aclose`; a client you passed stays yours.
    """

    def __init__(
        self,
        redis: str | Redis | RedisCluster,
        *,
        timeout: float = 2.0,
        key_prefix: str = "",
        replicas: int = 0,
        pool_size: int = _POOL_SIZE,
        connect_timeout: float | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        if connect_timeout is not None and not connect_timeout > 0:
            raise ValueError("connect_timeout must be a positive number of seconds")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ValueError("replicas must be a whole number, 0 or more")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError("pool_size must be a whole number, 1 or more")
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.replicas = replicas
        self._prefix = key_prefix
        self._closed = False
        self._reading: asyncio.Future[EndsRead] | None = None
        self._warm = 1  # connections per server that start() opens
        self._sentinel: Sentinel | None = None
        self._started = False
        self._starting = asyncio.Lock()
        self.redis: Redis | RedisCluster
        if isinstance(redis, str):
            pool = BlockingConnectionPool.from_url(
                redis,
                max_connections=pool_size,
                timeout=timeout,  # waiting for a free connection
                **_connection_options(timeout, self.connect_timeout),
            )
            self.redis = (_ReplicatedRedis if replicas else Redis).from_pool(pool)
            self._owned = True
            self._warm = pool_size
        elif isinstance(redis, RedisCluster):
            if replicas:
                raise ValueError("replicas needs one primary: a URL, a Redis or Sentinel client")
            self.redis = redis
            self._owned = False
        elif isinstance(redis, Redis):
            if replicas and not isinstance(redis, _ReplicatedRedis):
                redis = _ReplicatedRedis(connection_pool=redis.connection_pool)
            self.redis = redis
            self._owned = False
        else:
            raise TypeError(
                "redis must be a redis:// URL, a redis.asyncio.Redis or a "
                "redis.asyncio.RedisCluster client"
            )
        if isinstance(self.redis, _ReplicatedRedis):
            self.redis.replicas = replicas
            # A quarter of the budget: an old primary answers 503 soon, not at the deadline.
            self.redis.wait_ms = max(1, int(timeout * 250))

    @classmethod
    def sentinel(
        cls,
        sentinels: Iterable[tuple[str, int]],
        service_name: str,
        *,
        password: str | None = None,
        sentinel_password: str | None = None,
        db: int = 0,
        timeout: float = 2.0,
        key_prefix: str = "",
        replicas: int = 0,
        pool_size: int = _POOL_SIZE,
        connect_timeout: float | None = None,
    ) -> RedisTokenStore:
        """A store on the primary that Sentinel knows as ``service_name``; ``sentinels`` are
        the sentinels' ``(host, port)``. ``password`` is Redis's, ``sentinel_password`` the
        sentinels' own if they have one; the rest is as for a URL.

        Each connection asks Sentinel where the primary is when it opens. After a failover the
        old primary's connections go (when it refuses writes as a replica, or, with
        ``replicas``, at its first write no replica confirms): requests are 503 while the
        primary changes, then the store works on the new one by itself. :meth:`aclose` closes
        the connections to the sentinels too.
        """
        connect = timeout if connect_timeout is None else connect_timeout
        sentinel = Sentinel(
            list(sentinels),
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": connect,
                "password": sentinel_password,
                **_LEAN,
            },
        )
        client = sentinel.master_for(
            service_name,
            redis_class=_ReplicatedRedis if replicas else Redis,
            connection_pool_class=_SentinelPool,
            max_connections=pool_size,
            timeout=timeout,  # waiting for a free connection
            password=password,
            db=db,
            **_connection_options(timeout, connect),
        )
        store = cls(
            client,
            timeout=timeout,
            key_prefix=key_prefix,
            replicas=replicas,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
        )
        store._owned = True
        store._sentinel = sentinel
        store._warm = pool_size
        return store

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

    async def count_hit(self, key: str, window: int) -> tuple[int, float]:
        """One more request counted under ``key`` in a window of ``window`` seconds opened by
        its first: the count, this one included, and the seconds left in the window. The
        request limits of every instance sharing this store count together through it."""
        window_ms = max(1, int(window)) * 1000
        count, left_ms = await self._call(
            self.redis.eval(_COUNT_HIT, 1, self._prefix + key, window_ms)
        )
        return int(count), max(0, int(left_ms)) / 1000

    @asynccontextmanager
    async def lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109 (the lock's lease, not a call timeout)
        """A Redis lock held at most ``timeout`` seconds, waited for at most as long.

        Raises :class:`TokenStoreError` when Redis fails or the lock stays taken that long. With
        ``replicas``, taking it is a write like any other; taken but not confirmed, it is given
        back at once.
        """
        lock = _StoreLock(
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

    # The feed of ended login sessions: pushed to every instance (see _redis_feed). ------------

    async def end_record(self, key: str, keep: int) -> None:
        """Publish the end of ``key``'s record to every instance, then delete it."""
        await _redis_feed.end_record(self.redis, self._call, self._prefix, key, keep)

    async def read_ends(self, after: str, wait: float) -> EndsRead | None:
        """The ends published after position ``after``, waiting up to ``wait`` seconds; None
        once the store is closed (its followers stop)."""
        if self._closed:
            return None
        reading = self._reading = asyncio.ensure_future(
            _redis_feed.read_ends(self.redis, self._call, self._prefix, self.timeout, after, wait)
        )
        try:
            return await reading
        finally:
            self._reading = None

    async def ping(self) -> None:
        """Raises :class:`TokenStoreError` unless Redis answers; e.g. for a readiness probe."""
        await self._call(self.redis.ping())

    async def start(self) -> None:
        """Open the pool's connections now, each answering a PING, rather than when requests
        need them (``pool_size`` per server for a client built here, one per server for a
        client you passed). Optional, and idempotent: call it at start-up, e.g. from the
        application's lifespan. Raises :class:`TokenStoreError` when none could be opened; the
        store still opens connections as it needs them."""
        async with self._starting:
            if self._started:
                return
            await self._call(self._open(), bound=self.connect_timeout + self.timeout)
            self._started = True

    async def _open(self) -> None:
        pings: list[Awaitable[Any]]
        if isinstance(self.redis, RedisCluster):
            cluster = self.redis
            await cluster.initialize()
            pings = [
                cluster.execute_command("PING", target_nodes=node)
                for node in cluster.get_primaries()
                for _ in range(self._warm)
            ]
        else:
            pings = [self.redis.ping() for _ in range(self._warm)]
        # All at once: each PING holds a connection of its own until it is answered.
        answers = await asyncio.gather(*pings, return_exceptions=True)
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed and len(failed) == len(answers):
            raise failed[0]

    async def aclose(self) -> None:
        """Stop the feed's followers; close the connections of a client built here (from a URL
        or by :meth:`sentinel`).

        A read of the feed under way is let finish (it is bounded): a Redis command cancelled
        halfway can leave its connection out of step, and hang a loop that cancels it."""
        self._closed = True
        reading = self._reading
        if reading is not None:
            await asyncio.wait({reading}, timeout=self.timeout + 1)
        if self._owned:
            await self.redis.aclose()
            if self._sentinel is not None:
                await self._sentinel.aclose()

    async def _call(self, call: Awaitable[_T], bound: float | None = None) -> _T:
        if self._closed:
            # A task still running after shutdown (held writes) must not reopen connections
            # that nobody would close.
            if inspect.iscoroutine(call):
                call.close()
            raise TokenStoreError("the token store is closed")
        try:
            async with asyncio.timeout(self.timeout if bound is None else bound):
                return await call
        except TimeoutError as exc:
            raise TokenStoreError("Redis did not answer in time") from exc
        except _NotReplicated as exc:
            raise TokenStoreError(f"Redis failed: {exc}") from exc
        except (RedisError, RedisClusterException, OSError) as exc:
            raise TokenStoreError(f"Redis failed: {type(exc).__name__}") from exc
