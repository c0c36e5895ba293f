"""The emulated TikTok app's console settings, checked the way TikTok's console checks them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_REDIRECT_URIS",
    "DEFAULT_SCOPES",
    "FIELD_SCOPES",
    "MAX_REDIRECT_URIS",
    "EmulatorConfig",
    "PkceMode",
    "check_redirect_uri",
]

PkceMode = Literal["any", "hex", "base64url"]
MAX_REDIRECT_URIS = 10
DEFAULT_REDIRECT_URIS = (
    "https://testserver/auth/tiktok/callback",
    "http://127.0.0.1:8000/auth/tiktok/callback",
    "http://localhost:8000/auth/tiktok/callback",
)
DEFAULT_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")

# /v2/user/info/ field -> the scope that unlocks it (kit doc, section 5).
FIELD_SCOPES: dict[str, str] = {
    **dict.fromkeys(
        ("open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name"),
        "user.info.basic",
    ),
    **dict.fromkeys(
        ("bio_description", "profile_deep_link", "is_verified", "username"), "user.info.profile"
    ),
    **dict.fromkeys(
        ("follower_count", "following_count", "likes_count", "video_count"), "user.info.stats"
    ),
}
_SCOPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def check_redirect_uri(uri: str) -> None:
    """Raise ``ValueError`` unless ``uri`` could be registered in TikTok's app console.

    Plain http is accepted for loopback hosts so local development works against the emulator.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"redirect URI {uri!r} must use https (http only for loopback hosts)")
    if "?" in uri or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must not have a query string or fragment")
    if len(uri) >= 512:
        raise ValueError(f"redirect URI {uri[:40]!r}... must be shorter than 512 characters")


@dataclass(kw_only=True, slots=True)
class EmulatorConfig:
    """Everything TikTokEmulator was built with; ``redirect_uris`` may grow later."""

    client_key: str
    client_secret: str
    redirect_uris: list[str]
    approved_scopes: tuple[str, ...]
    access_token_ttl: int
    refresh_token_ttl: int
    code_ttl: int
    pkce: PkceMode
    token_error_status: int
    rate_limit: int | None
    app_name: str
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        for name in ("client_key", "client_secret", "app_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        uris = list(dict.fromkeys(self.redirect_uris))
        if isinstance(self.redirect_uris, str) or not uris:
            raise ValueError("redirect_uris must be a non-empty sequence of URLs")
        if len(uris) > MAX_REDIRECT_URIS:
            raise ValueError(f"TikTok registers at most {MAX_REDIRECT_URIS} redirect URIs")
        for uri in uris:
            check_redirect_uri(uri)
        self.redirect_uris = uris
        if isinstance(self.approved_scopes, str) or not self.approved_scopes:
            raise ValueError("approved_scopes must be a non-empty sequence of scope names")
        for scope in self.approved_scopes:
            if not _SCOPE_NAME.match(scope):
                raise ValueError(f"{scope!r} is not a TikTok scope name such as 'user.info.basic'")
        self.approved_scopes = tuple(dict.fromkeys(self.approved_scopes))
        for name in ("access_token_ttl", "refresh_token_ttl", "code_ttl"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.pkce not in ("any", "hex", "base64url"):
            raise ValueError('pkce must be "any", "hex" or "base64url"')
        if not 200 <= self.token_error_status <= 599:
            raise ValueError("token_error_status must be an HTTP status (TikTok uses 200)")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be a positive number of requests per minute, or None")

    def register_redirect_uri(self, uri: str) -> None:
        """Add ``uri`` to the registry (no-op when already there)."""
        if uri in self.redirect_uris:
            return
        check_redirect_uri(uri)
        if len(self.redirect_uris) >= MAX_REDIRECT_URIS:
            raise ValueError(f"TikTok registers at most {MAX_REDIRECT_URIS} redirect URIs")
        self.redirect_uris.append(uri)
