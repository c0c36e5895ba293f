"""Sign in with TikTok for any ASGI application.

Wrap an app with :class:`TikTokAuthMiddleware` configured by one :class:`TikTokSettings`; every
request then carries ``scope["user"]`` (a :class:`TikTokUser` or Starlette's
``UnauthenticatedUser``) and ``scope["auth"]``.
"""

from .api import TikTokAPI, TikTokRateLimited, tiktok_api
from .errors import (
    AuthorizationDenied,
    CallbackError,
    StateError,
    TikTokAPIError,
    TikTokAuthError,
    TikTokUnavailable,
)
from .middleware import LoadUser, OnLogin, TikTokAuthMiddleware
from .settings import TikTokSettings
from .tokens import MemoryTokenStore, TokenStore, TokenStoreError, get_access_token
from .user import TikTokUser

__all__ = [
    "AuthorizationDenied",
    "CallbackError",
    "LoadUser",
    "MemoryTokenStore",
    "OnLogin",
    "StateError",
    "TikTokAPI",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokAuthMiddleware",
    "TikTokRateLimited",
    "TikTokSettings",
    "TikTokUnavailable",
    "TikTokUser",
    "TokenStore",
    "TokenStoreError",
    "get_access_token",
    "tiktok_api",
]

__version__ = "0.1.0"
