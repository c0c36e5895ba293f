"""Pending cookies (logins, QR codes) a browser may hold at once: the newest few, within a byte
budget, so that no number of starts can grow its Cookie header past what servers accept."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from itsdangerous import BadData

from .signing import Signer

__all__ = ["beyond_bounds", "started_at"]


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


def started_at(signer: Signer, value: str, max_age: int, key: str) -> float | None:
    """When a pending cookie (whose payload names its ``key``) was started; None if it is
    expired, altered or not ours."""
    try:
        payload, signed_at = signer.loads(value, max_age=max_age)
    except BadData:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get(key), str):
        return None
    at = payload.get("at")
    return at if isinstance(at, float) else signed_at
