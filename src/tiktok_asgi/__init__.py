"""Sign in with TikTok for any ASGI application.

Wrap an app with :class:`TikTokAuthMiddleware` configured by one :class:`TikTokSettings`; every
request then carries ``scope["user"]`` (a :class:`TikTokUser` or Starlette's
``UnauthenticatedUser``), ``scope["auth"]`` and a :class:`TikTokContext` read with
:func:`tiktok_context`, in any framework: ``await tiktok_context(request).access_token()``,
``await tiktok_context(request).end_user_sessions(open_id)``; :func:`login_url` builds the login
address, :func:`tiktok_api` calls TikTok as the user.

The root holds what an application needs to wrap an app and read its user: the middleware, its
settings and hooks, the user, the context, the token store protocol with the memory store, and
the errors a view catches. Everything else is imported from its module: every error from
``tiktok_asgi.errors``, the Redis store from ``tiktok_asgi.redis_store``, TikTok's webhooks from
``tiktok_asgi.webhooks``, sessions ended outside a request from ``tiktok_asgi.sessions``, the
framework adapters from ``tiktok_asgi.starlette``, ``.fastapi``, ``.quart``, ``.litestar`` and
``.django``.

How the package reads, in the order a request meets it (a leading ``_`` marks what is internal):

- configuration and vocabulary: ``settings`` (``_checks`` for its values, ``_env`` reads
  ``TIKTOK_*``), ``limits`` (request limits, counted by ``_limits`` in ``_limit_counts``),
  ``errors``, ``events`` (audit events; ``_events`` hands each to ``_event_log``, ``_telemetry``
  and ``on_event``),
  ``advice`` (what TikTok's errors mean), ``user``;
- ``_tiktok``, TikTok's dialect: ``http`` (the pool, the only httpx2 import), ``answers``
  (TikTok's answer shapes), ``provider`` (authorize URL, code exchange, user info, refresh, revoke,
  bearer calls);
- ``_cookies``, what the browser carries: ``signing``, ``flow`` (pending logins), ``identity``;
- login sessions: ``stores`` (where records live), ``redis_store``, ``_session`` (the session
  state machine: ``storage``, ``liveness``, ``records``, ``tokens``, ``profiles``, ``step``,
  ``sockets``), ``sessions`` (``end_user_sessions_in_store``);
- the request: ``_conversation`` (login, callback, logout), ``_disconnect`` (revoke at TikTok,
  end every session), ``webhooks`` (TikTok's signed events), ``middleware`` (the gate),
  ``context`` (what downstream code reads), ``_responses``, ``pages`` (the pages people see),
  ``_redirects``; ``api`` (TikTok's API as the user);
- framework adapters: ``starlette``, ``fastapi``, ``quart``, ``litestar``, ``django`` (sharing
  ``_adapter``);
- beside them: ``emulator`` (an offline TikTok), ``demo``, ``pytest_plugin``; ``_deprecation``
  (the names on their way out, and the release that removes them).
"""

from typing import Any as _Any

from ._deprecation import moved_attribute as _moved_attribute
from .api import TikTokAPI, tiktok_api
from .context import TikTokContext, login_url, tiktok_context
from .errors import (
    InsufficientScope,
    LoginRequired,
    TikTokAPIError,
    TikTokAuthError,
    TikTokRateLimited,
    TikTokUnavailable,
    TokenStoreUnavailable,
)
from .middleware import LoadUser, OnLogin, OnLogout, OnWebhook, TikTokAuthMiddleware
from .pages import ErrorPage
from .settings import TikTokSettings
from .stores import MemoryTokenStore, TokenStore, TokenStoreError
from .user import TikTokUser
from .webhooks import TikTokWebhookEvent

__all__ = [
    "ErrorPage",
    "InsufficientScope",
    "LoadUser",
    "LoginRequired",
    "MemoryTokenStore",
    "OnLogin",
    "OnLogout",
    "OnWebhook",
    "TikTokAPI",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokAuthMiddleware",
    "TikTokContext",
    "TikTokRateLimited",
    "TikTokSettings",
    "TikTokUnavailable",
    "TikTokUser",
    "TikTokWebhookEvent",
    "TokenStore",
    "TokenStoreError",
    "TokenStoreUnavailable",
    "login_url",
    "tiktok_api",
    "tiktok_context",
]

__version__ = "0.1.0"

# Names the package root no longer exports (see _deprecation.REMOVED_IN): the module holding
# each, its name there, and what to use instead.
_MOVED: dict[str, tuple[str, str, str]] = {
    name: ("tiktok_asgi.errors", name, f"from tiktok_asgi.errors import {name}")
    for name in (
        "AuthorizationDenied",
        "CallbackError",
        "CrossSiteRequest",
        "IdentityTooLarge",
        "LoginRejected",
        "MethodNotAllowed",
        "OpenIdMismatch",
        "SignInCancelled",
        "StateError",
        "WebhookEventInvalid",
        "WebhookSignatureInvalid",
    )
}
_MOVED["get_access_token"] = (
    "tiktok_asgi.context",
    "get_access_token",
    "await tiktok_context(request).access_token()",
)
_MOVED["end_user_sessions"] = (
    "tiktok_asgi.sessions",
    "end_user_sessions",
    "await tiktok_context(request).end_user_sessions(open_id)",
)


def __getattr__(name: str) -> _Any:
    """The deprecated root names: each still works, with a ``DeprecationWarning`` naming its new
    import path and the release that removes it."""
    return _moved_attribute(__name__, name, _MOVED)


def __dir__() -> list[str]:
    """The public surface (``__all__``) and the module's own dunders: neither the deprecated
    names nor the submodules."""
    return sorted({*__all__, *(n for n in globals() if n.startswith("__"))})
