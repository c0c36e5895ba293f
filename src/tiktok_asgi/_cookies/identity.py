"""The identity cookie: who is signed in, signed, size-guarded, and verified once per value.

The cookie's value (format ``v3``)::

    v3.<payload>.<issued>.<mac>

- ``payload``: the elements of :data:`LAYOUT` — ``sid, open_id, display_name, granted_scopes,
  union_id, avatar_url, avatar_url_100, avatar_large_url, username, bio_description,
  profile_deep_link, is_verified, follower_count, following_count, likes_count, video_count,
  extra`` — each written as text (:mod:`.compact`: URL characters as they are, a space as ``+``,
  anything else escaped) and joined by ``|``, trailing empty ones left out. An empty element is
  ``None`` (``""`` for ``display_name``, ``()`` for ``granted_scopes``, ``{}`` for ``extra``),
  and ``!`` the empty string. ``granted_scopes`` are joined by ``*``; the three avatar URLs, one
  picture at three sizes, are written ``<start>*<middle>*<end>`` (what they share at their start
  and end, and ``avatar_url``'s middle) followed by the middles of the other two;
  ``is_verified`` is ``1`` or ``0``; the counts are decimal; ``extra`` is its JSON.
- ``issued``: the signing time, whole seconds since the epoch, in decimal;
- ``mac``: base64url, unpadded, of HMAC-SHA256 over ``v3.<payload>.<issued>`` (the ASCII text
  before the last dot) with the key HMAC-SHA256(``secret_key`` as UTF-8,
  ``tiktok-asgi.identity:<client_key>`` as UTF-8): bound to the app, so another app sharing the
  secret key (a staging copy) cannot mint cookies this one accepts.

Why text rather than base64 of JSON: a value that is not in the cache is verified on the
request's path, and with TikTok's real profiles (three signed avatar URLs of ~290 characters)
base64 and JSON were most of that cost and half the cookie's length. Reading a verified ``v3``
value is a split and a few concatenations; the cookie is about half as long (~760 bytes for such
a profile, ~1,550 in ``v2``), so fewer bytes cross the network and are hashed. Its characters
are all ones a cookie and an ``Authorization`` header carry as they are (no space, quote, comma,
semicolon or backslash); bearer tokens of native apps use the same format under their own key.

Only the exact text the middleware wrote verifies: the expected ``mac`` is computed and compared
as text, so no other spelling of the same bytes (padding, unused trailing bits) is accepted, and
nothing is decoded before the signature is known to be good. The last secret key signs, all of
them verify. The layout may only grow at its end; anything else takes a new version tag.

Cookies of format ``v2`` (the same layout as a base64url JSON array, signed the same way over
``v2.<payload>.<issued>``) are still read, so nobody is signed out by the upgrade: they are no
longer written, and leave as they expire (``cookie_max_age`` after they were signed) or are
replaced by a ``v3`` cookie at the next sign-in or profile re-read. Their reading may go once the
longest ``cookie_max_age`` in use has passed since this release. Cookies of the format before
(itsdangerous, ``tiktok-asgi.identity`` salt) are refused: they are not bound to the app, so
their holders sign in again.
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
from typing import TYPE_CHECKING, Any

from tiktok_asgi.settings import TikTokSettings
from tiktok_asgi.user import TikTokUser, frozen_builder, read_only, trusted_builder

from .compact import avatars, join_list, split_list, text, untext
from .signing import CookieSpec, Headers, read_cookie

if TYPE_CHECKING:
    from hashlib import _Hash

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

VERSION = "v3"
PURPOSE = b"tiktok-asgi.identity"
# The payload's elements in order: the login session id, then the user's fields. Append only.
LAYOUT: tuple[str, ...] = (
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
_USER_FIELDS = LAYOUT[1:]
_SCOPES = LAYOUT.index("granted_scopes")
_AVATARS = slice(LAYOUT.index("avatar_url"), LAYOUT.index("avatar_large_url") + 1)
_VERIFIED = LAYOUT.index("is_verified")
_COUNTS = range(LAYOUT.index("follower_count"), LAYOUT.index("extra"))
_EXTRA = LAYOUT.index("extra")
_WIDTH = len(LAYOUT)
# v2: each element's value when it is left out (sid, open_id have none: they are always written).
_DEFAULTS: list[Any] = [None, None, "", [], *([None] * 12), {}]
_MIN_WIDTH = 2
_PREFIX = VERSION + "."
_V2_PREFIX = "v2."
# v3: what pads a payload whose trailing empty elements were left out.
_PADS = [[""] * (_WIDTH - n) for n in range(_WIDTH + 1)]
_NO_EXTRA = read_only({})  # the one empty ``extra`` every user without one shares
_BOOLEANS: dict[str, bool | None] = {"": None, "1": True, "0": False}
# A timestamp this far ahead of the clock is accepted (several servers' clocks differ a little).
_CLOCK_SKEW = 300

# The verified-cookie cache holds entries up to this many bytes of memory, counted as the cookie
# text plus the user decoded from it (its strings and objects). While there is room, every
# verified cookie is kept. When full, a new one is kept only after a sweep has let go of entries
# nobody used since the previous sweep (at most one sweep per SWEEP_SECONDS): the users who come
# back stay, so with more users than fit a steady share of them is served from the cache, and a
# full cache costs a miss nothing but the verification.
CACHE_BYTES = 1024 * 1024
SWEEP_SECONDS = 60.0
# What an entry holds besides its strings' characters: its key, list, dict slot, Identity and
# user (measured with tracemalloc, rounded up); and what each string adds to its characters.
_ENTRY_BYTES = 700
_STRING_BYTES = 49
# granted_scopes fields seen, and their tuples: a handful per app, shared by every user.
_SCOPE_TUPLES_MAX = 64

_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PADDING = ("", "", "==", "=")  # by length % 4 (1 cannot happen: it is refused before)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
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
_identity_of: Callable[[TikTokUser, str | None, float], Identity] = frozen_builder(
    Identity, ("user", "session_id", "issued")
)


def mac_key(secret: str, client_key: str, purpose: bytes = PURPOSE) -> bytes:
    """The HMAC key of one purpose and one app, derived from one ``secret_key``."""
    return hmac.digest(secret.encode("utf-8"), purpose + b":" + client_key.encode(), "sha256")


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _hmac_states(key: bytes) -> tuple[_Hash, _Hash]:
    """HMAC-SHA256 under ``key`` as its two padded key blocks, hashed once: each message then
    costs two copies and two digests (RFC 2104), less than copying an ``hmac`` object."""
    block = key.ljust(64, b"\0")  # derived keys are 32 bytes: shorter than SHA-256's block
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


def _mac_text(states: tuple[_Hash, _Hash], message: bytes | memoryview) -> bytes:
    """The ``mac`` part for ``message``: base64url, unpadded."""
    inner, outer = states[0].copy(), states[1].copy()
    inner.update(message)
    outer.update(inner.digest())
    return _b64encode(outer.digest())


# A cache entry, under its value's MAC: [expires at, identity, bytes counted, used since the
# last sweep, the value].
_Entry = list[Any]
_MAC_CHARS = 43  # base64url of 32 bytes, unpadded


class IdentityCookie:
    """Encodes a :class:`TikTokUser` into the identity cookie and reads it back.

    Verifying a cookie is the cost floor of a signed-in request, so verified cookie values are
    remembered, up to :data:`CACHE_BYTES` of memory; their age is checked again on every hit.
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
            _hmac_states(mac_key(key, settings.client_key, purpose))
            for key in reversed(settings.secret_keys)
        ]
        self._max_age = settings.cookie_max_age
        self._needle = f"{settings.cookie_name}=".encode("latin-1")
        self._budget = cache_bytes
        self._cache: dict[str, _Entry] = {}
        self._bytes = 0
        self._next_sweep = 0.0
        self._scope_tuples: dict[str, tuple[str, ...]] = {}
        #: Cookies served from the cache, and verified anew (the telemetry's hit ratio).
        self.hits = 0
        self.misses = 0

    # Writing ------------------------------------------------------------------------------------

    def encode(self, identity: Identity) -> str:
        """The ``Set-Cookie`` header value that signs ``identity`` in."""
        return self.spec.header(self.encode_value(identity))

    def encode_value(self, identity: Identity) -> str:
        """The signed value alone (a cookie's value, or a bearer token)."""
        user = identity.user
        values: list[Any] = [identity.session_id, *(getattr(user, n) for n in _USER_FIELDS)]
        issued = int(time.time())
        value = self._sign(values, issued)
        for name in _DROPPABLE:
            if len(self.spec.name) + 1 + len(value) <= MAX_COOKIE_BYTES:
                break
            at = LAYOUT.index(name)
            if values[at] is not None:
                logger.warning("identity cookie too large: dropped %s", name)
                values[at] = None
                value = self._sign(values, issued)
        if len(self.spec.name) + 1 + len(value) > MAX_COOKIE_BYTES:
            raise ValueError("the signed-in identity does not fit in a cookie")
        return value

    def _sign(self, values: list[Any], issued: int) -> str:
        body = f"{_PREFIX}{_payload(values)}.{issued}".encode("ascii")
        return (body + b"." + _mac_text(self._macs[0], body)).decode("ascii")

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
        # Looked up by its MAC: hashing 43 characters rather than the whole value, then the
        # whole value compared (only the exact text remembered is a hit).
        mac = value[-_MAC_CHARS:]
        hit = self._cache.get(mac)
        if hit is not None and hit[4] == value:
            if time.time() <= hit[0]:
                hit[3] = True
                self.hits += 1
                return hit[1]  # type: ignore[no-any-return]
            del self._cache[mac]
            self._bytes -= hit[2]
            return None
        self.misses += 1
        if value.startswith(_PREFIX):
            entry = self._verify(value)
        elif value.startswith(_V2_PREFIX):
            entry = self._verify_v2(value)
        else:
            return None
        if entry is None:
            return None
        size = entry[2]
        if hit is None and (self._bytes + size <= self._budget or self._swept(size)):
            self._cache[mac] = entry
            self._bytes += size
        return entry[1]  # type: ignore[no-any-return]

    def _swept(self, room: int) -> bool:
        """Let go of the entries nobody used since the last sweep (and the expired ones), if
        the last sweep is old enough; whether ``room`` bytes are free then."""
        now = time.time()
        if now < self._next_sweep:
            return False
        self._next_sweep = now + SWEEP_SECONDS
        kept: dict[str, _Entry] = {}
        held = 0
        for mac, entry in self._cache.items():
            if entry[3] and now <= entry[0]:
                entry[3] = False
                kept[mac] = entry
                held += entry[2]
        self._cache, self._bytes = kept, held
        return held + room <= self._budget

    def _check(self, value: str) -> tuple[int, int] | None:
        """``(end of payload, issued)`` of a value whose MAC is good and whose time has not run
        out; None otherwise. Nothing but the MAC is looked at before it is good."""
        cut = value.rfind(".")
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            return None  # not a header's text
        signed = memoryview(raw)[:cut]
        given = raw[cut + 1 :]
        for key in self._macs:
            if hmac.compare_digest(_mac_text(key, signed), given):
                break
        else:
            return None
        # From here on, the text is the middleware's own: vN.<payload>.<issued>
        dot = value.rfind(".", 3, cut)
        try:
            issued = int(value[dot + 1 : cut])
        except ValueError:
            return None
        now = time.time()
        if now - issued > self._max_age or issued > now + _CLOCK_SKEW:
            return None
        return dot, issued

    def _verify(self, value: str) -> _Entry | None:
        """The cache entry of a ``v3`` value that verifies and has not expired: one function,
        one line per element, as a verify costs it (calls and loops cost twice as much)."""
        checked = self._check(value)
        if checked is None:
            return None
        dot, issued = checked
        plain = value[3:dot].replace("+", " ")
        parts: list[Any] = plain.split("|")
        width = len(parts)
        if not _MIN_WIDTH <= width <= _WIDTH:
            return None
        parts += _PADS[width]
        (sid, open_id, name, scopes, union_id, avatar, small, large, username, bio, link,
         verified, followers, following, likes, videos, extra) = parts  # fmt: skip
        try:
            if "!" in plain:
                sid, open_id, name, union_id, username, bio, link = map(
                    _element, (sid, open_id, name, union_id, username, bio, link)
                )
            else:
                sid, union_id = sid or None, union_id or None
                username, bio, link = username or None, bio or None, link or None
            if not open_id:
                return None
            chars = len(plain)
            if "*" in avatar:  # one picture at three sizes: <start>*<middle>*<end>, then middles
                head, middle, tail = avatar.split("*")
                if "!" in avatar:
                    head, middle, tail = (
                        untext(p) if "!" in p else p for p in (head, middle, tail)
                    )
                avatar = f"{head}{middle}{tail}"
                if small:
                    small = f"{head}{untext(small) if '!' in small else small}{tail}"
                    chars += len(head) + len(tail)
                else:
                    small = None
                if large:
                    large = f"{head}{untext(large) if '!' in large else large}{tail}"
                    chars += len(head) + len(tail)
                else:
                    large = None
            else:
                avatar, small, large = _element(avatar), _element(small), _element(large)
            user = _build_user(
                open_id,
                name or "",
                self._scope_tuples.get(scopes) or self._scopes(scopes),
                union_id,
                avatar,
                small,
                large,
                username,
                bio,
                link,
                _BOOLEANS[verified],
                int(followers) if followers else None,
                int(following) if following else None,
                int(likes) if likes else None,
                int(videos) if videos else None,
                read_only(_extra(extra)) if extra else _NO_EXTRA,
            )
        except (ValueError, LookupError):
            return None
        identity = _identity_of(user, sid, issued)
        expires = issued + self._max_age
        size = _ENTRY_BYTES + len(value) + chars + _STRING_BYTES * width
        return [expires, identity, size, True, value]

    def _scopes(self, part: str) -> tuple[str, ...]:
        scopes = split_list(part)
        if len(self._scope_tuples) < _SCOPE_TUPLES_MAX:
            self._scope_tuples[part] = scopes
        return scopes

    def _verify_v2(self, value: str) -> _Entry | None:
        """The cache entry of a ``v2`` value that verifies and has not expired."""
        checked = self._check(value)
        if checked is None:
            return None
        dot, issued = checked
        try:
            payload = value[3:dot].replace("-", "+").replace("_", "/")
            text = binascii.a2b_base64(payload + _PADDING[len(payload) % 4]).decode(
                "utf-8", "surrogatepass"
            )
            values, end = _scan(text, 0)
            if end != len(text):
                return None
            identity = _identity_v2(values, issued)
        except (TypeError, ValueError, IndexError, StopIteration):
            return None
        expires = issued + self._max_age
        size = _ENTRY_BYTES + len(value) + len(text) + _STRING_BYTES * len(values)
        return [expires, identity, size, True, value]

    def cache_size(self) -> tuple[int, int]:
        """``(entries, bytes of memory counted)`` the verified-cookie cache holds now."""
        return len(self._cache), self._bytes


def _payload(values: list[Any]) -> str:
    """The ``v3`` payload of the layout's values (the user's, after ``sid``)."""
    sid, open_id, name = values[:3]
    parts = ["" if sid is None else text(sid), text(open_id), text(name) if name else ""]
    parts.append(join_list(values[_SCOPES]))
    union_id = values[_SCOPES + 1]
    parts.append("" if union_id is None else text(union_id))
    parts += avatars(values[_AVATARS])
    parts += ["" if v is None else text(v) for v in values[_AVATARS.stop : _VERIFIED]]
    verified = values[_VERIFIED]
    parts.append("" if verified is None else "1" if verified else "0")
    parts.extend("" if values[at] is None else str(int(values[at])) for at in _COUNTS)
    extra = values[_EXTRA]
    parts.append(
        text(json.dumps(dict(extra), separators=(",", ":"), ensure_ascii=False)) if extra else ""
    )
    while parts[-1] == "":
        parts.pop()
    return "|".join(parts)


def _element(part: str) -> str | None:
    """A text element's value: None when empty, unescaped when it holds escapes."""
    if not part:
        return None
    return untext(part) if "!" in part else part


def _extra(part: str) -> dict[str, Any]:
    found = json.loads(untext(part) if "!" in part else part)
    if type(found) is not dict:
        raise ValueError("extra is not a JSON object")
    return found


def _identity_v2(values: Any, issued: int) -> Identity:
    """The identity of a verified ``v2`` payload; ``ValueError`` if it is not one."""
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
    return _identity_of(_build_user(*values[1:]), sid, issued)
