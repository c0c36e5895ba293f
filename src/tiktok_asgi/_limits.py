"""The settings' ``limits`` at work: which of the middleware's requests count, and how a
refused one is answered (see :mod:`tiktok_asgi.limits`).

Only the middleware's own paths reach here; the application's never do. A request is counted
per client address (``scope["client"][0]``; an IPv6 address by its /64) and, when it carries
one of the library's cookies, per browser: its identity cookie when signed in, else the
lowest-named of its pending-login and QR-code cookies. A browser can drop or change those
cookies, so the per-client count is the one that always holds; the per-browser count is a
tighter one for a single browser among the many that may share an address. Keys are digests:
no address or cookie value is kept or sent to the store as it came.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import Literal

from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from ._cookies.signing import Headers
from ._events import client_of
from ._limit_counts import CountHit, LocalCounts, SharedCounts
from ._responses import error_response, secure
from ._telemetry import TELEMETRY
from .errors import QueryTooLong, RateLimited, TikTokAuthError
from .limits import Rate, RequestLimits
from .pages import RenderErrorPage
from .settings import TikTokSettings
from .stores import TokenStore

__all__ = ["Kind", "RequestLimiter", "browser_cookie", "counted_client"]

logger = logging.getLogger("tiktok_asgi")

Kind = Literal["login", "callback", "qr_start", "qr_status", "exchange", "webhook"]
# Answered as JSON whatever the Accept header: their clients are scripts, apps and TikTok.
_JSON_KINDS = frozenset({"qr_start", "qr_status", "exchange", "webhook"})
_SHARED_KEY = "tiktok_asgi:limit:"  # in front of a key in the token store


def _digest(text: bytes) -> str:
    return hashlib.blake2b(text, digest_size=12).hexdigest()


def counted_client(scope: Scope) -> str:
    """The client address the count is kept for: IPv6 by its /64, the block one subscriber
    is usually given (else each of its addresses would be a new client)."""
    address = client_of(scope.get("client")) or ""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"{int(ip) >> 64:x}::/64"


def browser_cookie(headers: Headers, identity: bytes, pending: tuple[bytes, ...]) -> bytes | None:
    """The value of the cookie that tells this browser apart (see the module), or None."""
    found_name = found = None
    for key, value in headers:
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            name, eq, content = part.strip().partition(b"=")
            if not eq or not content:
                continue
            if name == identity:
                return content
            if name.startswith(pending) and (found_name is None or name < found_name):
                found_name, found = name, content
    return found


class RequestLimiter:
    """Counts the requests of the middleware's own paths; one per middleware."""

    @classmethod
    def build(
        cls,
        settings: TikTokSettings,
        store: TokenStore | None,
        render: RenderErrorPage | None,
    ) -> RequestLimiter | None:
        """The limiter of ``settings.limits``; None when they are off."""
        if settings.limits is None:
            return None
        return cls(settings, settings.limits, store, render)

    def __init__(
        self,
        settings: TikTokSettings,
        limits: RequestLimits,
        store: TokenStore | None,
        render: RenderErrorPage | None,
    ) -> None:
        #: The clock of the windows kept in this process (tests replace it).
        self.clock: Callable[[], float] = time.monotonic
        self._max_query = limits.max_query_bytes
        self._kinds: dict[str, tuple[Kind, Rate | None]] = {
            settings.login_path: ("login", limits.login),
            settings.callback_path: ("callback", limits.callback),
        }
        if settings.exchange_path is not None:
            self._kinds[settings.exchange_path] = ("exchange", limits.exchange)
        if settings.webhook_path is not None:
            self._kinds[settings.webhook_path] = ("webhook", limits.webhook)
        self._qr_path = settings.qr_path
        self._qr_below = "\0" if settings.qr_path is None else settings.qr_path + "/"
        self._qr_start, self._qr_status = limits.qr_start, limits.qr_status
        name = settings.cookie_name
        self._identity = name.encode("latin-1")
        self._pending = (f"{name}_flow_".encode("latin-1"), f"{name}_qr_".encode("latin-1"))
        self._local = LocalCounts(limits.max_tracked)
        count_hit: CountHit | None = getattr(store, "count_hit", None)
        self._shared = (
            SharedCounts(count_hit, self._local, _SHARED_KEY) if callable(count_hit) else None
        )
        # A refused client is answered here, not sent on to error_redirect for one more request.
        self._settings = (
            settings if settings.error_redirect is None else settings.replace(error_redirect=None)
        )
        self._render = render

    async def refusal(self, path: str, scope: Scope) -> Response | None:
        """The answer refusing this request, or None when it may go on."""
        kind, rate = self._kind(path, scope["method"])
        if len(scope.get("query_string", b"")) > self._max_query:
            return self._answer(QueryTooLong(), kind, scope)
        if rate is None or kind is None:
            return None
        # The browser first: one refused for its own requests spends none of its address's.
        if rate.per_browser is not None:
            cookie = browser_cookie(scope["headers"], self._identity, self._pending)
            if cookie is not None:
                refused = await self._count(kind, "browser", cookie, rate.per_browser, rate, scope)
                if refused is not None:
                    return refused
        address = counted_client(scope).encode()
        return await self._count(kind, "client", address, rate.per_client, rate, scope)

    def _kind(self, path: str, method: str) -> tuple[Kind | None, Rate | None]:
        found = self._kinds.get(path)
        if found is not None:
            return found
        if path == self._qr_path:
            return ("qr_start", self._qr_start) if method == "POST" else (None, None)
        if path.startswith(self._qr_below):
            return "qr_status", self._qr_status
        return None, None

    async def _count(
        self,
        kind: Kind,
        scope_name: Literal["client", "browser"],
        who: bytes,
        most: int,
        rate: Rate,
        scope: Scope,
    ) -> Response | None:
        key = f"{kind}:{scope_name[0]}:{_digest(who)}"
        now = self.clock()
        if self._shared is not None:
            count, left = await self._shared.hit(key, rate.window, now)
        else:
            count, left = self._local.hit(key, rate.window, now)
        if count <= most:
            return None
        TELEMETRY.add("tiktok_asgi.rate_limited", {"kind": kind, "scope": scope_name})
        if count == most + 1:  # the window's first refusal: logged once
            client = scope.get("client")
            logger.warning(
                "rate_limited kind=%s scope=%s client=%s retry_after=%d",
                kind,
                scope_name,
                client[0] if client else None,
                math.ceil(left),
                extra={
                    "event": "rate_limited",
                    "kind": kind,
                    "scope": scope_name,
                    "client": client[0] if client else None,
                },
            )
        return self._answer(RateLimited(retry_after=max(1, math.ceil(left))), kind, scope)

    def _answer(self, error: TikTokAuthError, kind: Kind | None, scope: Scope) -> Response:
        if kind not in _JSON_KINDS:
            return error_response(error, self._settings, scope, render=self._render)
        response = secure(JSONResponse(error.as_dict(), status_code=error.status_code), ())
        if error.retry_after is not None:
            response.headers["retry-after"] = str(math.ceil(error.retry_after))
        return response
