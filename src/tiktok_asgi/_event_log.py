"""The log line of each audit event, on the ``tiktok_asgi`` logger.

Names and ``extra`` fields are the ones the library has always logged (``login_succeeded``,
``login_failed``, ``logout``, ``token_refreshed``, ``session_ended``, ``webhook``,
``disconnect``...): log queries written against them keep working.
"""

from __future__ import annotations

import logging

from .events import (
    AuthEvent,
    Disconnected,
    RefreshRefused,
    SessionsEnded,
    SignedIn,
    SignedOut,
    SignInRefused,
    TokenRefreshed,
    WebhookReceived,
)

__all__ = ["log_event"]

logger = logging.getLogger("tiktok_asgi")

# Nobody's fault: a person who cancelled, a QR code polled twice or by another browser.
_NOBODYS_FAULT = frozenset({"access_denied", "qr_used", "qr_unknown"})
# An answer not made for this sign-in: an attack or a broken proxy.
_TAMPERED = frozenset({"client_ticket_mismatch"})


def log_event(event: AuthEvent) -> None:
    if isinstance(event, SignedIn):
        _signed_in(event)
    elif isinstance(event, SignInRefused):
        _refused(event)
    elif isinstance(event, TokenRefreshed):
        logger.info("token_refreshed", extra={"event": "token_refreshed"})
    elif isinstance(event, RefreshRefused):
        logger.info(
            "refresh_refused code=%s log_id=%s",
            event.code,
            event.log_id,
            extra={"event": "refresh_refused", "code": event.code, "log_id": event.log_id},
        )
    elif isinstance(event, SignedOut):
        if event.held:
            logger.warning("logout_held", extra={"event": "logout"})
        else:
            logger.info("logout", extra={"event": "logout"})
    elif isinstance(event, SessionsEnded):
        _sessions_ended(event)
    elif isinstance(event, Disconnected):
        logger.info(
            "disconnected sessions_ended=%d",
            event.sessions_ended,
            extra={"event": "disconnect", "sessions_ended": event.sessions_ended},
        )
    elif isinstance(event, WebhookReceived):
        _webhook(event)


def _signed_in(event: SignedIn) -> None:
    if event.how == "web":
        logger.info(
            "login_succeeded open_id=%s",
            event.open_id,
            extra={"event": "login_succeeded", "open_id": event.open_id},
        )
        return
    logger.info(
        "login_succeeded open_id=%s via=%s",
        event.open_id,
        event.how,
        extra={"event": "login_succeeded", "open_id": event.open_id, "via": event.how},
    )


def _refused(event: SignInRefused) -> None:
    if event.reason in _TAMPERED:
        level = logging.ERROR
    elif event.reason in _NOBODYS_FAULT:
        level = logging.INFO
    else:
        level = logging.WARNING
    name = "qr_failed" if event.how == "qr" else "login_failed"
    extra = {"event": name, "code": event.reason, "log_id": event.log_id, "fix": event.fix}
    if event.how == "native":
        extra["via"] = "native"
    logger.log(
        level,
        "%s code=%s log_id=%s fix=%s",
        name,
        event.reason,
        event.log_id,
        event.fix,
        extra=extra,
    )


def _sessions_ended(event: SessionsEnded) -> None:
    if event.cause == "too_many":
        logger.info("session_ended cause=too_many", extra={"event": "session_ended"})
    elif event.cause == "authorization_removed":
        logger.info(
            "authorization_removed sessions_ended=%d",
            event.count,
            extra={"event": "authorization_removed", "sessions_ended": event.count},
        )
    else:
        logger.info(
            "session_ended cause=%s sessions_ended=%d",
            event.cause,
            event.count,
            extra={"event": "session_ended", "cause": event.cause, "sessions_ended": event.count},
        )


def _webhook(event: WebhookReceived) -> None:
    if event.result == "handled" or event.result == "duplicate":
        logger.info(
            "webhook event=%s result=%s",
            event.event,
            event.result,
            extra={"event": "webhook", "webhook": event.event, "result": event.result},
        )
    elif event.result == "refused":
        logger.warning(
            "webhook_refused code=%s", event.code, extra={"event": "webhook", "code": event.code}
        )
    elif event.result == "deferred":
        logger.warning("webhook_deferred code=%s", event.code, extra={"event": "webhook"})
    else:
        logger.error(
            "webhook_failed event=%s code=%s",
            event.event,
            event.code,
            extra={"event": "webhook", "webhook": event.event, "code": event.code},
        )
