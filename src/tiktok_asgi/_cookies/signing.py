"""Signed cookies: the signer, ``Set-Cookie`` values, and reading the ``Cookie`` header."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from starlette.requests import cookie_parser

__all__ = [
    "PATH_SAFE",
    "CookieSpec",
    "DuplicateCookie",
    "Signer",
    "cookie_path",
    "read_cookie",
    "read_cookies",
]

Headers = Iterable[tuple[bytes, bytes]]


class Signer:
    """JSON payloads signed with HMAC-SHA256 and a timestamp; the last key signs, all verify."""

    __slots__ = ("_serializer",)

    def __init__(self, keys: Sequence[str], salt: str) -> None:
        self._serializer = URLSafeTimedSerializer(
            list(keys), salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def dumps(self, payload: Any) -> str:
        value: str = self._serializer.dumps(payload)
        return value

    def loads(self, value: str, max_age: int) -> tuple[Any, float]:
        """The payload and its signing time; raises ``SignatureExpired`` / ``BadSignature``.

        Base64 decoding tolerates padding and unused trailing bits, so one signature has several
        spellings; only the one we wrote is accepted, so that any altered cookie is refused.
        """
        signature = value.rpartition(".")[2]
        if base64_encode(base64_decode(signature)) != signature.encode("ascii", "replace"):
            raise BadSignature("the signature is not in canonical form")
        payload, signed_at = self._serializer.loads(value, max_age=max_age, return_timestamp=True)
        return payload, signed_at.timestamp()


# What a cookie's Path keeps as it is: the characters of a URL path but ";" (it would end the
# attribute and start another) and "," (some parsers split headers there). Everything else,
# spaces, controls and non-ASCII included, is percent-encoded as browsers do in URLs.
PATH_SAFE = "/:@!$&'()*+=~"


def cookie_path(path: str) -> str:
    """``path`` (a URL path, escapes kept) as a ``Path`` attribute can hold it: ASCII, no
    separator, no control character."""
    return quote(path, safe=PATH_SAFE + "%")


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """How one cookie is set: always HttpOnly and SameSite=Lax. ``path`` is kept percent-encoded
    (see :func:`cookie_path`), so no value of it can break the ``Set-Cookie`` header."""

    name: str
    path: str
    max_age: int
    secure: bool
    domain: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", cookie_path(self.path))

    def header(self, value: str, *, name: str | None = None) -> str:
        parts = [f"{name or self.name}={value}", f"Path={self.path}", f"Max-Age={self.max_age}"]
        return self._finish(parts)

    def clear(self, *, name: str | None = None) -> str:
        parts = [
            f"{name or self.name}=",
            f"Path={self.path}",
            "Max-Age=0",
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ]
        return self._finish(parts)

    def _finish(self, parts: list[str]) -> str:
        if self.domain:
            parts.append(f"Domain={self.domain}")
        parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        parts.append("SameSite=Lax")
        return "; ".join(parts)


class DuplicateCookie(ValueError):
    """The request carries the cookie more than once: another scope (a parent domain, a longer
    path) planted a second one, and which is whose cannot be told."""


def read_cookie(headers: Headers, name: bytes) -> str | None:
    """One cookie's value, found without parsing every cookie (this runs on every request).

    ``name`` is ``b"<cookie name>="``. Raises :class:`DuplicateCookie` when it occurs twice.
    The header is searched, not split: a signed-in request carries a cookie of several hundred
    bytes, and splitting and stripping every cookie cost more than the rest of the request.
    """
    found: bytes | None = None
    for key, raw in headers:
        if key == b"cookie" and (at := raw.rfind(name)) != -1:
            at = _last_part(raw, name, at)
            if at == -1:
                continue
            earlier = raw.rfind(name, 0, at + len(name) - 1)
            if found is not None or (earlier != -1 and _last_part(raw, name, earlier) != -1):
                raise DuplicateCookie(name.decode("latin-1"))
            stop = raw.find(b";", at)
            found = raw[at + len(name) : stop if stop != -1 else len(raw)].rstrip(_SPACE)
    return None if found is None else found.decode("latin-1")


_SPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() strips
_SEMICOLON = 0x3B


def _last_part(raw: bytes, name: bytes, at: int) -> int:
    """Where the last cookie in ``raw`` whose ``name=`` starts a ``;``-separated part begins,
    searching backwards from ``at`` (a place ``name`` occurs); -1 if none does.

    ``xtiktok_session=`` or ``a=tiktok_session=`` contain the name without starting a part, and
    do not count. The value runs to the next ``;``, trailing whitespace removed.
    """
    while at != -1:
        start = at
        while start and raw[start - 1] in _SPACE:
            start -= 1
        if start == 0 or raw[start - 1] == _SEMICOLON:
            return at
        at = raw.rfind(name, 0, at + len(name) - 1)
    return -1


def read_cookies(headers: Headers) -> dict[str, str]:
    """Every cookie of the request (used on the callback path only)."""
    cookies: dict[str, str] = {}
    for key, raw in headers:
        if key == b"cookie":
            cookies.update(cookie_parser(raw.decode("latin-1")))
    return cookies
