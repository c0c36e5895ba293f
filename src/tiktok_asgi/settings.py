"""The one settings object. Every precondition fails at start-up with a message naming the fix."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from . import _checks as check
from ._env import settings_from_env
from ._i18n import check_locale
from .limits import RequestLimits

__all__ = ["DEFAULT_SCOPES", "PkceEncoding", "TikTokSettings"]

PkceEncoding = Literal["hex", "base64url"]
DEFAULT_SCOPES: tuple[str, ...] = ("user.info.basic",)
DEFAULT_COOKIE_NAME = "tiktok_session"
DEFAULT_DISCONNECT_PATH = "/auth/tiktok/disconnect"
HOST_PREFIX = "__Host-"
_FLOW_MAX_AGE_LIMIT = 600  # a pending login never outlives ten minutes
_SECRET_FIELDS = frozenset({"client_secret", "secret_key"})
_DEFAULT_LIMITS = RequestLimits()


@dataclass(frozen=True, kw_only=True, slots=True, repr=False)
class TikTokSettings:
    """Configuration of :class:`~tiktok_asgi.TikTokAuthMiddleware`.

    ``secret_key`` is a string, or a sequence of strings for rotation: oldest first, the last one
    signs and every one still verifies.
    """

    client_key: str
    client_secret: str
    redirect_uri: str
    secret_key: str | Sequence[str]
    scopes: Sequence[str] = DEFAULT_SCOPES

    login_path: str = "/auth/tiktok/login"
    callback_path: str = "/auth/tiktok/callback"
    logout_path: str = "/auth/tiktok/logout"
    # Revokes at TikTok and ends every session of the user (needs a token store); None: off.
    disconnect_path: str | None = DEFAULT_DISCONNECT_PATH
    qr_path: str | None = "/auth/tiktok/qr"  # QR-code sign-in for TVs and devices; None: off
    # Codes of TikTok's native SDKs exchanged for bearer sessions; None: off.
    exchange_path: str | None = "/auth/tiktok/exchange"
    native_redirect_uris: Sequence[str] = ()  # the app links the native apps' codes name
    login_redirect: str = "/"
    error_redirect: str | None = None
    protected_paths: Sequence[str] = ()
    webhook_path: str | None = None
    webhook_tolerance: int = 300
    profile_max_age: int = 24 * 3600

    pkce: PkceEncoding | None = "base64url"
    disable_auto_auth: bool = False

    locale: str | None = None
    """The language of every page the middleware shows (sign-out and disconnect confirmations,
    error pages, the QR-code page): ``"en"``, ``"es"``, ``"pt"``, ``"id"``, ``"ja"``, ``"ko"``,
    ``"de"``, ``"fr"``, ``"ar"`` or ``"vi"`` (a tag with a region, ``"pt-BR"``, is its language).
    ``None``, the default, follows each browser's ``Accept-Language``, English when none of them
    fits. Error codes, JSON error bodies and log lines stay English. ``TIKTOK_LOCALE`` from the
    environment (``auto`` for ``None``)."""

    cookie_name: str = DEFAULT_COOKIE_NAME
    cookie_domain: str | None = None
    cookie_path: str = "/"
    cookie_max_age: int = 14 * 24 * 3600
    cookie_secure: bool | None = None
    flow_max_age: int = _FLOW_MAX_AGE_LIMIT

    allowed_origins: Sequence[str] | None = None

    http_timeout: float = 10.0

    limits: RequestLimits | None = _DEFAULT_LIMITS
    """How often one client address, and one browser, may start logins, call the callback, ask
    for QR codes and poll them, exchange native codes and deliver webhooks; past that, 429 with
    ``Retry-After``. ``None`` turns every limit off (``TIKTOK_LIMITS=off``). See
    :class:`~tiktok_asgi.limits.RequestLimits`."""

    authorize_url: str = "https://www.tiktok.com/v2/auth/authorize/"
    token_url: str = "https://open.tiktokapis.com/v2/oauth/token/"
    userinfo_url: str = "https://open.tiktokapis.com/v2/user/info/"
    revoke_url: str = "https://open.tiktokapis.com/v2/oauth/revoke/"
    api_base_url: str = "https://open.tiktokapis.com"

    # Derived once; not constructor arguments.
    secret_keys: tuple[str, ...] = field(init=False)
    secure_cookies: bool = field(init=False)
    # True when cookie_name was the default and became the __Host- name (undone by replace()).
    host_prefixed_default: bool = field(init=False)

    def __post_init__(self) -> None:
        check.require_text(
            "client_key", self.client_key, "the Client key from the TikTok app console"
        )
        check.require_text(
            "client_secret", self.client_secret, "the Client secret from the TikTok app console"
        )
        keys = check.secret_keys(self.secret_key)
        scopes = check.scopes(self.scopes)
        check.check_redirect_uri(self.redirect_uri)
        check.check_public_key(keys, self.redirect_uri)
        for name in ("login_path", "callback_path", "logout_path"):
            check.check_path(name, getattr(self, name))
        if len({self.login_path, self.callback_path, self.logout_path}) != 3:
            raise ValueError(
                "login_path, callback_path and logout_path must be three different paths"
            )
        if not urlsplit(self.redirect_uri).path.endswith(self.callback_path):
            raise ValueError(
                f"redirect_uri {self.redirect_uri!r} must end with callback_path "
                f"{self.callback_path!r}: TikTok sends the browser back to redirect_uri, and the "
                "middleware answers there; set callback_path to the redirect_uri's path"
            )
        _check_webhook(self)
        _check_disconnect(self)
        check.check_qr_path(self.qr_path, _other_paths(self))
        native_uris = _check_native(self)
        if self.profile_max_age <= 0:
            raise ValueError(
                "profile_max_age must be a positive number of seconds (default 86400: TikTok's "
                "avatar URLs stop working after about 47 hours)"
            )
        locale = check_locale(self.locale)
        check.check_local_target("login_redirect", self.login_redirect)
        if self.error_redirect is not None:
            check.check_local_target("error_redirect", self.error_redirect)
        protected = check.protected_paths(self.protected_paths)
        for prefix in protected:
            check.check_path("protected_paths entry", prefix)
        if self.pkce not in (None, "hex", "base64url"):
            raise ValueError(
                'pkce must be "base64url" (web apps, the default), "hex" (TikTok\'s desktop apps) '
                "or None (no PKCE: TikTok refuses web sign-ins without it)"
            )
        if not self.cookie_name or not self.cookie_name.replace("_", "").replace("-", "").isalnum():
            raise ValueError("cookie_name must be a non-empty name of letters, digits, '_' or '-'")
        if self.cookie_name.lower().startswith("__secure-") and not self.cookie_name.startswith(
            HOST_PREFIX
        ):
            raise ValueError(
                "cookie_name: '__Secure-' names are not supported; use a '__Host-' name, or a "
                "name without a prefix"
            )
        if not self.cookie_path.startswith("/"):
            raise ValueError("cookie_path must start with '/'")
        if self.cookie_max_age <= 0:
            raise ValueError("cookie_max_age must be a positive number of seconds")
        if not 0 < self.flow_max_age <= _FLOW_MAX_AGE_LIMIT:
            raise ValueError(f"flow_max_age must be between 1 and {_FLOW_MAX_AGE_LIMIT} seconds")
        if not self.http_timeout > 0:
            raise ValueError("http_timeout must be a positive number of seconds")
        if self.limits is not None and not isinstance(self.limits, RequestLimits):
            raise ValueError(
                "limits must be a RequestLimits (from tiktok_asgi.limits), e.g. "
                "RequestLimits(login=Rate(per_client=3000, per_browser=30)), or None to turn "
                f"every request limit off; got {self.limits!r}"
            )
        for name in ("authorize_url", "token_url", "userinfo_url", "revoke_url", "api_base_url"):
            check.check_endpoint(name, getattr(self, name))
        origins = check.allowed_origins(self.allowed_origins, self.redirect_uri)
        if urlsplit(self.api_base_url).query or self.api_base_url.endswith("/"):
            raise ValueError(
                f"api_base_url must be TikTok's API root without a trailing slash or query, "
                f"e.g. 'https://open.tiktokapis.com'; got {self.api_base_url!r}"
            )

        https = urlsplit(self.redirect_uri).scheme == "https"
        if self.cookie_secure is False and https:
            raise ValueError(
                "cookie_secure=False with an https redirect_uri would send the session cookie over "
                "plain http; leave cookie_secure=None"
            )
        secure_cookies = https if self.cookie_secure is None else self.cookie_secure
        # Browsers keep a __Host- cookie only from a secure origin, host-only, on Path=/: no
        # sibling subdomain can set or overwrite it. The default name takes the prefix whenever
        # it can.
        host_prefixed = (
            self.cookie_name == DEFAULT_COOKIE_NAME
            and https
            and self.cookie_domain is None
            and self.cookie_path == "/"
        )
        cookie_name = HOST_PREFIX + self.cookie_name if host_prefixed else self.cookie_name
        if cookie_name.startswith(HOST_PREFIX):
            _check_host_prefix(self, secure_cookies)
        set_ = object.__setattr__  # frozen: derived fields are set once, here
        set_(self, "scopes", scopes)
        set_(self, "locale", locale)
        set_(self, "protected_paths", protected)
        set_(self, "native_redirect_uris", native_uris)
        set_(self, "allowed_origins", origins)
        set_(self, "secret_keys", keys)
        set_(self, "secure_cookies", secure_cookies)
        set_(self, "cookie_name", cookie_name)
        set_(self, "host_prefixed_default", host_prefixed)

    @classmethod
    def from_env(
        cls,
        prefix: str = "TIKTOK_",
        env_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> TikTokSettings:
        """Settings from ``TIKTOK_*`` environment variables and an optional ``.env`` file.

        A missing or malformed variable raises ``ValueError`` naming the variable and the fix.
        """
        return settings_from_env(cls, prefix, env_file, environ)

    def replace(self, **changes: object) -> TikTokSettings:
        """A copy with some settings changed (validated again)."""
        if self.host_prefixed_default and "cookie_name" not in changes:
            changes["cookie_name"] = DEFAULT_COOKIE_NAME  # derive the default name again
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            parts.append(f"{f.name}={'***' if f.name in _SECRET_FIELDS else repr(value)}")
        return f"TikTokSettings({', '.join(parts)})"


def _check_host_prefix(settings: TikTokSettings, secure_cookies: bool) -> None:
    if not secure_cookies or settings.cookie_domain is not None or settings.cookie_path != "/":
        raise ValueError(
            f"cookie_name {settings.cookie_name!r}: browsers keep a '__Host-' cookie only when it "
            "is Secure, has no Domain and has Path=/; use an https redirect_uri (or "
            "cookie_secure=True), leave cookie_domain unset and cookie_path '/', or choose a name "
            "without the prefix"
        )


def _check_disconnect(settings: TikTokSettings) -> None:
    path = settings.disconnect_path
    if path is None:
        return
    check.check_path("disconnect_path", path)
    others = (settings.login_path, settings.callback_path, settings.logout_path)
    if path in others or path == settings.webhook_path:
        raise ValueError(
            "disconnect_path must differ from login_path, callback_path, logout_path and "
            f"webhook_path, e.g. {DEFAULT_DISCONNECT_PATH!r}, or be None to turn it off"
        )


def _check_webhook(settings: TikTokSettings) -> None:
    if settings.webhook_path is not None:
        check.check_path("webhook_path", settings.webhook_path)
        paths = (settings.login_path, settings.callback_path, settings.logout_path)
        if settings.webhook_path in paths:
            raise ValueError(
                "webhook_path must differ from login_path, callback_path and logout_path, e.g. "
                "'/auth/tiktok/webhook'"
            )
    if not 0 < settings.webhook_tolerance <= 3600:
        raise ValueError(
            "webhook_tolerance must be between 1 and 3600 seconds (default 300: TikTok's "
            "signatures older than five minutes are refused as replays)"
        )


def _other_paths(settings: TikTokSettings) -> dict[str, str]:
    """The other paths the middleware answers (every ``*_path`` setting but the cookie's)."""
    paths = {}
    for f in dataclasses.fields(settings):
        if f.name.endswith("_path") and f.name not in ("qr_path", "cookie_path"):
            value = getattr(settings, f.name)
            if isinstance(value, str):
                paths[f.name] = value
    return paths


def _check_native(settings: TikTokSettings) -> tuple[str, ...]:
    path = settings.exchange_path
    if path is not None:
        check.check_path("exchange_path", path)
        taken = [n for n, p in _other_paths(settings).items() if p == path and n != "exchange_path"]
        if taken or path == settings.qr_path:
            raise ValueError(
                f"exchange_path {path!r} is also another path the middleware answers: give it "
                "a path of its own, e.g. '/auth/tiktok/exchange', or None to turn it off"
            )
    return check.native_redirect_uris(settings.native_redirect_uris)
