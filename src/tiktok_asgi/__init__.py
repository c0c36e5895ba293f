"""Sign in with TikTok for any ASGI application.

Wrap an app with :class:`TikTokAuthMiddleware` configured by one :class:`TikTokSettings`; every
request then carries ``scope["user"]`` (a :class:`TikTokUser` or Starlette's
``UnauthenticatedUser``), ``scope["auth"]`` and a :class:`TikTokContext` read with
:func:`tiktok_context`.

How the package reads, in the order a request meets it (a leading ``_`` marks what is internal):

- configuration and vocabulary: ``settings`` (``_checks`` for its values, ``_env`` reads
  ``TIKTOK_*``), ``errors``,
  ``advice`` (what TikTok's errors mean), ``user``;
- ``_tiktok``, TikTok's dialect: ``http`` (the pool, the only httpx2 import), ``answers``
  (TikTok's answer shapes), ``provider`` (authorize URL, code exchange, user info, refresh, revoke,
  bearer calls);
- ``_cookies``, what the browser carries: ``signing``, ``flow`` (pending logins), ``identity``;
- login sessions: ``stores`` (where records live), ``redis_store``, ``_session`` (the session
  state machine: ``storage``, ``liveness``, ``records``, ``tokens``, ``profiles``, ``step``,
  ``sockets``), ``sessions`` (``end_user_sessions``);
- the request: ``_conversation`` (login, callback, logout), ``_disconnect`` (revoke at TikTok,
  end every session), ``webhooks`` (TikTok's signed events), ``middleware`` (the gate),
  ``context`` (what downstream code reads), ``_responses``, ``pages`` (the pages people see),
  ``_redirects``; ``api`` (TikTok's API as the user);
- framework adapters: ``starlette``, ``fastapi``, ``quart``, ``litestar``, ``django`` (sharing
  ``_adapter``);
- beside them: ``emulator`` (an offline TikTok), ``demo``, ``pytest_plugin``.
"""

from .api import TikTokAPI, tiktok_api
from .context import TikTokContext, get_access_token, tiktok_context
from .errors import (
    AuthorizationDenied,
    CallbackError,
    CrossSiteRequest,
    IdentityTooLarge,
    InsufficientScope,
    LoginRejected,
    LoginRequired,
    MethodNotAllowed,
    OpenIdMismatch,
    SignInCancelled,
    StateError,
    TikTokAPIError,
    TikTokAuthError,
    TikTokRateLimited,
    TikTokUnavailable,
    TokenStoreUnavailable,
    WebhookEventInvalid,
    WebhookSignatureInvalid,
)
from .middleware import LoadUser, OnLogin, OnLogout, OnWebhook, TikTokAuthMiddleware
from .pages import ErrorPage
from .sessions import end_user_sessions
from .settings import TikTokSettings
from .stores import MemoryTokenStore, TokenStore, TokenStoreError
from .user import TikTokUser
from .webhooks import TikTokWebhookEvent

__all__ = [
    "AuthorizationDenied",
    "CallbackError",
    "CrossSiteRequest",
    "ErrorPage",
    "IdentityTooLarge",
    "InsufficientScope",
    "LoadUser",
    "LoginRejected",
    "LoginRequired",
    "MemoryTokenStore",
    "MethodNotAllowed",
    "OnLogin",
    "OnLogout",
    "OnWebhook",
    "OpenIdMismatch",
    "SignInCancelled",
    "StateError",
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
    "WebhookEventInvalid",
    "WebhookSignatureInvalid",
    "end_user_sessions",
    "get_access_token",
    "tiktok_api",
    "tiktok_context",
]

__version__ = "0.1.0"
