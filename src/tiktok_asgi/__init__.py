"""Sign in with TikTok for any ASGI application."""

from .errors import (
    AuthorizationDenied,
    CallbackError,
    StateError,
    TikTokAPIError,
    TikTokAuthError,
    TikTokUnavailable,
)
from .middleware import TikTokAuthMiddleware
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = [
    "AuthorizationDenied",
    "CallbackError",
    "StateError",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokAuthMiddleware",
    "TikTokSettings",
    "TikTokUnavailable",
    "TikTokUser",
]

__version__ = "0.1.0"
