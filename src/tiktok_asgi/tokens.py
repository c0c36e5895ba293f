"""Server-side token storage, encrypted at rest, with single-flight refresh and revocation.

With a ``token_store`` the identity cookie carries only a random login-session id; the token
response lives in the store, encrypted with keys derived from ``secret_key`` (rotation included).
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
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from starlette.requests import HTTPConnection
from starlette.types import Scope

from ._http import SharedTransport
from .envelope import read_oauth_response
from .errors import TikTokAPIError, TikTokAuthError
from .provider import reaching_tiktok
from .settings import TikTokSettings

if TYPE_CHECKING:
    from .provider import TikTokOAuthApp

__all__ = [
    "LoginSession",
    "MemoryTokenStore",
    "TokenManager",
    "TokenStore",
    "TokenStoreError",
    "get_access_token",
]

logger = logging.getLogger("tiktok_asgi")

_REFRESH_LEEWAY = 60  # refresh this many seconds before the access token expires
_KEY_PREFIX = "tiktok_asgi:token:"
# TikTok answers these when a refresh token is revoked, expired or already rotated away.
_SIGN_OUT_CODES = frozenset({"invalid_grant", "invalid_request", "access_token_invalid"})


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


class MemoryTokenStore:
    """A bounded in-process store for one process and tests (oldest entries evicted first)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._items: dict[str, tuple[float, bytes]] = {}
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

    @asynccontextmanager
    async def lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109 (the protocol's lock lease, not a call timeout)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    def __len__(self) -> int:
        return len(self._items)


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


def _fernet(secret_keys: tuple[str, ...]) -> MultiFernet:
    # Newest key encrypts; every key decrypts (MultiFernet tries them in order).
    def derive(key: str) -> Fernet:
        digest = hashlib.sha256(b"tiktok-asgi.tokens\x00" + key.encode("utf-8")).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    return MultiFernet([derive(k) for k in reversed(secret_keys)])


class TokenManager:
    """Keeps token records for login sessions; refreshes them one at a time per session."""

    def __init__(
        self,
        settings: TikTokSettings,
        store: TokenStore,
        oauth: TikTokOAuthApp,
        transport: SharedTransport,
    ) -> None:
        if not isinstance(store, TokenStore):
            raise TypeError("token_store must implement get, set, delete and lock")
        self.settings = settings
        self.store = store
        self.transport = transport
        self._oauth = oauth
        self._fernet = _fernet(settings.secret_keys)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def save(self, token: Mapping[str, Any]) -> str:
        """Store a fresh token response; returns the new login-session id."""
        session_id = secrets.token_urlsafe(32)
        await self._write(session_id, TokenRecord.from_response(token, time.time()))
        return session_id

    async def access_token(self, session_id: str, *, rejected: str | None = None) -> str:
        """A valid access token, refreshed first if it expires within a minute.

        ``rejected`` is a token TikTok just refused: it is refreshed even if not yet due, unless
        another request (in any process sharing the store) already replaced it.
        """

        def usable(record: TokenRecord) -> bool:
            return record.fresh(time.time()) and record.access_token != rejected

        record = await self._read(session_id)
        if usable(record):
            return record.access_token
        local = self._locks.get(session_id)
        if local is None:
            local = self._locks[session_id] = asyncio.Lock()
        async with local, self._store_call(self.store.lock(_key(session_id), self._lock_timeout())):
            record = await self._read(session_id)  # another request may have refreshed it
            if usable(record):
                return record.access_token
            record = await self._refresh(session_id, record)
        return record.access_token

    async def end(self, session_id: str, *, revoke: bool) -> None:
        """Forget a login session; with ``revoke``, also revoke its access token at TikTok
        (best effort: a failure is logged, never raised)."""
        try:
            record = await self._read(session_id)
        except TikTokAuthError:
            record = None
        try:
            await self._store(self.store.delete(_key(session_id)))
        except TikTokAuthError as exc:
            logger.warning("token_delete_failed code=%s", exc.code, extra={"event": "logout"})
        if revoke and record is not None:
            await self._revoke(record.access_token)

    async def _refresh(self, session_id: str, record: TokenRecord) -> TokenRecord:
        if not record.refresh_token:
            await self._forget(session_id)
            raise _login_required("The TikTok access expired and cannot be renewed.")
        try:
            async with reaching_tiktok("token endpoint"), self._oauth_client() as client:
                token = await client.refresh_token(
                    self.settings.token_url, refresh_token=record.refresh_token
                )
        except TikTokAPIError as exc:
            if exc.code in _SIGN_OUT_CODES:
                await self._forget(session_id)
                raise _login_required("TikTok refused to renew the access.", exc.log_id) from exc
            raise
        fresh = TokenRecord.from_response(token, time.time())
        if fresh.refresh_token is None:  # TikTok rotates; keep the old one only if none came
            fresh = TokenRecord(**{**asdict(fresh), "refresh_token": record.refresh_token})
        await self._write(session_id, fresh)
        logger.info("token_refreshed", extra={"event": "token_refreshed"})
        return fresh

    async def _revoke(self, access_token: str) -> None:
        try:
            async with reaching_tiktok("revoke endpoint"), self._oauth_client() as client:
                resp = await client.revoke_token(self.settings.revoke_url, token=access_token)
            read_oauth_response(resp, "revoke endpoint", expect=None)
        except TikTokAuthError as exc:
            logger.warning(
                "revoke_failed code=%s log_id=%s",
                exc.code,
                exc.log_id,
                extra={"event": "logout", "code": exc.code, "log_id": exc.log_id},
            )

    def _oauth_client(self) -> Any:
        return self._oauth._get_oauth_client()

    def _lock_timeout(self) -> float:
        # Long enough for one refresh round trip, short enough that a crashed holder
        # does not block a session for long.
        return self.settings.http_timeout * 2 + 1

    async def _forget(self, session_id: str) -> None:
        await self._store(self.store.delete(_key(session_id)))

    async def _write(self, session_id: str, record: TokenRecord) -> None:
        blob = self._fernet.encrypt(json.dumps(asdict(record)).encode("utf-8"))
        await self._store(self.store.set(_key(session_id), blob, record.ttl(time.time())))

    async def _read(self, session_id: str) -> TokenRecord:
        blob = await self._store(self.store.get(_key(session_id)))
        if blob is None:
            raise _login_required("This sign-in has no TikTok access any more.")
        try:
            return TokenRecord(**json.loads(self._fernet.decrypt(blob)))
        except (InvalidToken, ValueError, TypeError):
            raise _login_required("This sign-in's TikTok access cannot be read.") from None

    async def _store(self, call: Any) -> Any:
        try:
            return await call
        except TokenStoreError as exc:
            raise _store_unavailable() from exc

    @asynccontextmanager
    async def _store_call(self, manager: AbstractAsyncContextManager[None]) -> AsyncIterator[None]:
        try:
            await manager.__aenter__()
        except TokenStoreError as exc:
            raise _store_unavailable() from exc
        try:
            yield
        finally:
            try:
                await manager.__aexit__(None, None, None)
            except TokenStoreError:
                logger.warning("token store lock release failed")


def _key(session_id: str) -> str:
    return _KEY_PREFIX + session_id


def _login_required(description: str, log_id: str | None = None) -> TikTokAuthError:
    return TikTokAuthError("login_required", description, log_id=log_id, status_code=401)


def _store_unavailable() -> TikTokAuthError:
    return TikTokAuthError(
        "token_store_unavailable", "The token store is not reachable.", status_code=503
    )


class LoginSession:
    """Put in the ASGI scope of signed-in requests when a token store is configured."""

    SCOPE_KEY = "tiktok_asgi.session"
    __slots__ = ("manager", "session_id", "signed_out")

    def __init__(self, manager: TokenManager, session_id: str) -> None:
        self.manager = manager
        self.session_id = session_id
        self.signed_out = False

    async def access_token(self, *, rejected: str | None = None) -> str:
        """A valid access token for this login session (see :meth:`TokenManager.access_token`)."""
        try:
            return await self.manager.access_token(self.session_id, rejected=rejected)
        except TikTokAuthError as exc:
            if exc.code == "login_required":
                self.signed_out = True  # the middleware clears the identity cookie
            raise


def login_session(connection: HTTPConnection | Scope) -> LoginSession:
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    session = scope.get(LoginSession.SCOPE_KEY)
    if isinstance(session, LoginSession):
        return session
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        raise RuntimeError(
            "no TikTok token is kept for this request: pass token_store=... to TikTokAuthMiddleware"
        )
    raise _login_required("Sign in with TikTok first.")


async def get_access_token(connection: HTTPConnection | Scope) -> str:
    """A valid TikTok access token for the signed-in user of this request (or ASGI scope).

    Refreshes it when it is expired or about to be (once, even under concurrency). Raises
    :class:`TikTokAuthError` ``login_required`` (401) when nobody is signed in or TikTok refused
    the refresh (the user is then signed out), ``token_store_unavailable`` (503) when the store is
    down, ``tiktok_unavailable`` (503/504) when TikTok is.
    """
    return await login_session(connection).access_token()
