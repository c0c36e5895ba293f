"""Is a request's ``Origin`` this site's? Used for WebSockets and sign-out.

SameSite=Lax keeps the identity cookie from cross-site pages only: a page on another port of the
same host, or on a sibling subdomain, is same-site and its WebSockets and POSTs carry the cookie.
Their ``Origin`` header tells them apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["header", "origin_allowed", "socket_origin_allowed"]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of one request header (``name`` in lower case), without a ``Headers``."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str, host: str | None, allowed: Sequence[str] | None) -> bool:
    """``origin`` is one of ``allowed`` (the settings' ``allowed_origins``), or the very host the
    request was sent to (a browser sets ``Host`` itself; behind a proxy ``allowed`` covers it).
    ``null`` (sandboxed frames, ``file:`` pages) is never allowed."""
    origin = origin.strip().lower()
    if allowed and origin in allowed:
        return True
    scheme, sep, netloc = origin.partition("://")
    return (
        bool(sep)
        and scheme in ("http", "https")
        and host is not None
        and netloc == host.strip().lower()
    )


def socket_origin_allowed(
    headers: Iterable[tuple[bytes, bytes]], allowed: Sequence[str] | None
) -> bool:
    """A WebSocket's ``Origin`` is this site's. Browsers always send one on WebSockets; a client
    without it is no browser page, so no other site's page can be behind it."""
    origin = header(headers, b"origin")
    return origin is None or origin_allowed(origin, header(headers, b"host"), allowed)
