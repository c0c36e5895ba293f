"""Errors of the TikTok login, each with a stable machine-readable ``code``.

One class per condition that code (ours or yours) branches on; the HTTP status a condition is
answered with is the class's ``status_code``. Hierarchy (code, status)::

    TikTokAuthError                     code, description, log_id, status_code, retry_after
    ├── StateError                      state_missing | state_mismatch | state_expired |
    │                                   state_invalid | state_reused                   400
    ├── CallbackError                   invalid_request: a callback without a code    400
    ├── ExchangeInvalid                 invalid_request: a native code exchange that is
    │                                   not one (JSON, code, verifier, redirect_uri)   400
    ├── AuthorizationDenied             TikTok's ``?error=`` on the callback           400
    │   └── SignInCancelled             access_denied: the person pressed Cancel       403
    ├── LoginRequired                   login_required                                 401
    ├── LoginRejected                   login_rejected: ``on_login`` returned None      403
    ├── InsufficientScope               insufficient_scope                             403
    ├── CrossSiteRequest                csrf_rejected: a sign-out from another site    403
    ├── MethodNotAllowed                method_not_allowed                             405
    ├── QueryTooLong                    query_too_long: a query string over the
    │                                   limits' ``max_query_bytes``, refused unread    414
    ├── RateLimited                     rate_limited: too many requests of one kind
    │                                   from a client or browser (``retry_after``)     429
    ├── IdentityTooLarge                identity_too_large: ``extra`` too big          500
    ├── TokenStoreUnavailable           token_store_unavailable                        503
    ├── WebhookSignatureInvalid         webhook_signature_invalid: missing, malformed,
    │                                   wrong or stale ``TikTok-Signature``            401
    ├── WebhookEventInvalid             webhook_event_invalid: not an event for this app 400
    ├── QrSessionError                  qr_unknown | qr_used: a QR sign-in polled by
    │                                   another browser, or used already               403
    ├── QrUnavailable                   qr_unavailable: the ``qr`` extra is missing    501
    ├── TikTokUnavailable               tiktok_unavailable: unreachable 503, timeout 504
    └── TikTokAPIError                  TikTok answered with an error (HTTP 200 too)   502
        ├── OpenIdMismatch              open_id_mismatch: token and user info disagree  502
        ├── ClientTicketMismatch        client_ticket_mismatch: a QR status answer not
        │                               made for our QR code                           502
        └── TikTokRateLimited           rate_limit_exceeded                            503
                                        (429 from an API call still limited after retries)

An API call made for a view (:func:`~tiktok_asgi.tiktok_api`) passes some of TikTok's codes on
with their own status: :data:`API_CALL_STATUS` is that table.

``description`` is safe to show to the person signing in; ``log_id`` is TikTok's request id, which
TikTok support asks for; ``retry_after`` (seconds) is TikTok's hint on a rate limit, or, on
:class:`RateLimited`, when this middleware's own limit frees. No error ever carries a token, a
code or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from ._extras import install_hint
from ._i18n import N_

__all__ = [
    "API_CALL_STATUS",
    "AuthorizationDenied",
    "CallbackError",
    "ClientTicketMismatch",
    "CrossSiteRequest",
    "ExchangeInvalid",
    "IdentityTooLarge",
    "InsufficientScope",
    "LoginRejected",
    "LoginRequired",
    "MethodNotAllowed",
    "OpenIdMismatch",
    "QrSessionError",
    "QrUnavailable",
    "QueryTooLong",
    "RateLimited",
    "SignInCancelled",
    "StateError",
    "TikTokAPIError",
    "TikTokAuthError",
    "TikTokRateLimited",
    "TikTokUnavailable",
    "TokenStoreUnavailable",
    "WebhookEventInvalid",
    "WebhookSignatureInvalid",
]


class TikTokAuthError(Exception):
    """Base class: something stopped a sign-in, a sign-out or a call to TikTok."""

    status_code: int = 400
    #: The code of conditions that have one fixed code (subclasses set it).
    default_code: ClassVar[str] = ""
    #: What the person in the browser reads when no description is given.
    default_description: ClassVar[str] = ""

    def __init__(
        self,
        code: str | None = None,
        description: str | None = None,
        *,
        log_id: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        code = code or self.default_code
        if not code:
            raise TypeError(f"{type(self).__name__} needs a code")
        description = self.default_description if description is None else description
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

    default_code = "invalid_request"


class ExchangeInvalid(TikTokAuthError):
    """A native app's code exchange is malformed, or names a redirect URI not registered."""

    default_code = "invalid_request"


class AuthorizationDenied(TikTokAuthError):
    """TikTok sent the browser back with ``?error=`` instead of a code."""


class SignInCancelled(AuthorizationDenied):
    """The person pressed Cancel on TikTok's consent page (``access_denied``)."""

    status_code = 403
    default_code = "access_denied"
    default_description = N_("You cancelled the sign-in with TikTok.")


class LoginRequired(TikTokAuthError):
    """Nobody is signed in, or the sign-in ended (e.g. TikTok refused to renew the access)."""

    status_code = 401
    default_code = "login_required"
    default_description = N_("Sign in with TikTok first.")


class LoginRejected(TikTokAuthError):
    """The application's ``on_login`` hook refused this TikTok account."""

    status_code = 403
    default_code = "login_rejected"
    default_description = N_("This TikTok account may not sign in here.")


class InsufficientScope(TikTokAuthError):
    """The user is signed in but did not grant a TikTok scope this needs."""

    status_code = 403
    default_code = "insufficient_scope"


class CrossSiteRequest(TikTokAuthError):
    """A sign-out that another site made the browser send."""

    status_code = 403
    default_code = "csrf_rejected"
    default_description = N_("Sign-out must come from this site.")


class MethodNotAllowed(TikTokAuthError):
    """A login, callback or logout path reached with the wrong HTTP method."""

    status_code = 405
    default_code = "method_not_allowed"


class QueryTooLong(TikTokAuthError):
    """A request to one of the middleware's paths whose query string is longer than
    :attr:`~tiktok_asgi.limits.RequestLimits.max_query_bytes`: refused before it is read."""

    status_code = 414
    default_code = "query_too_long"
    default_description = N_("The address of this request is too long.")


class RateLimited(TikTokAuthError):
    """More requests of one kind from this client or browser than the settings' ``limits``
    allow in their window; ``retry_after`` is how many seconds until the window frees."""

    status_code = 429
    default_code = "rate_limited"
    default_description = N_("Too many requests. Please wait a moment, then try again.")


class IdentityTooLarge(TikTokAuthError):
    """The signed-in profile does not fit in a cookie: ``on_login`` attached too much ``extra``."""

    status_code = 500
    default_code = "identity_too_large"
    default_description = N_(
        "The signed-in profile does not fit in a cookie; keep on_login's extra small."
    )


class TokenStoreUnavailable(TikTokAuthError):
    """The token store could not be reached in time; nobody is signed out because of it."""

    status_code = 503
    default_code = "token_store_unavailable"
    default_description = N_("The token store is not reachable.")


class WebhookSignatureInvalid(TikTokAuthError):
    """A webhook POST whose ``TikTok-Signature`` is missing, malformed, wrong or too old."""

    status_code = 401
    default_code = "webhook_signature_invalid"
    default_description = "The TikTok-Signature header does not verify."


class WebhookEventInvalid(TikTokAuthError):
    """A correctly signed webhook POST that is not a TikTok event for this app."""

    status_code = 400
    default_code = "webhook_event_invalid"
    default_description = "The body is not a TikTok event for this app."


class QrSessionError(TikTokAuthError):
    """A QR-code sign-in this browser did not start (``qr_unknown``) or already used
    (``qr_used``): each one is used once, by the browser that asked for its code."""

    status_code = 403


class QrUnavailable(TikTokAuthError):
    """QR-code sign-in needs the ``qr`` extra, which renders the code."""

    status_code = 501
    default_code = "qr_unavailable"
    default_description = f"QR-code sign-in is not installed on this site: {install_hint('qr')}"


class TikTokUnavailable(TikTokAuthError):
    """TikTok could not be reached (503) or did not answer in time (504)."""

    status_code = 503
    default_code = "tiktok_unavailable"


class TikTokAPIError(TikTokAuthError):
    """TikTok answered a token, user-info, revoke or API call with an error."""

    status_code = 502


class OpenIdMismatch(TikTokAPIError):
    """User info describes another account than the one the token was issued for."""

    default_code = "open_id_mismatch"
    default_description = N_("TikTok's answers did not agree on who signed in. Please try again.")


class ClientTicketMismatch(TikTokAPIError):
    """A QR status answer carries another ``client_ticket`` than the one this QR code was made
    with: it was not made for this sign-in (TikTok asks apps to refuse such answers)."""

    default_code = "client_ticket_mismatch"
    default_description = N_("TikTok's answer did not match this QR code. Please get a new code.")


class TikTokRateLimited(TikTokAPIError):
    """TikTok rate-limits the app (429 ``rate_limit_exceeded``); ``retry_after`` is its hint."""

    status_code = 503
    default_code = "rate_limit_exceeded"


API_CALL_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "access_token_invalid": 401,
        "scope_not_authorized": 403,
        "scope_permission_missed": 403,
        "invalid_params": 400,
        "invalid_param": 400,
        "rate_limit_exceeded": 429,
    }
)
"""The status of an API call's error by TikTok's code, when a view's call passes it on."""
