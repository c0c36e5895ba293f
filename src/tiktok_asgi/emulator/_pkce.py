"""PKCE as TikTok checks it: S256; hex for desktop apps; base64url (RFC 7636) or hex for web apps.

TikTok documents hex for desktop apps and no encoding for web apps, where both are reported to
work: a web app's challenge may be either unless the emulator is made strict (base64url only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from tiktok_asgi.emulator._config import AppType

__all__ = ["challenge_is_wellformed", "challenge_of", "verifier_matches"]

_HEX_CHALLENGE = re.compile(r"^[0-9a-f]{64}$")
_B64_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def challenge_is_wellformed(challenge: str) -> bool:
    """Whether ``challenge`` looks like a SHA-256 digest (hex or base64url).

    Which encoding the app type expects is only checked at the token exchange, as at TikTok:
    a desktop app sending a base64url challenge gets a code, and then "Code verifier or code
    challenge is invalid." when it redeems it.
    """
    return bool(_HEX_CHALLENGE.match(challenge) or _B64_CHALLENGE.match(challenge))


def challenge_of(verifier: str, app_type: AppType) -> str:
    """The challenge a strict TikTok expects for ``verifier``: base64url (web) or hex (desktop)
    SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if app_type == "desktop":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(
    verifier: str, challenge: str, app_type: AppType, *, strict: bool = False
) -> bool:
    """Whether ``verifier`` hashes to ``challenge`` in an encoding the app type accepts: hex on
    desktop; base64url on web, and hex too unless ``strict``."""
    if not _VERIFIER.match(verifier):
        return False
    if hmac.compare_digest(challenge_of(verifier, app_type), challenge):
        return True
    if app_type == "desktop" or strict:
        return False
    return hmac.compare_digest(challenge_of(verifier, "desktop"), challenge)
