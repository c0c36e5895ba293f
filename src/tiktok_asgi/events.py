"""Audit events: what happened to whose sign-in, one typed record per moment.

The middleware's ``on_event`` hook is awaited with each of them::

    from tiktok_asgi.events import AuthEvent, SignedIn, SignInRefused

    async def on_event(event: AuthEvent) -> None:
        if isinstance(event, SignInRefused):
            audit.warning("sign-in refused: %s", event.reason)

    app = TikTokAuthMiddleware(app, settings=settings, on_event=on_event)

The same events write the library's log lines and, with the ``otel`` extra, its metrics and
span events, so the three never disagree. What every event carries (:class:`AuthEvent`):

- ``at``: when, in seconds since the epoch;
- ``open_id``: the TikTok user, when known;
- ``session``: the login session, as :func:`session_digest` of its id (never the id itself: a
  raw id found in an audit log could be replayed as a cookie); None without a token store;
- ``client``: the client's address as the server saw it (``scope["client"][0]``: behind a
  proxy, the proxy's unless the server is told to trust its forwarded headers); None outside a
  request;
- ``log_id``: TikTok's request id, when a TikTok answer is involved (TikTok's support asks for it).

No event carries a token, a code, a state, a verifier, a cookie or a secret.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias

__all__ = [
    "AuthEvent",
    "Disconnected",
    "EndCause",
    "OnEvent",
    "RefreshRefused",
    "SessionsEnded",
    "SignInRefused",
    "SignInWay",
    "SignedIn",
    "SignedOut",
    "TokenRefreshed",
    "WebhookReceived",
    "WebhookResult",
    "session_digest",
]

SignInWay: TypeAlias = Literal["web", "qr", "native"]
"""How a sign-in came: the web callback, a confirmed QR code, or a native app's code exchange."""

EndCause: TypeAlias = Literal[
    "too_many", "end_user_sessions", "authorization_removed", "disconnect"
]
"""Why sessions were ended together: a user's oldest beyond the per-user limit, an
``end_user_sessions`` call, TikTok's ``authorization.removed`` webhook, or a disconnect."""

WebhookResult: TypeAlias = Literal["handled", "duplicate", "deferred", "failed", "refused"]
"""What became of a webhook delivery: handled (200), already handled (200, not handled again),
deferred (503: being handled elsewhere, or the store or TikTok in trouble; TikTok delivers it
again), failed (500: the handling raised; delivered again) or refused (bad signature or body)."""


def session_digest(session_id: str) -> str:
    """The short digest events carry in place of a login session's id: the first 16 hex digits
    of its SHA-256. Compare it with ``session_digest(id)`` of an id you hold."""
    return digest(session_id)


def digest(text: str) -> str:
    """The first 16 hex digits of ``text``'s SHA-256: an identifier that can be matched, not
    read back."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthEvent:
    """What every audit event carries (see the module's documentation)."""

    at: float = field(default_factory=lambda: time.time())  # read late: a test clock applies
    open_id: str | None = None
    session: str | None = None
    client: str | None = None
    log_id: str | None = None

    #: The event's name in metrics and spans.
    name: ClassVar[str] = "auth_event"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedIn(AuthEvent):
    """A user signed in: the token exchanged, the user read and accepted (``on_login``), the
    login session saved."""

    how: SignInWay
    name: ClassVar[str] = "signed_in"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInRefused(AuthEvent):
    """A sign-in ended without signing anyone in. ``reason`` is the error code the answer
    carries (``access_denied``: the person cancelled at TikTok; ``state_mismatch`` and the other
    ``state_*``; ``open_id_mismatch``; ``login_rejected``: ``on_login`` refused; TikTok's own
    codes such as ``invalid_grant``; ``tiktok_unavailable``; ...). ``fix`` is what to change in
    the app's set-up, for the log; None when nothing is wrong on this side."""

    how: SignInWay
    reason: str
    fix: str | None = None
    name: ClassVar[str] = "sign_in_refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedOut(AuthEvent):
    """A user signed out at the logout path. ``revoked``: the session's access token was sent
    to TikTok to be revoked too (``revoke_on_logout``; a failed revoke is logged as
    ``revoke_failed``). ``held``: the store was down; the end is written once it is back."""

    revoked: bool = False
    held: bool = False
    name: ClassVar[str] = "signed_out"


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(AuthEvent):
    """A user disconnected the app: revoked at TikTok, every login session of theirs ended
    (``sessions_ended`` of them; also reported as :class:`SessionsEnded`)."""

    sessions_ended: int
    name: ClassVar[str] = "disconnected"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionsEnded(AuthEvent):
    """``count`` login sessions of one user ended together, for ``cause``. ``session`` is set
    when one session was ended (``too_many``)."""

    count: int
    cause: EndCause
    name: ClassVar[str] = "sessions_ended"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRefreshed(AuthEvent):
    """A login session's access token was renewed at TikTok (its refresh token rotated)."""

    name: ClassVar[str] = "token_refreshed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshRefused(AuthEvent):
    """TikTok refused to renew a login session's access (``code``, e.g. ``invalid_grant``), or
    it had no refresh token (``no_refresh_token``): the session ended, its user signed out."""

    code: str
    name: ClassVar[str] = "refresh_refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookReceived(AuthEvent):
    """A POST at ``webhook_path``: TikTok's ``event`` name (None when refused before it could
    be read), ``result`` (see :data:`WebhookResult`) and, unless handled, the error ``code``.
    ``open_id`` is the event's ``user_openid``."""

    event: str | None
    result: WebhookResult
    code: str | None = None
    name: ClassVar[str] = "webhook_received"


OnEvent = Callable[[AuthEvent], Awaitable[None]]
"""The middleware's ``on_event`` hook: awaited with each audit event, after the log line. What
it raises is logged and never changes the answer; keep it quick (it runs inside the request)."""
