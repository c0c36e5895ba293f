"""TikTok's webhooks: verified exactly as TikTok documents, answered at once, handled once.

With ``webhook_path`` set (e.g. ``"/auth/tiktok/webhook"``, registered as the callback URL in
the TikTok app console), the middleware answers TikTok's POSTs there:

- ``TikTok-Signature: t=<unix seconds>,s=<hex>`` must be HMAC-SHA256, keyed with the client
  secret, of ``t + "." + raw body``, compared in constant time; ``t`` must be within
  ``webhook_tolerance`` seconds of now (5 minutes by default). Anything else is refused with 401
  ``webhook_signature_invalid``; a body that is not a TikTok event for this ``client_key`` with
  400 ``webhook_event_invalid``. A refused POST changes nothing.
- A verified event is handled, then answered: ``authorization.removed`` ends that user's login
  sessions (with a token store), then the event goes to ``on_webhook``. Only once that is done
  is the event marked handled and TikTok answered 200; if handling fails, TikTok gets 500 and
  delivers the event again later (for up to 72 hours), so nothing is lost.
- Each of TikTok's four events also arrives typed (:attr:`TikTokWebhookEvent.typed`). An event
  of another name, or one whose content is not as TikTok documents it, arrives untyped
  (``typed=None``) and is handled all the same: TikTok signed it, and refusing it would only
  make TikTok deliver it again for 72 hours while nobody hears of it.
- TikTok delivers at least once: an event already handled (by any instance sharing the token
  store) is answered 200 and not handled again; one being handled right now elsewhere is
  answered 503 with ``Retry-After``.
- The signature header is read before the body, and a body nested deeper than
  :data:`MAX_JSON_DEPTH` is refused: a refused POST costs little and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeAlias

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._bodies import BodyRefused, load_json, read_body
from ._events import EventSink, client_of
from ._session import TokenManager
from ._telemetry import TELEMETRY
from ._webhook_marks import DeliveryMarks
from .errors import (
    MethodNotAllowed,
    TikTokAuthError,
    WebhookEventInvalid,
    WebhookSignatureInvalid,
)
from .events import WebhookReceived, WebhookResult
from .settings import TikTokSettings

__all__ = [
    "AuthorizationRemoved",
    "OnWebhook",
    "PortabilityDownloadReady",
    "TikTokWebhookEvent",
    "VideoPublishCompleted",
    "VideoUploadFailed",
    "WebhookContent",
    "sign_webhook",
]

logger = logging.getLogger("tiktok_asgi")

#: TikTok's event when a user removed the app (or their account went away).
AUTHORIZATION_REMOVED = "authorization.removed"
_MAX_BODY = 64 * 1024  # TikTok's events are a few hundred bytes
#: Deepest JSON nesting accepted in an event (its body, and its content inside).
MAX_JSON_DEPTH = 16


_REMOVAL_REASONS = {
    0: "unknown",
    1: "user_disconnected",
    2: "account_deleted",
    3: "age_changed",
    4: "account_banned",
    5: "developer_revoked",
}


@dataclass(frozen=True, slots=True)
class AuthorizationRemoved:
    """``authorization.removed``: the user's access ended at TikTok, already revoked."""

    event: ClassVar[str] = AUTHORIZATION_REMOVED
    reason: int
    """TikTok's code: 0 unknown, 1 the user disconnected the app in TikTok, 2 the account was
    deleted, 3 the user's age changed, 4 the account was banned, 5 the developer revoked."""

    @property
    def reason_name(self) -> str:
        """``unknown``, ``user_disconnected``, ``account_deleted``, ``age_changed``,
        ``account_banned`` or ``developer_revoked`` (``unknown`` for a code TikTok adds later)."""
        return _REMOVAL_REASONS.get(self.reason, "unknown")


@dataclass(frozen=True, slots=True)
class VideoUploadFailed:
    """``video.upload.failed``: a video shared through Video Kit failed to upload."""

    event: ClassVar[str] = "video.upload.failed"
    share_id: str


@dataclass(frozen=True, slots=True)
class VideoPublishCompleted:
    """``video.publish.completed``: the user published a video shared through Video Kit."""

    event: ClassVar[str] = "video.publish.completed"
    share_id: str


@dataclass(frozen=True, slots=True)
class PortabilityDownloadReady:
    """``portability.download.ready``: a Data Portability API download can be fetched."""

    event: ClassVar[str] = "portability.download.ready"
    request_id: str
    """As TikTok sent it; a number (the API's int64) becomes its decimal string."""


WebhookContent: TypeAlias = (
    AuthorizationRemoved | VideoUploadFailed | VideoPublishCompleted | PortabilityDownloadReady
)
"""The typed content of one of TikTok's four events."""


@dataclass(frozen=True, slots=True)
class TikTokWebhookEvent:
    """One verified event. ``content`` is the event's ``content`` (JSON inside the JSON),
    decoded, e.g. ``{"reason": 1}`` for ``authorization.removed``; ``typed`` is the same content
    typed for TikTok's four events (e.g. ``AuthorizationRemoved(reason=1)``), or None for an
    event of another name or content not shaped as TikTok documents it."""

    event: str
    user_openid: str
    create_time: int
    client_key: str
    content: Mapping[str, Any]
    typed: WebhookContent | None = None


OnWebhook = Callable[[TikTokWebhookEvent], Awaitable[None]]
"""The middleware's ``on_webhook`` hook: awaited once per verified event; the event is answered
200 only once it returns (if it raises, TikTok gets 500 and delivers the event again)."""


def sign_webhook(client_secret: str, body: bytes, timestamp: int) -> str:
    """The ``TikTok-Signature`` header value TikTok sends with ``body`` at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(client_secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},s={digest}"


class WebhookReceiver:
    """The ASGI endpoint at ``webhook_path``."""

    def __init__(
        self,
        settings: TikTokSettings,
        *,
        tokens: TokenManager | None,
        on_webhook: OnWebhook | None,
        events: EventSink | None = None,
    ) -> None:
        self.settings = settings
        self._events = events if events is not None else EventSink()
        self._key = settings.client_secret.encode("utf-8")
        self._tokens = tokens
        self._on_webhook = on_webhook
        self._marks = DeliveryMarks(tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with TELEMETRY.span("tiktok_asgi.webhook") as span:
            response = await self._answer(scope, receive, client_of(scope.get("client")))
            span.set("http.response.status_code", response.status_code)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, client: str | None) -> Response:
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed(description="TikTok's webhooks are POSTs.")
            stamp, given = _signature(dict(scope["headers"]).get(b"tiktok-signature"))
            body = await _read_event_body(receive)
            self._verify(stamp, given, body)
            event = self._event(body)
        except TikTokAuthError as exc:
            await self._events.emit(
                WebhookReceived(event=None, result="refused", code=exc.code, client=client)
            )
            response: Response = JSONResponse(exc.as_dict(), status_code=exc.status_code)
            if isinstance(exc, MethodNotAllowed):
                response.headers["allow"] = "POST"
            return response
        result, code, response = await self._deliver(hashlib.sha256(body).hexdigest(), event)
        received = WebhookReceived(
            event=event.event, result=result, code=code, open_id=event.user_openid, client=client
        )
        await self._events.emit(received)
        return response

    async def _deliver(
        self, digest: str, event: TikTokWebhookEvent
    ) -> tuple[WebhookResult, str | None, Response]:
        """Handle an event once; marked done only after it was handled. What became of it, the
        error code unless handled, and the answer."""
        marks = self._marks
        try:
            if await marks.done(digest):
                return "duplicate", None, Response(status_code=200)
            if not await marks.claim(digest):
                code = "webhook_in_progress"
                return "deferred", code, _answer(503, code, "This event is being handled.", 5)
        except TikTokAuthError:
            # Not answered 200: TikTok delivers again later, and nothing is lost.
            code = "token_store_unavailable"
            return "deferred", code, _answer(503, code, "Try again later.", 60)
        try:
            await self._handle(event)
        except TikTokAuthError as exc:
            # The store (or TikTok) is in trouble now: TikTok's redelivery is handled later.
            await marks.release(digest)
            return "deferred", exc.code, _answer(503, exc.code, "Try again later.", 60)
        except Exception:
            # The traceback, for whoever fixes the hook; the delivery's own line follows.
            logger.exception("webhook handling failed", extra={"event": "webhook"})
            await marks.release(digest)
            code = "webhook_handling_failed"
            return "failed", code, _answer(500, code, "TikTok will deliver it again.", None)
        await marks.finish(digest)
        return "handled", None, Response(status_code=200)

    def _verify(self, stamp: bytes, given: bytes, body: bytes) -> None:
        expected = hmac.new(self._key, stamp + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise WebhookSignatureInvalid()
        if abs(time.time() - int(stamp)) > self.settings.webhook_tolerance:
            raise WebhookSignatureInvalid(description="The TikTok-Signature is too old.")

    def _event(self, body: bytes) -> TikTokWebhookEvent:
        try:
            data = load_json(body, MAX_JSON_DEPTH)
        except ValueError:
            raise WebhookEventInvalid(description="The body is not JSON.") from None
        if not isinstance(data, dict):
            raise WebhookEventInvalid()
        if data.get("client_key") != self.settings.client_key:
            raise WebhookEventInvalid(description="The event is for another client_key.")
        event, open_id = data.get("event"), data.get("user_openid")
        created = data.get("create_time")
        if not isinstance(event, str) or not event or not isinstance(open_id, str):
            raise WebhookEventInvalid(description="The event has no event name or user_openid.")
        if type(created) is not int:
            raise WebhookEventInvalid(description="The event's create_time is not a number.")
        content = data.get("content", "{}")
        try:
            decoded = load_json(content, MAX_JSON_DEPTH) if isinstance(content, str) else content
        except ValueError:
            raise WebhookEventInvalid(description="The event's content is not JSON.") from None
        if not isinstance(decoded, dict):
            raise WebhookEventInvalid(description="The event's content is not a JSON object.")
        return TikTokWebhookEvent(
            event=event,
            user_openid=open_id,
            create_time=created,
            client_key=self.settings.client_key,
            content=MappingProxyType(decoded),
            typed=_typed(event, decoded),
        )

    async def _handle(self, event: TikTokWebhookEvent) -> None:
        if event.event == AUTHORIZATION_REMOVED and self._tokens is not None:
            # TikTok already revoked the token: forget it, revoke nothing.
            ended = await self._tokens.end_user(event.user_openid, revoke=False)
            await self._tokens.report_ended(event.user_openid, len(ended), "authorization_removed")
        if self._on_webhook is not None:
            await self._on_webhook(event)


def _typed(event: str, content: Mapping[str, Any]) -> WebhookContent | None:
    """The content of one of TikTok's four events, typed; None for another event, or for
    content that is not as TikTok documents it (logged: the event is handled all the same)."""
    typed: WebhookContent | None = None
    if event == AUTHORIZATION_REMOVED:
        reason = content.get("reason")
        if type(reason) is int:
            typed = AuthorizationRemoved(reason)
    elif event in (VideoUploadFailed.event, VideoPublishCompleted.event):
        share_id = content.get("share_id")
        if isinstance(share_id, str) and share_id:
            kind = VideoUploadFailed if event == VideoUploadFailed.event else VideoPublishCompleted
            typed = kind(share_id)
    elif event == PortabilityDownloadReady.event:
        request_id = content.get("request_id")
        if type(request_id) is int:
            request_id = str(request_id)
        if isinstance(request_id, str) and request_id:
            typed = PortabilityDownloadReady(request_id)
    else:
        return None
    if typed is None:
        logger.warning(
            "webhook_content_unexpected event=%s",
            event,
            extra={"event": "webhook", "webhook": event},
        )
    return typed


def _answer(status: int, code: str, description: str, retry_after: int | None) -> Response:
    response = JSONResponse({"error": code, "description": description}, status_code=status)
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    return response


def _signature(header: bytes | None) -> tuple[bytes, bytes]:
    """``(t, s)`` of a well-formed ``TikTok-Signature``, checked before any body is read."""
    if header is None:
        raise WebhookSignatureInvalid(description="The TikTok-Signature header is missing.")
    parts: dict[bytes, bytes] = {}
    for item in header.split(b","):
        name, eq, value = item.strip().partition(b"=")
        if not eq or name in parts:
            raise WebhookSignatureInvalid(description="The TikTok-Signature is malformed.")
        parts[name] = value
    stamp, given = parts.get(b"t"), parts.get(b"s")
    if stamp is None or given is None or not stamp.isdigit() or len(stamp) > 12:
        raise WebhookSignatureInvalid(description="The TikTok-Signature is malformed.")
    return stamp, given


async def _read_event_body(receive: Receive) -> bytes:
    try:
        return await read_body(receive, _MAX_BODY)
    except BodyRefused as exc:
        raise WebhookEventInvalid(description=str(exc)) from None
