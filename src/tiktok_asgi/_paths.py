"""Paths relative to the ASGI ``root_path``: the settings' paths hold under any mount.

Starlette's ``Mount`` and ``uvicorn --root-path`` put the root path in front of ``scope["path"]``
(the ASGI spec's convention); Hypercorn's ``--root-path`` leaves ``scope["path"]`` as it came
(a proxy has already removed the prefix). Both are read here.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Scope

__all__ = ["ProtectedPaths", "app_path", "request_path", "site_path"]


def app_path(scope: Scope) -> str:
    """The request's path below the root path: what the settings' paths are matched against."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        rest = path[len(root) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


def request_path(scope: Scope) -> str:
    """The one path the gate decides on: the path the application's router will route."""
    return app_path(scope) if scope.get("root_path") else scope["path"]


class ProtectedPaths:
    """The settings' ``protected_paths``: which request paths need a signed-in user."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Sequence[str]) -> None:
        self._entries = tuple((p, p.rstrip("/") + "/") for p in entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def covers(self, path: str) -> bool:
        return any(path == exact or path.startswith(below) for exact, below in self._entries)


def site_path(scope: Scope, path: str) -> str:
    """``path`` (relative to the root path) as the browser must request it."""
    root: str = scope.get("root_path", "")
    return root.rstrip("/") + path if root else path
