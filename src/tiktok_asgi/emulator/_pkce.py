"""PKCE as TikTok's clients use it: S256 with a hex digest (desktop) or RFC 7636's base64url."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from tiktok_asgi.emulator._config import PkceMode

__all__ = ["challenge_is_wellformed", "verifier_matches"]

_HEX_CHALLENGE = re.compile(r"^[0-9a-f]{64}$")
_B64_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def challenge_is_wellformed(challenge: str, mode: PkceMode) -> bool:
    """Whether ``challenge`` is a SHA-256 digest in an encoding ``mode`` accepts."""
    hex_ok = mode in ("any", "hex") and bool(_HEX_CHALLENGE.match(challenge))
    b64_ok = mode in ("any", "base64url") and bool(_B64_CHALLENGE.match(challenge))
    return hex_ok or b64_ok


def verifier_matches(verifier: str, challenge: str, mode: PkceMode) -> bool:
    """Whether ``verifier`` hashes to ``challenge`` under an accepted encoding."""
    if not _VERIFIER.match(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    candidates = []
    if mode in ("any", "hex"):
        candidates.append(digest.hex())
    if mode in ("any", "base64url"):
        candidates.append(base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))
    return any(hmac.compare_digest(c, challenge) for c in candidates)
