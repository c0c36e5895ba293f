"""The moves of a login session's life, with a token store (see the package docstring).

With a ``token_store`` the identity cookie carries only a random login-session id; the token
response lives in the store (:mod:`.records`). :class:`TokenManager` starts sessions, refreshes
their tokens one at a time, and ends them — one session, or every session of a user — so that
an ended session stays ended whatever else is in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

from tiktok_asgi._events import EventSink, client_of
from tiktok_asgi._telemetry import TELEMETRY
from tiktok_asgi._tiktok.provider import TikTokProvider
from tiktok_asgi.errors import LoginRequired, TikTokAPIError, TikTokAuthError, TokenStoreUnavailable
from tiktok_asgi.events import EndCause, RefreshRefused, SessionsEnded, TokenRefreshed, digest
from tiktok_asgi.settings import TikTokSettings
from tiktok_asgi.stores import TokenStore, TokenStoreError

from .liveness import LiveSessions
from .records import Sealer, TokenRecord, record_key
from .storage import StoreOps, store_budget

__all__ = ["MAX_SESSIONS_PER_USER", "TokenManager"]

logger = logging.getLogger("tiktok_asgi")

#: A user's login sessions at most; a new sign-in beyond it ends that user's oldest one, so one
#: account signing in again and again never takes room from anybody else.
MAX_SESSIONS_PER_USER = 50
_INDEX_PREFIX = "tiktok_asgi:user-sessions:"  # open_id → that user's login sessions
_STATE_PREFIX = "tiktok_asgi:state:"
# TikTok answers these when a refresh token is revoked, expired or already rotated away.
_SIGN_OUT_CODES = frozenset({"invalid_grant", "invalid_request", "access_token_invalid"})
_WRITE_TRIES = 3  # a rotated refresh token is written this many times before it is held
_RETRY_FIRST, _RETRY_MOST = 0.25, 5.0  # seconds between writes of what the store missed

Sleep = Callable[[float], Awaitable[object]]


class TokenManager:
    """Keeps token records for login sessions; refreshes them one at a time per session."""

    def __init__(
        self,
        settings: TikTokSettings,
        store: TokenStore,
        tiktok: TikTokProvider,
        *,
        sleep: Sleep = asyncio.sleep,
        events: EventSink | None = None,
    ) -> None:
        if not isinstance(store, TokenStore):
            raise TypeError("token_store must implement get, set, delete and lock")
        self.settings = settings
        self.store = store
        self.sleep = sleep
        #: Where the audit events of the sessions' moves go.
        self.events = events if events is not None else EventSink()
        self._tiktok = tiktok
        self._sealer = Sealer(settings)
        self._max_age = settings.cookie_max_age
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.ops = StoreOps(store)
        self.live = LiveSessions(self.ops, record_key, keep=self._max_age)
        self._unsaved: dict[str, TokenRecord] = {}  # rotated tokens the store has not taken yet
        # The refresh locks of those sessions, kept until then: no other instance can refresh
        # with the refresh token TikTok has already rotated away.
        self._leases: dict[str, _Lease] = {}
        self._retrying: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """At start-up: open the store's connections (if it can) and follow its feed of ends,
        so that the first requests find both ready. A store that cannot be reached yet is
        logged, not fatal: requests answer 503 until it is back."""
        opening = getattr(self.store, "start", None)
        if callable(opening):
            try:
                await opening()
            except TokenStoreError as exc:
                logger.warning("token_store_not_reachable_at_startup: %s", exc)
        self.live.start_following()

    async def aclose(self) -> None:
        """At shutdown: stop following the store's feed of ends, and stop writing what the
        store missed (what is still held is lost with the process: logged)."""
        await self.live.stop()
        retrying, self._retrying = self._retrying, None
        if retrying is not None and not retrying.done():
            retrying.cancel()
            await asyncio.wait({retrying}, timeout=5.0)  # a command under way is bounded
        if self.live.unwritten_ends or self._unsaved:
            logger.error(
                "held_writes_lost ends=%d tokens=%d: the store was away until shutdown",
                len(self.live.unwritten_ends),
                len(self._unsaved),
                extra={"event": "session_ended"},
            )

    def budget(self) -> AbstractAsyncContextManager[None]:
        """One deadline for a request's store calls (the store's own ``timeout``, or 2 s)."""
        return store_budget(self.ops.budget)

    # signed in ----------------------------------------------------------------------------------

    async def save(self, token: Mapping[str, Any]) -> str:
        """Start a login session for a fresh token response; returns its id."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        record = TokenRecord.from_response(token, now)
        ttl = self._ttl(record, now)
        if record.open_id:
            # Indexed before it exists: no session can escape its user's sign-out everywhere.
            await self.ops.index_add(_INDEX_PREFIX + record.open_id, session_id, ttl)
        await self.ops.create(record_key(session_id), self._seal(session_id, record), ttl)
        self.live.started(session_id)
        if record.open_id:
            await self._keep_room(record.open_id)
        return session_id

    async def _keep_room(self, open_id: str) -> None:
        members = await self.ops.index_members(_INDEX_PREFIX + open_id)
        for oldest in members[: max(0, len(members) - MAX_SESSIONS_PER_USER)]:
            await self._end_in_store(oldest, open_id)
            await self.events.emit(
                SessionsEnded(open_id=open_id, session=digest(oldest), count=1, cause="too_many")
            )

    async def report_ended(
        self, open_id: str, count: int, cause: EndCause, client: str | None = None
    ) -> None:
        """The audit event of :meth:`end_user`'s ``count`` sessions ended, for ``cause``."""
        await self.events.emit(
            SessionsEnded(open_id=open_id, count=count, cause=cause, client=client)
        )

    async def accept_once(self, name: str, ttl: int) -> bool:
        """False if ``name`` (a sign-in answer's state) was already accepted by any process
        sharing the store."""
        return await self.ops.add_once(_STATE_PREFIX + name, ttl)

    # refreshed ----------------------------------------------------------------------------------

    async def access_token(
        self,
        session_id: str,
        *,
        known: TokenRecord | None = None,
        rejected: str | None = None,
        client: object = None,
    ) -> TokenRecord:
        """A record whose access token is valid, refreshed first if it expires within a minute.

        ``known`` is the record this request already read. ``rejected`` is a token TikTok just
        refused: it is refreshed even if not yet due, unless another request (in any process
        sharing the store) already replaced it. Concurrent callers wait for one refresh: each
        re-reads the record before queueing for the store's lock, and again once it holds it.
        ``client``: the request's ASGI ``client``, for the audit events.
        """

        def usable(record: TokenRecord) -> bool:
            return record.fresh(time.time()) and record.access_token != rejected

        if known is not None and usable(known):
            return known
        record = await self._read(session_id)
        if usable(record):
            return record
        local = self._locks.get(session_id)
        if local is None:
            local = self._locks[session_id] = asyncio.Lock()
        async with local:
            record = await self._read(session_id)  # a request of this process may have refreshed
            if usable(record):
                return record
            async with self._store_lock(session_id) as lease:
                record = await self._read(session_id)  # or one of another process
                if usable(record):
                    return record
                with TELEMETRY.span("tiktok_asgi.refresh", open_id=record.open_id):
                    return await self._refresh(session_id, record, lease, client)

    async def extend(self, session_id: str, record: TokenRecord) -> bool:
        """The identity cookie is re-issued: the record lives as long as the new cookie can.
        False when the session ended meanwhile."""
        return await self._write(session_id, record)

    async def _refresh(
        self, session_id: str, record: TokenRecord, lease: _Lease, client: object
    ) -> TokenRecord:
        open_id, session, address = record.open_id, digest(session_id), client_of(client)
        if not record.refresh_token:
            await self._end_or_hold(session_id, record.open_id)
            await self.events.emit(
                RefreshRefused(
                    code="no_refresh_token", open_id=open_id, session=session, client=address
                )
            )
            raise LoginRequired(description="The TikTok access expired and cannot be renewed.")
        try:
            token = await self._tiktok.refresh(record.refresh_token)
        except TikTokAPIError as exc:
            if exc.code not in _SIGN_OUT_CODES:
                raise
            current = await self._read(session_id)
            if current.refresh_token != record.refresh_token and current.fresh(time.time()):
                return current  # another instance rotated it meanwhile: not a refusal of ours
            await self._end_or_hold(session_id, record.open_id)
            refused = RefreshRefused(
                code=exc.code, log_id=exc.log_id, open_id=open_id, session=session, client=address
            )
            await self.events.emit(refused)
            raise LoginRequired(
                description="TikTok refused to renew the access.", log_id=exc.log_id
            ) from exc
        fresh = TokenRecord.from_response(token, time.time())
        if fresh.refresh_token is None:  # TikTok rotates; keep the old one only if none came
            fresh = replace(fresh, refresh_token=record.refresh_token)
        await self._keep_rotated(session_id, fresh, lease)
        refreshed = TokenRefreshed(
            log_id=_log_id(token), open_id=open_id, session=session, client=address
        )
        await self.events.emit(refreshed)
        return fresh

    async def _keep_rotated(self, session_id: str, fresh: TokenRecord, lease: _Lease) -> None:
        """The old refresh token no longer works: the new record reaches the store, or is held
        here and written when the store is back. Never written over, nor handed out for, a
        session this process knows has ended (its end may still be held for the store)."""
        for attempt in range(_WRITE_TRIES):
            if self.live.known(session_id) is False:
                raise LoginRequired(description="This sign-in has ended.")
            try:
                if not await self._write(session_id, fresh):
                    raise LoginRequired(description="This sign-in has ended.")
                if self.live.known(session_id) is False:  # ended while the write was on its way
                    raise LoginRequired(description="This sign-in has ended.")
                # An older rotated token still held here (its lease ran out while the store
                # was away) is now stale: written later, it would undo this refresh.
                if session_id in self._unsaved:
                    await self._forget_held(session_id)
                return
            except TokenStoreUnavailable:
                if attempt + 1 < _WRITE_TRIES:
                    await self.sleep(_RETRY_FIRST * (attempt + 1))
        alive = self.live.known(session_id)
        if alive is False:
            # Ended here while TikTok answered: the new tokens belong to nobody.
            raise LoginRequired(description="This sign-in has ended.")
        logger.warning("token_write_held", extra={"event": "token_refreshed"})
        self._unsaved[session_id] = fresh
        lease.kept = True
        self._leases[session_id] = lease
        self._start_retrying()
        if alive is None:
            # Nobody can vouch that the session still lives (it may have ended elsewhere):
            # kept for the store, handed out to nobody until it can be checked again.
            raise TokenStoreUnavailable()

    # ended --------------------------------------------------------------------------------------

    async def end(self, session_id: str, *, revoke: bool) -> None:
        """End one login session (sign-out); with ``revoke``, also revoke its access token at
        TikTok (best effort). When the store cannot be reached the end is held in this
        process (the session is ended here at once, and in the store once it is back) and
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable` is raised."""
        self.live.ended(session_id)
        await self._forget_held(session_id)
        record: TokenRecord | None = None
        try:
            record = await self._read_or_none(session_id)
            await self._end_in_store(session_id, record.open_id if record else None)
        except TokenStoreUnavailable:
            self._hold_end(session_id, record.open_id if record else None)
            raise
        if revoke and record is not None:
            await self._revoke(record)

    async def end_user(self, open_id: str, *, revoke: bool) -> list[str]:
        """End every login session of ``open_id`` in every process sharing the store; returns
        the ids of those that were still alive. Only the sessions ended leave the user's index:
        one started meanwhile stays listed, so a later end still finds it. Raises
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store fails."""
        ended: list[str] = []
        for session_id in await self.ops.index_members(_INDEX_PREFIX + open_id):
            record = await self._read_or_none(session_id)
            if record is not None and record.open_id not in (None, open_id):
                continue  # not this user's: never ended through another user's index
            await self._end_in_store(session_id, open_id)
            if record is not None:
                if revoke and not ended:
                    # One revoke disconnects the app from the user: every token goes with it.
                    await self._revoke(record)
                ended.append(session_id)
        return ended

    async def _end_or_hold(self, session_id: str, open_id: str | None) -> None:
        try:
            await self._end_in_store(session_id, open_id)
        except TokenStoreUnavailable:
            self._hold_end(session_id, open_id)

    async def _end_in_store(self, session_id: str, open_id: str | None) -> None:
        """Ended here at once; in the store now, or (when it fails) held until it is back."""
        self.live.ended(session_id)
        await self._forget_held(session_id)
        try:
            await self.ops.end(record_key(session_id), self._max_age)
            if open_id:
                await self.ops.index_remove(_INDEX_PREFIX + open_id, session_id)
        except TokenStoreUnavailable:
            self._hold_end(session_id, open_id)
            raise

    async def _forget_held(self, session_id: str) -> None:
        """A held rotated token of an ended session is written nowhere; its lock goes."""
        self._unsaved.pop(session_id, None)
        lease = self._leases.pop(session_id, None)
        if lease is not None:
            await lease.release()

    def _hold_end(self, session_id: str, open_id: str | None) -> None:
        self.live.unwritten_ends[session_id] = open_id
        logger.warning("session_end_held", extra={"event": "session_ended"})
        self._start_retrying()

    def _start_retrying(self) -> None:
        if self._retrying is None or self._retrying.done():
            # A context of its own: not bound by the deadline of the request that started it.
            self._retrying = asyncio.get_running_loop().create_task(
                self.write_held(), context=contextvars.Context()
            )

    async def write_held(self) -> None:
        """Write what the store missed (ends, rotated tokens) until it has taken all of it."""
        delay = _RETRY_FIRST
        while self.live.unwritten_ends or self._unsaved:
            await self.sleep(delay)
            try:
                for session_id, open_id in list(self.live.unwritten_ends.items()):
                    await self._end_in_store(session_id, open_id)
                    del self.live.unwritten_ends[session_id]
                for session_id, record in list(self._unsaved.items()):
                    await self._write(session_id, record)  # False: it ended meanwhile
                    if self._unsaved.get(session_id) is record:
                        await self._forget_held(session_id)
            except TokenStoreUnavailable:
                delay = min(delay * 2, _RETRY_MOST)
            else:
                delay = _RETRY_FIRST
        logger.info("held_writes_done", extra={"event": "session_ended"})

    async def _revoke(self, record: TokenRecord) -> None:
        try:
            await self._tiktok.revoke(record.access_token)
        except TikTokAuthError as exc:
            logger.warning(
                "revoke_failed code=%s log_id=%s",
                exc.code,
                exc.log_id,
                extra={"event": "logout", "code": exc.code, "log_id": exc.log_id},
            )

    # the store ----------------------------------------------------------------------------------

    def _ttl(self, record: TokenRecord, now: float) -> int:
        # Never longer than the identity cookie that names it can live.
        return min(record.ttl(now), self._max_age)

    def _seal(self, session_id: str, record: TokenRecord) -> bytes:
        return self._sealer.seal(session_id, record)

    async def _write(self, session_id: str, record: TokenRecord) -> bool:
        """Write over the session's record, only while it is alive."""
        blob = self._seal(session_id, record)
        return await self.ops.replace(record_key(session_id), blob, self._ttl(record, time.time()))

    async def _read(self, session_id: str) -> TokenRecord:
        record = await self._read_or_none(session_id)
        if record is None:
            raise LoginRequired(description="This sign-in has no TikTok access any more.")
        return record

    async def _read_or_none(self, session_id: str) -> TokenRecord | None:
        held = self._unsaved.get(session_id)
        if held is not None:
            return held  # newer than the store's copy
        blob = await self.ops.get(record_key(session_id))
        return None if blob is None else self._sealer.open(session_id, blob)

    def _lock_timeout(self) -> float:
        # Long enough for one refresh round trip, short enough that a crashed holder
        # does not block a session for long.
        return self.settings.http_timeout * 2 + 1

    @asynccontextmanager
    async def _store_lock(self, session_id: str) -> AsyncIterator[_Lease]:
        manager = self.store.lock(record_key(session_id), self._lock_timeout())
        await self.ops.call(manager.__aenter__(), "lock")
        lease = _Lease(manager)
        try:
            yield lease
        finally:
            if not lease.kept:
                await lease.release()


class _Lease:
    """A held refresh lock; ``kept`` hands its release to whoever writes the held tokens."""

    __slots__ = ("_manager", "kept")

    def __init__(self, manager: AbstractAsyncContextManager[None]) -> None:
        self._manager = manager
        self.kept = False

    async def release(self) -> None:
        try:
            await self._manager.__aexit__(None, None, None)
        except TokenStoreError:
            logger.warning("token store lock release failed")


def _log_id(token: Mapping[str, Any]) -> str | None:
    log_id = token.get("log_id")
    return log_id if isinstance(log_id, str) and log_id else None
