"""Token records of login sessions: encrypted at rest, refreshed one at a time, revoked.

With a ``token_store`` the identity cookie carries only a random login-session id; the token
response lives in the store, encrypted with keys derived from ``secret_key`` (rotation included).
The manager asks :class:`~tiktok_asgi._tiktok.provider.TikTokProvider` to refresh and revoke.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ._sessions import LiveSessions
from ._store_ops import StoreOps
from ._tiktok.provider import TikTokProvider
from .errors import LoginRequired, TikTokAPIError, TikTokAuthError, TokenStoreUnavailable
from .settings import TikTokSettings
from .stores import TokenStore, TokenStoreError

__all__ = ["TokenManager", "TokenRecord"]

_T = TypeVar("_T")

logger = logging.getLogger("tiktok_asgi")

_REFRESH_LEEWAY = 60  # refresh this many seconds before the access token expires
_KEY_PREFIX = "tiktok_asgi:token:"
_INDEX_PREFIX = "tiktok_asgi:user-sessions:"  # open_id → that user's login sessions
_STATE_PREFIX = "tiktok_asgi:state:"
# TikTok answers these when a refresh token is revoked, expired or already rotated away.
_SIGN_OUT_CODES = frozenset({"invalid_grant", "invalid_request", "access_token_invalid"})


@dataclass(frozen=True, slots=True)
class TokenRecord:
    access_token: str
    expires_at: float
    refresh_token: str | None
    refresh_expires_at: float | None
    scope: str
    open_id: str | None

    @classmethod
    def from_response(cls, token: Mapping[str, Any], now: float) -> TokenRecord:
        refresh_in = token.get("refresh_expires_in")
        return cls(
            access_token=str(token["access_token"]),
            expires_at=now + float(token.get("expires_in") or 0),
            refresh_token=token.get("refresh_token"),
            refresh_expires_at=now + float(refresh_in) if refresh_in else None,
            scope=str(token.get("scope") or ""),
            open_id=token.get("open_id"),
        )

    def ttl(self, now: float) -> int:
        until = self.refresh_expires_at if self.refresh_token and self.refresh_expires_at else None
        return max(1, int((until or self.expires_at) - now))

    def fresh(self, now: float) -> bool:
        return self.expires_at - _REFRESH_LEEWAY > now


def _fernet(secret_keys: tuple[str, ...], client_key: str) -> MultiFernet:
    # Newest key encrypts; every key decrypts (MultiFernet tries them in order). The client key
    # is in the derivation: another app sharing secret_key and the store cannot read the records.
    def derive(key: str) -> Fernet:
        label = b"tiktok-asgi.tokens\x00" + client_key.encode("utf-8") + b"\x00"
        digest = hashlib.sha256(label + key.encode("utf-8")).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    return MultiFernet([derive(k) for k in reversed(secret_keys)])


class TokenManager:
    """Keeps token records for login sessions; refreshes them one at a time per session."""

    def __init__(self, settings: TikTokSettings, store: TokenStore, tiktok: TikTokProvider) -> None:
        if not isinstance(store, TokenStore):
            raise TypeError("token_store must implement get, set, delete and lock")
        self.settings = settings
        self.store = store
        self._tiktok = tiktok
        self._fernet = _fernet(settings.secret_keys, settings.client_key)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.ops = StoreOps(store)
        self.live = LiveSessions(self.ops, _key)

    async def save(self, token: Mapping[str, Any]) -> str:
        """Store a fresh token response; returns the new login-session id."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        record = TokenRecord.from_response(token, now)
        await self._write(session_id, record)
        self.live.started(session_id)
        if record.open_id:
            index = self.ops.index_add(_INDEX_PREFIX + record.open_id, session_id, record.ttl(now))
            await _store_call(index)
        return session_id

    async def end_user(self, open_id: str, *, revoke: bool) -> list[str]:
        """End every login session of ``open_id`` (in every process sharing the store); returns
        the ids of those that were still alive. With ``revoke``, their access tokens are also
        revoked at TikTok (best effort). Raises
        :class:`~tiktok_asgi.errors.TokenStoreUnavailable` when the store fails."""
        index = _INDEX_PREFIX + open_id
        ended = []
        for session_id in await _store_call(self.ops.index_members(index)):
            try:
                record: TokenRecord | None = await self._read(session_id)
            except LoginRequired:
                record = None
            if record is None or record.open_id not in (None, open_id):
                continue
            await self._forget(session_id)
            ended.append(session_id)
            if revoke:
                await self._revoke(record)
        await _store_call(self.ops.index_clear(index))
        return ended

    async def access_token(
        self, session_id: str, *, known: TokenRecord | None = None, rejected: str | None = None
    ) -> TokenRecord:
        """A record whose access token is valid, refreshed first if it expires within a minute.

        ``known`` is the record this request already read (no second read or decryption when it
        is still good). ``rejected`` is a token TikTok just refused: it is refreshed even if not
        yet due, unless another request (in any process sharing the store) already replaced it.
        Concurrent callers wait for one refresh: each re-reads the record before queueing for the
        store's lock, and again once it holds it.
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
            async with self._store_lock(session_id):
                record = await self._read(session_id)  # or one of another process
                if usable(record):
                    return record
                return await self._refresh(session_id, record)

    async def accept_once(self, name: str, ttl: int) -> bool:
        """False if ``name`` (a sign-in answer's state) was already accepted by any process
        sharing the store (its own ``add_once``, :class:`~tiktok_asgi.stores.OnceStore`, or one
        built on ``get``/``set`` under its lock)."""
        return await _store_call(self.ops.add_once(_STATE_PREFIX + name, ttl))

    async def end(self, session_id: str, *, revoke: bool) -> None:
        """Forget a login session; with ``revoke``, also revoke its access token at TikTok
        (best effort: a failure is logged, never raised)."""
        try:
            record: TokenRecord | None = await self._read(session_id)
        except TikTokAuthError:
            record = None
        try:
            await self._forget(session_id)
            if record is not None and record.open_id:
                index = _INDEX_PREFIX + record.open_id
                await _store_call(self.ops.index_remove(index, session_id))
        except TikTokAuthError as exc:
            logger.warning("token_delete_failed code=%s", exc.code, extra={"event": "logout"})
        if revoke and record is not None:
            await self._revoke(record)

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

    async def _refresh(self, session_id: str, record: TokenRecord) -> TokenRecord:
        if not record.refresh_token:
            await self._forget(session_id)
            raise LoginRequired(description="The TikTok access expired and cannot be renewed.")
        try:
            token = await self._tiktok.refresh(record.refresh_token)
        except TikTokAPIError as exc:
            if exc.code in _SIGN_OUT_CODES:
                await self._forget(session_id)
                raise LoginRequired(
                    description="TikTok refused to renew the access.", log_id=exc.log_id
                ) from exc
            raise
        fresh = TokenRecord.from_response(token, time.time())
        if fresh.refresh_token is None:  # TikTok rotates; keep the old one only if none came
            fresh = TokenRecord(**{**asdict(fresh), "refresh_token": record.refresh_token})
        await self._write(session_id, fresh)
        logger.info("token_refreshed", extra={"event": "token_refreshed"})
        return fresh

    def _lock_timeout(self) -> float:
        # Long enough for one refresh round trip, short enough that a crashed holder
        # does not block a session for long.
        return self.settings.http_timeout * 2 + 1

    async def _forget(self, session_id: str) -> None:
        self.live.ended(session_id)
        await _store_call(self.store.delete(_key(session_id)))

    async def _write(self, session_id: str, record: TokenRecord) -> None:
        # The session id inside the ciphertext: a record copied under another session's key
        # in the store is refused on read.
        sealed = {**asdict(record), "sid": session_id}
        blob = self._fernet.encrypt(json.dumps(sealed).encode("utf-8"))
        await _store_call(self.store.set(_key(session_id), blob, record.ttl(time.time())))

    async def _read(self, session_id: str) -> TokenRecord:
        blob = await _store_call(self.store.get(_key(session_id)))
        if blob is None:
            raise LoginRequired(description="This sign-in has no TikTok access any more.")
        try:
            sealed = json.loads(self._fernet.decrypt(blob))
            if sealed.pop("sid", None) != session_id:
                raise ValueError("a record of another login session")
            return TokenRecord(**sealed)
        except (InvalidToken, ValueError, TypeError, AttributeError):
            raise LoginRequired(
                description="This sign-in's TikTok access cannot be read."
            ) from None

    @asynccontextmanager
    async def _store_lock(self, session_id: str) -> AsyncIterator[None]:
        manager = self.store.lock(_key(session_id), self._lock_timeout())
        await _store_call(manager.__aenter__())
        try:
            yield
        finally:
            try:
                await manager.__aexit__(None, None, None)
            except TokenStoreError:
                logger.warning("token store lock release failed")


async def _store_call(call: Awaitable[_T]) -> _T:
    try:
        return await call
    except TokenStoreError as exc:
        raise TokenStoreUnavailable() from exc


def _key(session_id: str) -> str:
    return _KEY_PREFIX + session_id
