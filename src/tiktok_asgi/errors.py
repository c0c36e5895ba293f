"""Errors of the TikTok login, each with a stable machine-readable ``code``.

Hierarchy::

    TikTokAuthError                 code, description, log_id, status_code
    ├── StateError                  state_missing, state_mismatch, state_expired,
    │                               state_invalid, state_reused           (400)
    ├── CallbackError               invalid_request: a callback without a code (400)
    ├── AuthorizationDenied         TikTok's ``?error=`` on the callback, e.g. access_denied (4xx)
    ├── TikTokAPIError              TikTok answered with an error, incl. HTTP 200 + error (502;
    │                               503 with ``retry_after`` when TikTok rate-limits the app)
    └── TikTokUnavailable           tiktok_unavailable: network failure (503) or timeout (504)

``description`` is safe to show to the person signing in; ``log_id`` is TikTok's request id,
which TikTok support asks for; ``retry_after`` (seconds) is TikTok's hint on a rate limit. No
error ever carries a token, a code or a secret.
"""

from __future__ import annotations

__all__ = [
    "AuthorizationDenied",
    "CallbackError",
    "StateError",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokUnavailable",
]


class TikTokAuthError(Exception):
    """Base class: something stopped a sign-in, a sign-out or a call to TikTok."""

    status_code: int = 400

    def __init__(
        self,
        code: str,
        description: str = "",
        *,
        log_id: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.log_id = log_id
        self.retry_after = retry_after
        if status_code is not None:
            self.status_code = status_code

    def as_dict(self) -> dict[str, str | None]:
        """The JSON error shape: ``{"error", "error_description", "log_id"}``."""
        return {"error": self.code, "error_description": self.description, "log_id": self.log_id}


class StateError(TikTokAuthError):
    """The callback's ``state`` does not prove that this browser started this login."""


class CallbackError(TikTokAuthError):
    """The callback request itself is malformed."""


class AuthorizationDenied(TikTokAuthError):
    """TikTok sent the browser back with ``?error=``; ``access_denied``: the person cancelled."""

    status_code = 400


class TikTokAPIError(TikTokAuthError):
    """TikTok answered a token, user-info, revoke or API call with an error."""

    status_code = 502


class TikTokUnavailable(TikTokAuthError):
    """TikTok could not be reached in time."""

    status_code = 503
