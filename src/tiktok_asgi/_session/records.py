"""Token records: what a login session keeps in the token store, sealed.

The record is the token response TikTok gave (access and refresh token, their expiry, the
granted scope, the open_id), encrypted with keys derived from ``secret_key`` (rotation
included) and bound to its login session's id: a record copied under another session's key in
the store is refused on read.

What is encrypted is the JSON array ``[sid, access_token, expires_at, refresh_token,
refresh_expires_at, scope, open_id]``: a third shorter than the same as an object, which every
login session pays for in the store. Records written as an object (``{"access_token": …,
"sid": …}``) by earlier versions are still read.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tiktok_asgi.settings import TikTokSettings

__all__ = ["Sealer", "TokenRecord", "record_key"]

_REFRESH_LEEWAY = 60  # refresh this many seconds before the access token expires
_KEY_PREFIX = "tiktok_asgi:token:"


def record_key(session_id: str) -> str:
    """The store key of a login session's record."""
    return _KEY_PREFIX + session_id


@dataclass(frozen=True, slots=True)
class TokenRecord:
    access_token: str
    expires_at: float
    refresh_token: str | None
    refresh_expires_at: float | None
    scope: str
    open_id: str | None

    @classmethod
    def from_response(cls, token: Mapping[str, Any], now: float) -> TokenRecord:
        refresh_in = token.get("refresh_expires_in")
        return cls(
            access_token=str(token["access_token"]),
            expires_at=now + float(token.get("expires_in") or 0),
            refresh_token=token.get("refresh_token"),
            refresh_expires_at=now + float(refresh_in) if refresh_in else None,
            scope=str(token.get("scope") or ""),
            open_id=token.get("open_id"),
        )

    def ttl(self, now: float) -> int:
        until = self.refresh_expires_at if self.refresh_token and self.refresh_expires_at else None
        return max(1, int((until or self.expires_at) - now))

    def fresh(self, now: float) -> bool:
        return self.expires_at - _REFRESH_LEEWAY > now


# A sealed record's elements: the session id, then the record's fields in order.
_WIDTH = 1 + len(fields(TokenRecord))


class Sealer:
    """Encrypts records for the store and reads them back (None for anything unreadable)."""

    def __init__(self, settings: TikTokSettings) -> None:
        self._fernet = fernet(settings.secret_keys, settings.client_key)

    def seal(self, session_id: str, record: TokenRecord) -> bytes:
        sealed = [session_id, *astuple(record)]
        return self._fernet.encrypt(json.dumps(sealed, separators=(",", ":")).encode("utf-8"))

    def open(self, session_id: str, blob: bytes) -> TokenRecord | None:
        try:
            sealed = json.loads(self._fernet.decrypt(blob))
            if type(sealed) is list:
                if len(sealed) != _WIDTH or sealed[0] != session_id:
                    return None  # a record of another login session
                return TokenRecord(*sealed[1:])
            if sealed.pop("sid", None) != session_id:  # written as an object by earlier versions
                return None
            return TokenRecord(**sealed)
        except (InvalidToken, ValueError, TypeError, AttributeError):
            return None


def fernet(secret_keys: tuple[str, ...], client_key: str) -> MultiFernet:
    """Newest key encrypts; every key decrypts. The client key is in the derivation: another app
    sharing ``secret_key`` and the store cannot read the records."""

    def derive(key: str) -> Fernet:
        label = b"tiktok-asgi.tokens\x00" + client_key.encode("utf-8") + b"\x00"
        digest = hashlib.sha256(label + key.encode("utf-8")).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    return MultiFernet([derive(k) for k in reversed(secret_keys)])
