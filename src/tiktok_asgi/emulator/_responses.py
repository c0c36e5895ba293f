"""TikTok's response shapes: the flat OAuth error, the API envelope, and injected faults."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tiktok_asgi.emulator._errors import EmulatorRejected, Rendering
from tiktok_asgi.emulator._faults import Fault
from tiktok_asgi.emulator._pages import error_page, gateway_page, html_page_response

__all__ = [
    "DroppedConnection",
    "envelope",
    "envelope_error",
    "fault_response",
    "flat_error",
    "new_log_id",
    "rejection_response",
]

ENVELOPE_STATUS = {
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "scope_permission_missed": 400,
    "invalid_params": 400,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}
ENVELOPE_MESSAGES = {
    "access_token_invalid": "The access token is invalid or not found in the request.",
    "scope_not_authorized": (
        "The user did not authorize the scope required for completing this request."
    ),
    "rate_limit_exceeded": (
        "API rate limit was exceeded, only a limited number of requests are allowed "
        "in a given time window."
    ),
    "internal_error": "Something went wrong. Please try again later.",
}
Clock = Callable[[], float]


def new_log_id(clock: Clock) -> str:
    """A request id shaped like TikTok's: a 14-digit UTC timestamp and 20 hex digits."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(clock()))
    return stamp + secrets.token_hex(10).upper()


def flat_error(error: str, description: str, status: int, clock: Clock) -> JSONResponse:
    """The token and revoke endpoints' error: ``{error, error_description, log_id}``."""
    body = {"error": error, "error_description": description, "log_id": new_log_id(clock)}
    return JSONResponse(body, status_code=status)


def envelope(data: Mapping[str, Any], clock: Clock) -> JSONResponse:
    """A successful API answer: ``{data, error: {code: "ok"}}``."""
    error = {"code": "ok", "message": "", "log_id": new_log_id(clock)}
    return JSONResponse({"data": dict(data), "error": error})


def envelope_error(
    code: str,
    clock: Clock,
    message: str | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An API error inside the envelope; the HTTP status follows TikTok's table unless given."""
    error = {
        "code": code,
        "message": message if message is not None else ENVELOPE_MESSAGES.get(code, code),
        "log_id": new_log_id(clock),
    }
    return JSONResponse(
        {"data": {}, "error": error},
        status_code=status if status is not None else ENVELOPE_STATUS.get(code, 400),
        headers=dict(headers or {}),
    )


def rejection_response(
    exc: EmulatorRejected,
    clock: Clock,
    *,
    flat_status: int = 200,
    form_targets: Iterable[str] = (),
    lang: str = "en",
) -> Response:
    """``exc`` as TikTok shows it: a flat OAuth body, an API envelope or the refusal page (in
    the language ``lang``).

    ``flat_status`` is the HTTP status of flat errors when ``exc`` names none (TikTok's is 200).
    """
    if exc.render == "envelope":
        return envelope_error(
            exc.error, clock, exc.description, status=exc.status, headers=exc.headers
        )
    if exc.render == "page":
        page = error_page(
            exc.error,
            exc.description,
            new_log_id(clock),
            field=exc.field,
            back=exc.redirect,
            lang=lang,
        )
        response: Response = html_page_response(page, exc.status or 400, form_targets=form_targets)
    else:
        response = flat_error(exc.error, exc.description, exc.status or flat_status, clock)
    response.headers.update(exc.headers)
    return response


class DroppedConnection(Response):
    """Promises one byte of body and sends none, so an HTTP server drops the connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})


def fault_response(fault: Fault, render: Rendering, clock: Clock, lang: str = "en") -> Response:
    """The answer an injected fault gives instead of the endpoint's own (not for latency).

    ``render`` is how the endpoint shows its errors (see :class:`EmulatorRejected`), ``lang``
    the language of a refusal page.
    """
    kind = fault.kind
    if kind in ("status", "timeout"):
        return _status_response(fault)
    if kind == "malformed_json":
        body = '{"access_token": "act.trunc'
        return Response(body, status_code=fault.status_code, media_type="application/json")
    if kind == "html_error_page":
        return html_page_response(gateway_page(fault.status_code), fault.status_code)
    if kind == "empty_body":
        return Response(b"", status_code=fault.status_code, media_type="application/json")
    if kind == "rate_limited":
        retry = {"Retry-After": str(fault.retry_after)}
        message = ENVELOPE_MESSAGES["rate_limit_exceeded"]
        refused = EmulatorRejected(
            "rate_limit_exceeded", message, render=render, status=429, headers=retry
        )
        return rejection_response(refused, clock, lang=lang)
    if kind == "error_body":
        message = fault.message or ENVELOPE_MESSAGES.get(fault.error, fault.error)
        refused = EmulatorRejected(fault.error, message, render=render, status=fault.status_code)
        return rejection_response(refused, clock, lang=lang)
    if kind == "connection_refused":
        return DroppedConnection()
    raise AssertionError(f"fault kind {kind!r} has no response")  # pragma: no cover


def _status_response(fault: Fault) -> Response:
    body = fault.body
    if body is None:
        return html_page_response(gateway_page(fault.status_code), fault.status_code)
    if isinstance(body, Mapping):
        return Response(json.dumps(body), fault.status_code, media_type="application/json")
    media = fault.content_type
    if media is None:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        media = "text/html" if text.lstrip().startswith("<") else "text/plain"
        media += "; charset=utf-8"
    return Response(body, status_code=fault.status_code, headers={"content-type": media})
