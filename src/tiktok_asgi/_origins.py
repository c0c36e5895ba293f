"""Is a request's ``Origin`` this site's? Used for WebSockets and sign-out.

SameSite=Lax keeps the identity cookie from cross-site pages only: a page on another port of the
same host, on a sibling subdomain, or on the plain-http twin of an https site, is same-site and
its WebSockets and POSTs carry the cookie. Their ``Origin`` header tells them apart: scheme,
host and port must all be this site's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.types import Scope

__all__ = ["header", "normalised_origin", "origin_allowed", "socket_origin_allowed"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# The origin scheme of a request's scope["scheme"]: a WebSocket comes from an http(s) page.
_PAGE_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_NOT_IN_NETLOC = frozenset("/\\?#@ \t\r\n")


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of one request header (``name`` in lower case), without a ``Headers``."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def normalised_origin(origin: str) -> str | None:
    """``origin`` as ``scheme://host[:port]`` in lower case, without the scheme's default port
    (``https://h:443`` is ``https://h``); None unless it is an http(s) origin."""
    scheme, sep, netloc = origin.strip().lower().partition("://")
    default = _DEFAULT_PORTS.get(scheme)
    if not sep or default is None or not netloc or not _NOT_IN_NETLOC.isdisjoint(netloc):
        return None
    host, colon, port = netloc.rpartition(":")
    if not colon or netloc.endswith("]"):  # no port (an IPv6 address has colons of its own)
        return f"{scheme}://{netloc}"
    if not host or (port and not (port.isascii() and port.isdigit() and len(port) <= 5)):
        return None
    if not port or int(port) == int(default):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def origin_allowed(origin: str, scope: Scope, allowed: Sequence[str] | None) -> bool:
    """``origin`` is one of ``allowed`` (the settings' ``allowed_origins``, normalised), or the
    very origin the request was sent to: its scheme (``scope["scheme"]``) and ``Host`` (a browser
    sets it itself; behind a proxy ``allowed`` covers the public origin). ``null`` (sandboxed
    frames, ``file:`` pages) is never allowed."""
    candidate = normalised_origin(origin)
    if candidate is None:
        return False
    if allowed and candidate in allowed:
        return True
    host = header(scope["headers"], b"host")
    default = "ws" if scope["type"] == "websocket" else "http"
    scheme = _PAGE_SCHEMES.get(scope.get("scheme") or default)
    if host is None or scheme is None:
        return False
    return candidate == normalised_origin(f"{scheme}://{host}")


def socket_origin_allowed(scope: Scope, allowed: Sequence[str] | None) -> bool:
    """A WebSocket's ``Origin`` is this site's. Browsers always send one on WebSockets; a client
    without it is no browser page, so no other site's page can be behind it."""
    origin = header(scope["headers"], b"origin")
    return origin is None or origin_allowed(origin, scope, allowed)
