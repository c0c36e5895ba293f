"""What path a request means: decided here once, for the protected paths, the library's own
paths and any mount.

The rule: no spelling of a path is let through anonymously when Starlette, FastAPI, Quart,
Litestar or Django would route it to a protected view.

- :func:`request_path` is the request's path below the ASGI ``root_path``. Starlette's ``Mount``
  and ``uvicorn --root-path`` put the root path in front of ``scope["path"]``; Hypercorn's
  ``--root-path`` leaves it as it came (a proxy has already removed the prefix): both are read.
  An absolute-form target (``GET http://host/admin``) means its path: uvicorn's h11 and
  Hypercorn pass the whole URL as ``scope["path"]``, and Quart routes its path.
- Litestar routes before its middleware runs and rewrites ``scope["path"]`` (below the root,
  and below a mount): its adapter records the path it routed under :data:`ROUTED_PATH`.
- :meth:`ProtectedPaths.covers` fails closed: a path is protected when it, or any of its forms
  with repeated slashes merged (Quart and Litestar merge them) and dot segments removed
  (static files and proxies do), is an entry or below one. An entry's trailing slash does not
  matter, since Litestar routes ``/admin`` and ``/admin/`` alike.
- ``scope["path"]`` is already percent-decoded (``/%2Fadmin`` arrives as ``//admin``) and no
  router decodes it again, so ``raw_path`` is not read.
- The login, callback, logout and webhook paths are answered at :func:`request_path` exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from urllib.parse import urlparse

from starlette.types import Scope

__all__ = ["ROUTED_PATH", "ProtectedPaths", "app_path", "request_path", "site_path"]

#: The scope key where an adapter whose router runs first records the path it routed.
ROUTED_PATH = "tiktok_asgi.routed_path"

_SLASHES = re.compile(r"//+")


def request_path(scope: Scope) -> str:
    """The one path the gate decides on: the request's path below the root path."""
    path: str = scope["path"]
    if path[:1] == "/" and not scope.get("root_path") and ROUTED_PATH not in scope:
        return path  # every request not mounted: nothing to work out
    routed: str | None = scope.get(ROUTED_PATH)
    if routed is not None:
        return routed
    if path[:1] != "/":
        path = _origin_form(path)
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        rest = path[len(root) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


app_path = request_path


def _origin_form(target: str) -> str:
    # urlparse, as Quart does: it also drops ";params" from the last segment.
    path = urlparse(target).path
    return path if path[:1] == "/" else "/" + path


class ProtectedPaths:
    """The settings' ``protected_paths``: which request paths need a signed-in user."""

    __slots__ = ("_below", "_exact")

    def __init__(self, entries: Sequence[str]) -> None:
        bases = {p.rstrip("/") for e in entries for p in (e, *_spellings(e))}
        self._exact = frozenset(b for b in bases if b)
        self._below = tuple(sorted(b + "/" for b in bases))

    def __bool__(self) -> bool:
        return bool(self._below)

    def covers(self, path: str) -> bool:
        if path in self._exact or path.startswith(self._below):
            return True
        if "//" not in path and "/." not in path:
            return False  # already canonical: nothing more to try
        return any(p in self._exact or p.startswith(self._below) for p in _spellings(path))


def _spellings(path: str) -> Iterator[str]:
    """``path`` as the routers, static files and proxies may read it: slashes merged, dot
    segments removed, in either order."""
    merged = _SLASHES.sub("/", path)
    yield merged
    yield _without_dots(merged)
    yield _SLASHES.sub("/", _without_dots(path))


def _without_dots(path: str) -> str:
    """RFC 3986's remove_dot_segments for a path starting with ``/``."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = "/" if kept and segments[-1] in (".", "..") else ""
    return "/" + "/".join(kept) + trailing


def site_path(scope: Scope, path: str) -> str:
    """``path`` (relative to the root path) as the browser must request it."""
    root: str = scope.get("root_path", "")
    return root.rstrip("/") + path if root else path
