"""The identity cookie: who is signed in, signed, size-guarded, and verified once per value."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData

from .cookies import CookieSpec, Headers, Signer, read_cookie
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = ["Identity", "IdentityCookie"]

logger = logging.getLogger("tiktok_asgi")

# Browsers drop cookies over 4096 bytes (name + value); stay clear of that.
MAX_COOKIE_BYTES = 3800
# Optional, bulky fields given up first when a profile would not fit. Avatar URLs are signed CDN
# URLs of unbounded length that expire anyway: even the main one goes before a sign-in fails.
_DROPPABLE = (
    "avatar_large_url",
    "avatar_url_100",
    "bio_description",
    "profile_deep_link",
    "avatar_url",
)
_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Identity:
    """What a valid identity cookie says: the user, and the server-side login session (if any)."""

    user: TikTokUser
    session_id: str | None = None


class IdentityCookie:
    """Encodes a :class:`TikTokUser` into the identity cookie and reads it back.

    Verifying a signature is the cost floor of a signed-in request, so each verified cookie value
    is remembered (bounded, oldest evicted first); its age is checked again on every hit.
    """

    def __init__(self, settings: TikTokSettings) -> None:
        self.spec = CookieSpec(
            name=settings.cookie_name,
            path=settings.cookie_path,
            max_age=settings.cookie_max_age,
            secure=settings.secure_cookies,
            domain=settings.cookie_domain,
        )
        self._signer = Signer(settings.secret_keys, salt="tiktok-asgi.identity")
        self._needle = f"{settings.cookie_name}=".encode("latin-1")
        self._cache: dict[str, tuple[float, Identity]] = {}

    def encode(self, identity: Identity) -> str:
        """The ``Set-Cookie`` header value that signs ``identity`` in."""
        payload: dict[str, Any] = identity.user.to_dict()
        if identity.session_id is not None:
            payload["sid"] = identity.session_id
        value = self._signer.dumps(payload)
        for name in _DROPPABLE:
            if len(self.spec.name) + 1 + len(value) <= MAX_COOKIE_BYTES:
                break
            if payload.pop(name, None) is not None:
                logger.warning("identity cookie too large: dropped %s", name)
                value = self._signer.dumps(payload)
        if len(self.spec.name) + 1 + len(value) > MAX_COOKIE_BYTES:
            raise ValueError("the signed-in identity does not fit in a cookie")
        return self.spec.header(value)

    def clear(self) -> str:
        return self.spec.clear()

    def read(self, headers: Headers) -> Identity | None:
        """The signed-in identity, or ``None`` for no, tampered, expired or garbage cookies."""
        value = read_cookie(headers, self._needle)
        if not value:
            return None
        hit = self._cache.get(value)
        if hit is not None:
            if time.time() - hit[0] <= self.spec.max_age:
                return hit[1]
            del self._cache[value]
            return None
        try:
            payload, signed_at = self._signer.loads(value, max_age=self.spec.max_age)
            sid = payload.get("sid")
            identity = Identity(
                TikTokUser.from_dict(payload), sid if isinstance(sid, str) else None
            )
        except (BadData, TypeError, ValueError, KeyError, AttributeError):
            return None
        if len(self._cache) >= _CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[value] = (signed_at, identity)
        return identity
