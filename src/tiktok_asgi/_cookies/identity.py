"""The identity cookie: who is signed in, signed, size-guarded, and verified once per value.

The cookie's value (format ``v2``)::

    v2.<payload>.<issued>.<mac>

- ``payload``: base64url, unpadded, of the UTF-8 JSON array ``[sid, open_id, display_name,
  granted_scopes, union_id, avatar_url, avatar_url_100, avatar_large_url, username,
  bio_description, profile_deep_link, is_verified, follower_count, following_count, likes_count,
  video_count, extra]`` (:data:`V2_LAYOUT`), trailing elements still at their defaults left out;
- ``issued``: the signing time, whole seconds since the epoch, in decimal;
- ``mac``: base64url, unpadded, of HMAC-SHA256 over ``v2.<payload>.<issued>`` (the ASCII text
  before the last dot) with the key HMAC-SHA256(``secret_key`` as UTF-8,
  ``tiktok-asgi.identity:<client_key>`` as UTF-8): bound to the app, so another app sharing the
  secret key (a staging copy) cannot mint cookies this one accepts.

Only the exact text the middleware wrote verifies: the expected ``mac`` is computed and compared
as text, so no other spelling of the same bytes (padding, unused trailing bits) is accepted, and
nothing is decoded before the signature is known to be good. The last secret key signs, all of
them verify. The layout may only grow at its end; anything else takes a new version tag.

Cookies of the previous format (itsdangerous, ``tiktok-asgi.identity`` salt) are refused: they are
not bound to the app, so their holders sign in again.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from tiktok_asgi.settings import TikTokSettings
from tiktok_asgi.user import TikTokUser, read_only, trusted_builder

from .signing import CookieSpec, Headers, read_cookie

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

VERSION = "v2"
PURPOSE = b"tiktok-asgi.identity"
# The payload's elements in order: the login session id, then the user's fields. Append only.
V2_LAYOUT: tuple[str, ...] = (
    "sid",
    "open_id",
    "display_name",
    "granted_scopes",
    "union_id",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "username",
    "bio_description",
    "profile_deep_link",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "extra",
)
_USER_FIELDS = V2_LAYOUT[1:]
_SCOPES = V2_LAYOUT.index("granted_scopes")
_EXTRA = V2_LAYOUT.index("extra")
_WIDTH = len(V2_LAYOUT)
# Each element's value when it is left out (sid, open_id have none: they are always written).
_DEFAULTS: list[Any] = [None, None, "", [], *([None] * 12), {}]
_MIN_WIDTH = 2
_PREFIX = VERSION + "."
# A timestamp this far ahead of the clock is accepted (several servers' clocks differ a little).
_CLOCK_SKEW = 300

# The verified-cookie cache keeps values up to this many bytes of cookie text (with the users
# decoded from them, about three times as much memory). It holds as many users as come, up to
# that; when full, the older half goes in one go, so no request pays for evicting one entry.
CACHE_BYTES = 4 * 1024 * 1024

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PADDING = ("", "", "==", "=")  # by length % 4 (1 cannot happen: it is refused before)
_build_user = trusted_builder(_USER_FIELDS)
# JSON's scanner by itself: ``json.loads`` spends more on its checks than on a short document.
_decoder = json.JSONDecoder()
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Identity:
    """What a valid identity cookie says: the user, the server-side login session (if any) and
    when the cookie was signed (seconds since the epoch; how old the profile in it is)."""

    user: TikTokUser
    session_id: str | None = None
    issued: float = field(default=0.0, compare=False)


# Identity's own constructor, less its keyword handling: it counts on every cache miss.
_new = object.__new__
_set_user = Identity.__dict__["user"].__set__
_set_session_id = Identity.__dict__["session_id"].__set__
_set_issued = Identity.__dict__["issued"].__set__


def mac_key(secret: str, client_key: str, purpose: bytes = PURPOSE) -> bytes:
    """The HMAC key of one purpose and one app, derived from one ``secret_key``."""
    return hmac.digest(secret.encode("utf-8"), purpose + b":" + client_key.encode(), "sha256")


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


class IdentityCookie:
    """Encodes a :class:`TikTokUser` into the identity cookie and reads it back.

    Verifying a cookie is the cost floor of a signed-in request, so each verified cookie value
    is remembered, up to :data:`CACHE_BYTES` of them; its age is checked again on every hit.
    """

    def __init__(
        self, settings: TikTokSettings, *, cache_bytes: int = CACHE_BYTES, purpose: bytes = PURPOSE
    ) -> None:
        self.spec = CookieSpec(
            name=settings.cookie_name,
            path=settings.cookie_path,
            max_age=settings.cookie_max_age,
            secure=settings.secure_cookies,
            domain=settings.cookie_domain,
        )
        # Newest key first: it signs, and it verifies nearly every cookie on the first try.
        self._macs = [
            hmac.new(mac_key(key, settings.client_key, purpose), digestmod=hashlib.sha256)
            for key in reversed(settings.secret_keys)
        ]
        self._needle = f"{settings.cookie_name}=".encode("latin-1")
        self._budget = cache_bytes
        self._cache: dict[str, tuple[float, Identity]] = {}  # value: (expires at, identity)
        self._bytes = 0

    # Writing ------------------------------------------------------------------------------------

    def encode(self, identity: Identity) -> str:
        """The ``Set-Cookie`` header value that signs ``identity`` in."""
        return self.spec.header(self.encode_value(identity))

    def encode_value(self, identity: Identity) -> str:
        """The signed value alone (a cookie's value, or a bearer token)."""
        user = identity.user
        values: list[Any] = [identity.session_id, *(getattr(user, n) for n in _USER_FIELDS)]
        values[_SCOPES] = list(user.granted_scopes)
        values[_EXTRA] = dict(user.extra)
        issued = int(time.time())
        value = self._sign(values, issued)
        for name in _DROPPABLE:
            if len(self.spec.name) + 1 + len(value) <= MAX_COOKIE_BYTES:
                break
            at = V2_LAYOUT.index(name)
            if values[at] is not None:
                logger.warning("identity cookie too large: dropped %s", name)
                values[at] = None
                value = self._sign(values, issued)
        if len(self.spec.name) + 1 + len(value) > MAX_COOKIE_BYTES:
            raise ValueError("the signed-in identity does not fit in a cookie")
        return value

    def _sign(self, values: list[Any], issued: int) -> str:
        width = _WIDTH
        while width > _MIN_WIDTH and values[width - 1] == _DEFAULTS[width - 1]:
            width -= 1
        text = json.dumps(values[:width], separators=(",", ":"), ensure_ascii=False)
        body = b"%s.%s.%d" % (
            VERSION.encode(),
            _b64encode(text.encode("utf-8", "surrogatepass")),
            issued,
        )
        mac = self._macs[0].copy()
        mac.update(body)
        return (body + b"." + _b64encode(mac.digest())).decode("ascii")

    def clear(self) -> str:
        return self.spec.clear()

    # Reading ------------------------------------------------------------------------------------

    def read(self, headers: Headers) -> Identity | None:
        """The signed-in identity, or ``None`` for no, tampered, expired, garbage or older-format
        cookies; :class:`~.signing.DuplicateCookie` when the request carries two."""
        value = read_cookie(headers, self._needle)
        return self.read_value(value) if value else None

    def read_value(self, value: str) -> Identity | None:
        """The identity a signed value (a cookie's, or a bearer token) says, or ``None``."""
        hit = self._cache.get(value)
        if hit is not None:
            if time.time() <= hit[0]:
                return hit[1]
            del self._cache[value]
            self._bytes -= len(value)
            return None
        entry = self._verify(value) if value.startswith(_PREFIX) else None
        if entry is None:
            return None
        self._remember(value, entry)
        return entry[1]

    def _remember(self, value: str, entry: tuple[float, Identity]) -> None:
        self._cache[value] = entry
        self._bytes += len(value)
        if self._bytes > self._budget:
            # Full: the older half (in order of verification) goes at once.
            cache = self._cache
            self._cache = dict(islice(cache.items(), len(cache) // 2, None))
            self._bytes = sum(map(len, self._cache))

    def _verify(self, value: str) -> tuple[float, Identity] | None:
        """``(expires at, identity)`` of a ``v2`` value that verifies and has not expired."""
        cut = value.rfind(".")
        signed = value[:cut].encode("latin-1")
        given = value[cut + 1 :].encode("latin-1")
        for key in self._macs:
            mac = key.copy()
            mac.update(signed)
            if hmac.compare_digest(_b64encode(mac.digest()), given):
                break
        else:
            return None
        # From here on, the text is the middleware's own: v2.<payload>.<issued>
        try:
            dot = value.rfind(".", 3, cut)
            issued = int(value[dot + 1 : cut])
            now = time.time()
            if now - issued > self.spec.max_age or issued > now + _CLOCK_SKEW:
                return None
            payload = value[3:dot].replace("-", "+").replace("_", "/")
            text = binascii.a2b_base64(payload + _PADDING[len(payload) % 4]).decode(
                "utf-8", "surrogatepass"
            )
            values, end = _scan(text, 0)
            if end != len(text):
                return None
            return issued + self.spec.max_age, _identity(values, issued)
        except (TypeError, ValueError, IndexError, StopIteration):
            return None

    def cache_size(self) -> tuple[int, int]:
        """``(entries, bytes of cookie text)`` the verified-cookie cache holds now."""
        return len(self._cache), self._bytes


def _identity(values: Any, issued: int) -> Identity:
    """The identity of a verified payload; ``ValueError`` if it is not one."""
    if type(values) is not list or not _MIN_WIDTH <= len(values) <= _WIDTH:
        raise ValueError("not an identity payload")
    if len(values) < _WIDTH:
        values += _DEFAULTS[len(values) :]
    sid, open_id = values[0], values[1]
    scopes, extra = values[_SCOPES], values[_EXTRA]
    if (
        type(open_id) is not str
        or not open_id
        or (sid is not None and type(sid) is not str)
        or type(values[2]) is not str
        or type(scopes) is not list
        or type(extra) is not dict
    ):
        raise ValueError("not an identity payload")
    values[_SCOPES] = tuple(scopes)
    values[_EXTRA] = read_only(extra)
    identity: Identity = _new(Identity)
    _set_user(identity, _build_user(values[1:]))
    _set_session_id(identity, sid)
    _set_issued(identity, issued)
    return identity
