"""The emulated TikTok app's console settings, checked the way TikTok's console checks them."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import anyio

__all__ = [
    "APP_TYPES",
    "DEFAULT_PRODUCTS",
    "DEFAULT_REDIRECT_URIS",
    "DEFAULT_SCOPES",
    "FIELD_SCOPES",
    "MAX_REDIRECT_URIS",
    "MAX_TARGET_USERS",
    "PRODUCTS",
    "PRODUCT_SCOPES",
    "WEBHOOK_RETRY_BASE",
    "WEBHOOK_RETRY_CAP",
    "WEBHOOK_RETRY_HORIZON",
    "AppType",
    "EmulatorConfig",
    "check_redirect_uri",
    "scopes_of",
]

AppType = Literal["web", "desktop"]
APP_TYPES: tuple[AppType, ...] = ("web", "desktop")
MAX_REDIRECT_URIS = 10
MAX_TARGET_USERS = 10
DEFAULT_REDIRECT_URIS = (
    "https://testserver/auth/tiktok/callback",
    "http://127.0.0.1:8000/auth/tiktok/callback",
    "http://localhost:8000/auth/tiktok/callback",
)

# The products an app adds in TikTok's console, and the scopes each one brings.
PRODUCT_SCOPES: dict[str, tuple[str, ...]] = {
    "login_kit": ("user.info.basic",),
    "display_api": ("user.info.profile", "user.info.stats", "video.list"),
    "content_posting_api": ("video.publish", "video.upload"),
}
PRODUCTS = tuple(PRODUCT_SCOPES)
PRODUCT_NAMES = {
    "login_kit": "Login Kit",
    "display_api": "Display API",
    "content_posting_api": "Content Posting API",
}
DEFAULT_PRODUCTS = ("login_kit", "display_api")
SCOPE_PRODUCT = {scope: product for product, scopes in PRODUCT_SCOPES.items() for scope in scopes}
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
# Webhook redelivery: 1 s, doubling, at most an hour apart; dropped after 72 hours as at TikTok.
WEBHOOK_RETRY_BASE = 1.0
WEBHOOK_RETRY_CAP = 3600.0
WEBHOOK_RETRY_HORIZON = 72 * 3600.0
_SCOPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Desktop apps may register a loopback URI on any port: ``http://localhost:*/callback``.
_WILDCARD_PORT = re.compile(r"^http://(localhost|127\.0\.0\.1):\*(/[^?#]*)?$")


def scopes_of(products: tuple[str, ...]) -> tuple[str, ...]:
    """Every scope the given products bring, in product order (unknown products bring none)."""
    return tuple(s for p in products for s in PRODUCT_SCOPES.get(p, ()))


def check_redirect_uri(uri: str, app_type: AppType = "web") -> None:
    """Raise ``ValueError`` unless ``uri`` could be registered in TikTok's app console.

    Plain http is accepted for loopback hosts so local development works against the emulator;
    desktop apps may also register a wildcard port (``http://127.0.0.1:*/callback``).
    """
    if "?" in uri or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must not have a query string or fragment")
    if len(uri) >= 512:
        raise ValueError(f"redirect URI {uri[:40]!r}... must be shorter than 512 characters")
    if _WILDCARD_PORT.match(uri):
        if app_type != "desktop":
            raise ValueError(f"redirect URI {uri!r}: a wildcard port is for desktop apps only")
        return
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"redirect URI {uri!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"redirect URI {uri!r} must use https (http only for loopback hosts)")


def _loopback_path(uri: str) -> str | None:
    """The path of an ``http://localhost`` or ``http://127.0.0.1`` URI (any port), else None."""
    wildcard = _WILDCARD_PORT.match(uri)
    if wildcard:
        return wildcard.group(2) or ""
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
        return None
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        return None
    return parts.path


@dataclass(kw_only=True, slots=True)
class EmulatorConfig:
    """Everything TikTokEmulator was built with; ``redirect_uris`` may grow later."""

    client_key: str
    client_secret: str
    redirect_uris: list[str]
    approved_scopes: tuple[str, ...]
    products: tuple[str, ...]
    app_type: AppType
    sandbox: bool
    target_users: tuple[str, ...]
    access_token_ttl: int
    refresh_token_ttl: int
    code_ttl: int
    token_error_status: int
    rate_limit: int | None
    app_name: str
    # Web apps: base64url challenges only (else hex too, since TikTok documents neither).
    strict_pkce: bool = False
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], Awaitable[None]] = field(default=anyio.sleep)
    webhook_retry_base: float = WEBHOOK_RETRY_BASE
    webhook_retry_cap: float = WEBHOOK_RETRY_CAP
    webhook_retry_horizon: float = WEBHOOK_RETRY_HORIZON

    def __post_init__(self) -> None:
        for name in ("client_key", "client_secret", "app_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        if self.app_type not in APP_TYPES:
            raise ValueError('app_type must be "web" or "desktop"')
        uris = list(dict.fromkeys(self.redirect_uris))
        if isinstance(self.redirect_uris, str) or not uris:
            raise ValueError("redirect_uris must be a non-empty sequence of URLs")
        if len(uris) > MAX_REDIRECT_URIS:
            raise ValueError(f"TikTok registers at most {MAX_REDIRECT_URIS} redirect URIs")
        for uri in uris:
            check_redirect_uri(uri, self.app_type)
        self.redirect_uris = uris
        self._check_products()
        self._check_scopes()
        self._check_sandbox()
        for name in ("access_token_ttl", "refresh_token_ttl", "code_ttl"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if not 200 <= self.token_error_status <= 599:
            raise ValueError("token_error_status must be an HTTP status (TikTok uses 200)")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be a positive number of requests per minute, or None")
        self._check_webhook_retry()

    def _check_webhook_retry(self) -> None:
        base, cap = self.webhook_retry_base, self.webhook_retry_cap
        horizon = self.webhook_retry_horizon
        if not (math.isfinite(base) and base > 0):
            raise ValueError("webhook_retry_base must be a positive number of seconds")
        if not (math.isfinite(cap) and cap >= base):
            raise ValueError("webhook_retry_cap must be a number of seconds >= webhook_retry_base")
        if not (math.isfinite(horizon) and horizon >= 0):
            raise ValueError("webhook_retry_horizon must be seconds >= 0 (0: never redeliver)")

    def _check_products(self) -> None:
        if isinstance(self.products, str):
            raise ValueError("products must be a sequence of product names, not one string")
        unknown = [p for p in self.products if p not in PRODUCT_SCOPES]
        if unknown:
            raise ValueError(f"unknown products {unknown}; known: {', '.join(PRODUCTS)}")
        if "login_kit" not in self.products:
            raise ValueError("products must include login_kit: Sign in with TikTok needs it")
        self.products = tuple(dict.fromkeys(self.products))

    def _check_scopes(self) -> None:
        if isinstance(self.approved_scopes, str) or not self.approved_scopes:
            raise ValueError("approved_scopes must be a non-empty sequence of scope names")
        for scope in self.approved_scopes:
            if not _SCOPE_NAME.match(scope):
                raise ValueError(f"{scope!r} is not a TikTok scope name such as 'user.info.basic'")
        self.approved_scopes = tuple(dict.fromkeys(self.approved_scopes))
        lacking = [s for s in self.approved_scopes if self.missing_product(s) is not None]
        if lacking:
            raise ValueError(
                f"approved_scopes {lacking} belong to products the app does not have "
                f"(products={list(self.products)}): add the product or drop the scope"
            )

    def _check_sandbox(self) -> None:
        if isinstance(self.target_users, str):
            raise ValueError("target_users must be a sequence of open_ids or usernames")
        self.target_users = tuple(dict.fromkeys(u.removeprefix("@") for u in self.target_users))
        if self.target_users and not self.sandbox:
            raise ValueError("target_users are for sandbox apps: pass sandbox=True as well")
        if len(self.target_users) > MAX_TARGET_USERS:
            raise ValueError(f"a sandbox app has at most {MAX_TARGET_USERS} target users")

    def missing_product(self, scope: str) -> str | None:
        """The product ``scope`` needs and the app lacks, or None.

        Scopes no known product brings are governed by ``approved_scopes`` alone.
        """
        product = SCOPE_PRODUCT.get(scope)
        return product if product is not None and product not in self.products else None

    def redirect_allowed(self, uri: str) -> bool:
        """Whether the authorize request may use ``uri``.

        Web apps: an exact match with a registered URI (path and trailing slash included).
        Desktop apps also: ``http://localhost`` or ``http://127.0.0.1`` on any port when a
        loopback URI with the same host and path is registered (with any port, or ``*``).
        """
        if uri in self.redirect_uris:
            return True
        if self.app_type != "desktop":
            return False
        path = _loopback_path(uri)
        if path is None or _WILDCARD_PORT.match(uri):
            return False
        host = urlsplit(uri).hostname
        return any(_loopback_path(r) == path and _host_of(r) == host for r in self.redirect_uris)

    def register_redirect_uri(self, uri: str) -> None:
        """Add ``uri`` to the registry (no-op when it is already allowed)."""
        if self.redirect_allowed(uri):
            return
        check_redirect_uri(uri, self.app_type)
        if len(self.redirect_uris) >= MAX_REDIRECT_URIS:
            raise ValueError(f"TikTok registers at most {MAX_REDIRECT_URIS} redirect URIs")
        self.redirect_uris.append(uri)


def _host_of(uri: str) -> str | None:
    wildcard = _WILDCARD_PORT.match(uri)
    return wildcard.group(1) if wildcard else urlsplit(uri).hostname
