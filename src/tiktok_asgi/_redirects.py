"""Where a browser may be sent after login or logout: same-site paths only."""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["safe_next"]

_MAX_LENGTH = 2048
# Printable ASCII without backslash: no control characters, spaces, tabs or look-alike slashes.
_ALLOWED = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"\\"}


def safe_next(target: str | None, fallback: str) -> str:
    """``target`` when it is a path on this site, else ``fallback``.

    A path starts with exactly one ``/``. Anything a browser could read as another origin is
    refused: schemes, ``//`` and ``/\\`` (also once or twice percent-encoded), backslashes,
    control characters and non-ASCII look-alikes. Non-ASCII paths must arrive percent-encoded.
    """
    if not target or len(target) > _MAX_LENGTH or not _ALLOWED.issuperset(target):
        return fallback
    decoded = target
    for _ in range(3):
        if not decoded.startswith("/") or decoded.startswith(("//", "/\\")):
            return fallback
        if any(ch in decoded for ch in "\\\t\r\n\x00") or not decoded.isprintable():
            return fallback
        once = unquote(decoded)
        if once == decoded:
            return target
        decoded = once
    return fallback
