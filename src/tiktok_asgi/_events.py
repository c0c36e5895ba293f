"""Where every audit event goes, in this order: its log line, its metric, an event on the
current span, then the application's ``on_event``.

One path for all of them, so that logs, metrics and traces cannot disagree. An ``on_event`` that
raises is logged; the request goes on as if it had returned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from ._event_log import log_event
from ._telemetry import TELEMETRY, AttributeValue
from .events import (
    AuthEvent,
    OnEvent,
    RefreshRefused,
    SessionsEnded,
    SignedIn,
    SignInRefused,
    TokenRefreshed,
    WebhookReceived,
    digest,
)

__all__ = ["EventSink", "client_of"]

logger = logging.getLogger("tiktok_asgi")


def client_of(client: object) -> str | None:
    """The address of an ASGI scope's ``client`` (``(host, port)`` or None)."""
    if isinstance(client, tuple | list) and client:
        host = client[0]
        return host if isinstance(host, str) else None
    return None


class EventSink:
    """Hands each event to the log, the metrics, the current span and ``on_event``."""

    __slots__ = ("_on_event",)

    def __init__(self, on_event: OnEvent | None = None) -> None:
        self._on_event = on_event

    async def emit(self, event: AuthEvent) -> None:
        log_event(event)
        telemetry = TELEMETRY
        if telemetry.measuring:
            metric = _metric(event)
            if metric is not None:
                telemetry.add(metric[0], metric[1], metric[2])
            telemetry.span_event(f"tiktok_asgi.{event.name}", dict(_attributes(event)))
            failure = _failure(event)
            if failure is not None:
                telemetry.fail_current(failure, event.log_id)
        if self._on_event is not None:
            try:
                await self._on_event(event)
            except Exception:
                logger.exception(
                    "on_event_failed event=%s", event.name, extra={"event": "on_event_failed"}
                )


def _failure(event: AuthEvent) -> str | None:
    """The error code an event marks its step's span failed with."""
    if isinstance(event, SignInRefused):
        return event.reason
    if isinstance(event, RefreshRefused):
        return event.code
    if isinstance(event, WebhookReceived) and event.result not in ("handled", "duplicate"):
        return event.code or event.result
    return None


def _metric(event: AuthEvent) -> tuple[str, dict[str, AttributeValue], int] | None:
    """The counter an event adds to: its name, attributes and amount."""
    if isinstance(event, SignedIn):
        return "tiktok_asgi.sign_ins", {"outcome": "ok", "how": event.how}, 1
    if isinstance(event, SignInRefused):
        return "tiktok_asgi.sign_ins", {"outcome": event.reason, "how": event.how}, 1
    if isinstance(event, TokenRefreshed):
        return "tiktok_asgi.refreshes", {"outcome": "ok"}, 1
    if isinstance(event, RefreshRefused):
        return "tiktok_asgi.refreshes", {"outcome": event.code}, 1
    if isinstance(event, SessionsEnded):
        return "tiktok_asgi.sessions_ended", {"cause": event.cause}, event.count
    if isinstance(event, WebhookReceived):
        attributes: dict[str, AttributeValue] = {"event": event.event or "", "result": event.result}
        return "tiktok_asgi.webhooks", attributes, 1
    return None


_FIELDS = (
    "how",
    "reason",
    "cause",
    "count",
    "code",
    "event",
    "result",
    "sessions_ended",
    "revoked",
)


def _attributes(event: AuthEvent) -> Iterator[tuple[str, AttributeValue]]:
    """A span event's attributes: the event's fields, the ``open_id`` as its digest."""
    if event.open_id:
        yield "tiktok_asgi.open_id.digest", digest(event.open_id)
    if event.session:
        yield "tiktok_asgi.session", event.session
    if event.log_id:
        yield "tiktok.log_id", event.log_id
    if event.client:
        yield "client.address", event.client
    for name in _FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str | int):
            yield f"tiktok_asgi.{name}", value
