"""TikTok's webhooks: verified exactly as TikTok documents, answered at once, handled once.

With ``webhook_path`` set (e.g. ``"/auth/tiktok/webhook"``, registered as the callback URL in
the TikTok app console), the middleware answers TikTok's POSTs there:

- ``TikTok-Signature: t=<unix seconds>,s=<hex>`` must be HMAC-SHA256, keyed with the client
  secret, of ``t + "." + raw body``, compared in constant time; ``t`` must be within
  ``webhook_tolerance`` seconds of now (5 minutes by default). Anything else is refused with 401
  ``webhook_signature_invalid``; a body that is not a TikTok event for this ``client_key`` with
  400 ``webhook_event_invalid``. A refused POST changes nothing.
- A verified event is answered 200 at once; then ``authorization.removed`` ends that user's
  login sessions (with a token store) and the event goes to ``on_webhook``.
- TikTok delivers at least once: an event already seen (by any instance sharing the token
  store) is answered 200 and not handled again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._tokens import TokenManager
from .errors import (
    MethodNotAllowed,
    TikTokAuthError,
    TokenStoreUnavailable,
    WebhookEventInvalid,
    WebhookSignatureInvalid,
)
from .settings import TikTokSettings
from .stores import TokenStoreError

__all__ = ["OnWebhook", "TikTokWebhookEvent", "sign_webhook"]

logger = logging.getLogger("tiktok_asgi")

#: TikTok's event when a user removed the app (or their account went away).
AUTHORIZATION_REMOVED = "authorization.removed"
_MAX_BODY = 64 * 1024  # TikTok's events are a few hundred bytes
_MAX_CHUNKS = 1024  # body messages read at most (empty ones would otherwise never end)
_SEEN_PREFIX = "tiktok_asgi:webhook-seen:"
_SEEN_TTL = 73 * 3600  # TikTok retries for up to 72 hours
_SEEN_LOCAL = 10_000  # events remembered in the process when there is no token store


@dataclass(frozen=True, slots=True)
class TikTokWebhookEvent:
    """One verified event. ``content`` is the event's ``content`` (JSON inside the JSON),
    decoded, e.g. ``{"reason": 1}`` for ``authorization.removed``."""

    event: str
    user_openid: str
    create_time: int
    client_key: str
    content: Mapping[str, Any]


OnWebhook = Callable[[TikTokWebhookEvent], Awaitable[None]]


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
    ) -> None:
        self.settings = settings
        self._key = settings.client_secret.encode("utf-8")
        self._tokens = tokens
        self._on_webhook = on_webhook
        self._seen_here: dict[str, float] = {}  # without a store: event digest → expires at

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed(description="TikTok's webhooks are POSTs.")
            body = await _read_body(receive)
            headers = dict(scope["headers"])
            self._verify(headers.get(b"tiktok-signature"), body)
            event = self._event(body)
            first = await self._first_delivery(hashlib.sha256(body).hexdigest())
        except TikTokAuthError as exc:
            logger.warning(
                "webhook_refused code=%s", exc.code, extra={"event": "webhook", "code": exc.code}
            )
            response = JSONResponse(exc.as_dict(), status_code=exc.status_code)
            if isinstance(exc, MethodNotAllowed):
                response.headers["allow"] = "POST"
            await response(scope, receive, send)
            return
        task = BackgroundTask(self._handle, event) if first else None
        await Response(status_code=200, background=task)(scope, receive, send)

    def _verify(self, header: bytes | None, body: bytes) -> None:
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
        expected = hmac.new(self._key, stamp + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise WebhookSignatureInvalid()
        if abs(time.time() - int(stamp)) > self.settings.webhook_tolerance:
            raise WebhookSignatureInvalid(description="The TikTok-Signature is too old.")

    def _event(self, body: bytes) -> TikTokWebhookEvent:
        try:
            data = json.loads(body)
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
            decoded = json.loads(content) if isinstance(content, str) else content
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
        )

    async def _first_delivery(self, digest: str) -> bool:
        """True the first time an event's body comes (a retry carries the same body)."""
        if self._tokens is not None:
            try:
                return await self._tokens.ops.add_once(_SEEN_PREFIX + digest, _SEEN_TTL)
            except TokenStoreError as exc:
                # Not answered 200: TikTok delivers again later, and nothing is lost.
                raise TokenStoreUnavailable() from exc
        now = time.monotonic()
        if self._seen_here.get(digest, 0.0) > now:
            return False
        if len(self._seen_here) >= _SEEN_LOCAL:
            self._seen_here = {d: t for d, t in self._seen_here.items() if t > now}
            while len(self._seen_here) >= _SEEN_LOCAL:
                del self._seen_here[next(iter(self._seen_here))]
        self._seen_here[digest] = now + _SEEN_TTL
        return True

    async def _handle(self, event: TikTokWebhookEvent) -> None:
        logger.info(
            "webhook event=%s", event.event, extra={"event": "webhook", "webhook": event.event}
        )
        try:
            if event.event == AUTHORIZATION_REMOVED and self._tokens is not None:
                # TikTok already revoked the token: forget it, revoke nothing.
                ended = await self._tokens.end_user(event.user_openid, revoke=False)
                logger.info(
                    "authorization_removed sessions_ended=%d",
                    len(ended),
                    extra={"event": "authorization_removed", "sessions_ended": len(ended)},
                )
            if self._on_webhook is not None:
                await self._on_webhook(event)
        except Exception:
            # The 200 is sent already: a failure here is the application's to see in its logs.
            logger.exception("webhook handling failed", extra={"event": "webhook"})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for _ in range(_MAX_CHUNKS):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise WebhookEventInvalid(description="The request ended before its body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            raise WebhookEventInvalid(description="The body is too large for a TikTok event.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
    raise WebhookEventInvalid(description="The body came in too many pieces.")
