"""Pending cookies (logins, QR codes) a browser may hold at once: the newest few, within a byte
budget, so that no number of starts can grow its Cookie header past what servers accept."""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["beyond_bounds"]


def beyond_bounds(
    new: str,
    prefix: str,
    cookies: Mapping[str, str],
    started_at: Callable[[str], float | None],
    *,
    most: int,
    max_bytes: int,
) -> list[str]:
    """The names of the request's ``prefix`` cookies to clear beside ``new`` (a ``Set-Cookie``
    value): those ``started_at`` cannot read (expired, altered, not ours), and the oldest beyond
    ``most`` cookies or ``max_bytes`` of Cookie header."""
    pending: list[tuple[float, str, int]] = []
    dropped: list[str] = []
    for name, value in cookies.items():
        if not name.startswith(prefix):
            continue
        started = started_at(value)
        if started is None:
            dropped.append(name)
        else:
            pending.append((started, name, len(name) + len(value) + 3))  # "n=v; "
    pending.sort(reverse=True)
    kept, size = 1, len(new.partition(";")[0])
    for at, (_, name, length) in enumerate(pending):
        if kept == most or size + length > max_bytes:
            dropped += [name for _, name, _ in pending[at:]]
            break
        kept, size = kept + 1, size + length
    return dropped
