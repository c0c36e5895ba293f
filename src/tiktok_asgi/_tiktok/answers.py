"""Reading TikTok's answers: the flat OAuth shape and the ``{data, error}`` API envelope.

Both are parsed whatever the HTTP status, because TikTok reports some errors with HTTP 200 and
some successes' shapes differ by API version.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tiktok_asgi.errors import TikTokAPIError, TikTokRateLimited

from .http import Response

__all__ = ["read_api_envelope", "read_oauth_response", "retry_after"]

# TikTok's codes and log ids reach logs and JSON answers: anything else than these shapes (a
# newline forging a log line, markup, a megabyte) is replaced before it goes anywhere.
_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_LOG_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def retry_after(resp: Response) -> float | None:
    """TikTok's ``Retry-After`` in seconds (an HTTP date is ignored)."""
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _failure(
    resp: Response, code: str, description: str, log_id: str | None = None
) -> TikTokAPIError:
    """TikTok's error as ours: a rate limit on the app is "try later", not a bad gateway."""
    if resp.status_code == 429 or code == "rate_limit_exceeded":
        return TikTokRateLimited(
            "rate_limit_exceeded", description, log_id=log_id, retry_after=retry_after(resp)
        )
    return TikTokAPIError(code, description, log_id=log_id)


def _json_object(resp: Response, what: str) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    code = "server_error" if resp.status_code >= 500 else "invalid_response"
    raise _failure(resp, code, f"TikTok's {what} answered HTTP {resp.status_code} without JSON")


def _log_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _LOG_ID.fullmatch(value) else None


def _code(value: Any) -> str:
    return value if isinstance(value, str) and _CODE.fullmatch(value) else "invalid_response"


def read_oauth_response(resp: Response, what: str, *, expect: str | None) -> dict[str, Any]:
    """The body of a token or revoke answer; raises :class:`TikTokAPIError` on any error.

    ``expect`` names a field that must be present (``access_token`` for token answers).
    """
    body = _json_object(resp, what)
    error = body.get("error")
    if isinstance(error, str) and error:
        description = body.get("error_description")
        raise _failure(
            resp,
            _code(error),
            description if isinstance(description, str) else "",
            _log_id(body.get("log_id")),
        )
    if resp.status_code >= 400:
        code = "server_error" if resp.status_code >= 500 else "invalid_response"
        raise _failure(resp, code, f"TikTok's {what} answered HTTP {resp.status_code}")
    if expect is not None and not isinstance(body.get(expect), str):
        raise TikTokAPIError(
            "invalid_response",
            f"TikTok's {what} answer has no {expect}",
            log_id=_log_id(body.get("log_id")),
        )
    return body


def read_api_envelope(resp: Response, what: str) -> dict[str, Any]:
    """``data`` of a v2 API answer whose ``error.code`` is ``ok``, whatever the HTTP status."""
    body = _json_object(resp, what)
    error = body.get("error")
    if not isinstance(error, dict):
        raise TikTokAPIError("invalid_response", f"TikTok's {what} answer has no error object")
    code = error.get("code")
    log_id = _log_id(error.get("log_id"))
    if code != "ok":
        message = error.get("message")
        raise _failure(
            resp,
            _code(code),
            message if isinstance(message, str) else "",
            log_id,
        )
    if resp.status_code >= 400:
        raise TikTokAPIError(
            "invalid_response", f"TikTok's {what} answered HTTP {resp.status_code}", log_id=log_id
        )
    data = body.get("data")
    if not isinstance(data, dict):
        raise TikTokAPIError(
            "invalid_response", f"TikTok's {what} answer has no data", log_id=log_id
        )
    return data
