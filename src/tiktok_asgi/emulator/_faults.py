"""Faults a test can inject into any emulator endpoint, to see how a client copes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Fault", "FaultKind"]

FaultKind = Literal[
    "latency",
    "status",
    "timeout",
    "malformed_json",
    "html_error_page",
    "empty_body",
    "error_body",
    "rate_limited",
    "connection_refused",
]
"""The kinds of :class:`Fault`, one class method each."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Fault:
    """One injected misbehaviour. Build it with the class methods, e.g. ``Fault.status(503)``.

    ``connection_refused`` raises the HTTP client's ``ConnectError`` through
    :meth:`TikTokEmulator.transport`; served over HTTP (mounted or standalone) the emulator sends
    a response head promising one byte of body and then stops, so the server drops the connection
    mid-response and the client sees a broken connection.
    """

    kind: FaultKind
    seconds: float = 0.0
    status_code: int = 200
    body: str | bytes | Mapping[str, Any] | None = None
    content_type: str | None = None
    error: str = "internal_error"
    message: str | None = None
    retry_after: int = 2

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then answer normally."""
        _non_negative(seconds)
        return cls(kind="latency", seconds=seconds)

    @classmethod
    def status(
        cls,
        code: int,
        body: str | bytes | Mapping[str, Any] | None = None,
        *,
        content_type: str | None = None,
    ) -> Fault:
        """Answer with HTTP ``code``; ``body`` as given (a mapping is sent as JSON).

        Without a body a gateway-style HTML page is sent, as a proxy in front of TikTok would.
        """
        if not 100 <= code <= 599:
            raise ValueError("code must be an HTTP status between 100 and 599")
        return cls(kind="status", status_code=code, body=body, content_type=content_type)

    @classmethod
    def timeout(cls, seconds: float = 60.0) -> Fault:
        """Hang for ``seconds`` (cancellable) so the client's timeout fires first; then 504."""
        _non_negative(seconds)
        return cls(kind="timeout", seconds=seconds, status_code=504)

    @classmethod
    def malformed_json(cls, status: int = 200) -> Fault:
        """A JSON content type with a truncated JSON body."""
        return cls(kind="malformed_json", status_code=status)

    @classmethod
    def html_error_page(cls, status: int = 502) -> Fault:
        """An HTML error page, as a load balancer or CDN returns it."""
        return cls(kind="html_error_page", status_code=status)

    @classmethod
    def empty_body(cls, status: int = 200) -> Fault:
        """HTTP ``status`` with a JSON content type and no body at all."""
        return cls(kind="empty_body", status_code=status)

    @classmethod
    def error_body(
        cls, error: str = "internal_error", status: int = 200, *, message: str | None = None
    ) -> Fault:
        """A TikTok-shaped error for the endpoint, by default with HTTP 200.

        The flat ``{error, error_description, log_id}`` shape on token and revoke, the
        ``{data: {}, error: {code, message, log_id}}`` envelope on user info and video list, an
        HTML error page on authorize.
        """
        return cls(kind="error_body", error=error, status_code=status, message=message)

    @classmethod
    def rate_limited(cls, retry_after: int = 2) -> Fault:
        """HTTP 429 with ``Retry-After`` and TikTok's ``rate_limit_exceeded`` body."""
        if retry_after < 0:
            raise ValueError("retry_after must not be negative")
        return cls(kind="rate_limited", status_code=429, retry_after=retry_after)

    @classmethod
    def connection_refused(cls) -> Fault:
        """The connection fails: ``ConnectError`` in-process, a dropped connection over HTTP."""
        return cls(kind="connection_refused")


def _non_negative(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("seconds must not be negative")
