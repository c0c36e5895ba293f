"""Helpers of the security tests: independent checks of what comes back from the app.

The checks do not reuse the middleware's own code: a redirect target is judged the way a
browser reads it (WHATWG URL parsing strips tabs and newlines and treats ``\\`` as ``/``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import unquote, urljoin, urlsplit

from itsdangerous import URLSafeTimedSerializer

from tests.support.asgi import Answer
from tiktok_asgi import TikTokSettings

SITE = "https://testserver"
AUTHORIZE_PREFIX = "https://www.tiktok.com/v2/auth/authorize/?"
_WHATWG_STRIPPED = re.compile(r"[\t\n\r]")


def browser_target(location: str, base: str = SITE + "/here") -> str:
    """The absolute URL a browser navigates to for ``Location: location`` (WHATWG-ish)."""
    cleaned = _WHATWG_STRIPPED.sub("", location.strip("".join(map(chr, range(33)))))
    cleaned = cleaned.replace("\\", "/")
    if cleaned.startswith("//"):
        # For http(s) a browser reads any run of two or more slashes as "a host follows".
        return urljoin(base, "//" + cleaned.lstrip("/"))
    return urljoin(base, cleaned)


def is_same_site_path(location: str) -> bool:
    """A redirect that stays on this site however a browser or a second decoding reads it."""
    if not location.startswith("/") or location.startswith(("//", "/\\")):
        return False
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in location):
        return False
    for candidate in (location, unquote(location), unquote(unquote(location))):
        target = urlsplit(browser_target(candidate))
        if (target.scheme, target.netloc) != ("https", "testserver"):
            return False
    return True


def assert_headers_clean(answer: Answer) -> None:
    """No header name or value carries CR, LF or NUL (no response splitting)."""
    for key, value in answer.raw_headers:
        for part in (key, value):
            for forbidden in (b"\r", b"\n", b"\x00"):
                assert forbidden not in part, (key, value)


def assert_safe_location(answer: Answer, *, authorize_allowed: bool = False) -> None:
    """Any ``Location`` is a same-site path, or (on the login path) TikTok's authorize URL."""
    locations = answer.all("location")
    assert len(locations) <= 1, locations
    for location in locations:
        if authorize_allowed and location.startswith(AUTHORIZE_PREFIX):
            continue
        assert is_same_site_path(location), location


def identity_set(answer: Answer, settings: TikTokSettings) -> str | None:
    """The identity cookie value this answer sets (None if it sets none or clears it)."""
    found = None
    for header in answer.all("set-cookie"):
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        if name == settings.cookie_name and value:
            found = value
    return found


def serializer(keys: Iterable[str], salt: str) -> URLSafeTimedSerializer:
    """A signer for the middleware's cookies, built independently (to forge and to read)."""
    return URLSafeTimedSerializer(
        list(keys), salt=salt, signer_kwargs={"digest_method": hashlib.sha256}
    )


def assert_sound(answer: Answer, *, authorize_allowed: bool = False) -> None:
    """What every answer to hostile input must satisfy: no 500, clean headers, safe Location."""
    assert answer.status != 500, answer.body[:500]
    assert 200 <= answer.status < 600
    assert_headers_clean(answer)
    assert_safe_location(answer, authorize_allowed=authorize_allowed)
