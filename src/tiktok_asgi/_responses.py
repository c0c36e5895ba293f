"""Responses the middleware produces itself: redirects and error answers, with safe headers."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ._paths import app_path, site_path
from .errors import LoginRequired, TikTokAuthError
from .settings import TikTokSettings

__all__ = [
    "close_websocket",
    "error_response",
    "login_redirect_target",
    "redirect",
    "refuse_anonymous",
    "secure",
    "wants_json",
]

_SECURITY_HEADERS = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f6f6f7;color:#161823;display:flex;"
    "min-height:100vh;margin:0;align-items:center;justify-content:center}"
    "main{background:#fff;border-radius:16px;padding:32px 40px;max-width:460px;"
    "box-shadow:0 8px 30px rgba(0,0,0,.08)}h1{font-size:1.3rem;margin-top:0}"
    "code{background:#f1f1f2;padding:2px 6px;border-radius:4px}"
    "a{display:inline-block;margin:16px 12px 0 0;color:#fe2c55;font-weight:600}"
)
_TITLES = {
    "access_denied": "Sign-in cancelled",
    "tiktok_unavailable": "TikTok is not reachable right now",
}


def secure(response: Response, set_cookies: Sequence[str]) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers[name] = value
    for cookie in set_cookies:
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
    return response


def redirect(location: str, set_cookies: Sequence[str] = (), *, status_code: int = 302) -> Response:
    return secure(RedirectResponse(location, status_code=status_code), set_cookies)


def wants_json(headers: Headers) -> bool:
    accept = headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    error: TikTokAuthError,
    settings: TikTokSettings,
    headers: Headers,
    set_cookies: Sequence[str] = (),
) -> Response:
    """JSON for API clients, a redirect to ``error_redirect`` if set, else a small HTML page."""
    response = _error_response(error, settings, headers, set_cookies)
    if error.retry_after is not None and response.status_code >= 400:
        response.headers["retry-after"] = str(math.ceil(error.retry_after))
    return response


def _error_response(
    error: TikTokAuthError,
    settings: TikTokSettings,
    headers: Headers,
    set_cookies: Sequence[str],
) -> Response:
    if wants_json(headers):
        return secure(JSONResponse(error.as_dict(), status_code=error.status_code), set_cookies)
    if settings.error_redirect is not None:
        sep = "&" if "?" in settings.error_redirect else "?"
        target = f"{settings.error_redirect}{sep}{urlencode({'error': error.code})}"
        return redirect(target, set_cookies, status_code=303)
    title = _TITLES.get(error.code, "Sign-in with TikTok failed")
    detail = html.escape(error.description or "Please try again.")
    log_id = (
        f"<p>TikTok log id: <code>{html.escape(error.log_id)}</code></p>" if error.log_id else ""
    )
    page = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{title}</h1><p>{detail}</p><p>Error code: <code>{html.escape(error.code)}</code></p>"
        f"{log_id}<a href='{html.escape(settings.login_path)}'>Try again</a>"
        f"<a href='{html.escape(settings.login_redirect)}'>Back to the site</a>"
        "</main></body></html>"
    )
    response = HTMLResponse(page, status_code=error.status_code)
    response.headers["content-security-policy"] = _HTML_CSP
    return secure(response, set_cookies)


async def close_websocket(receive: Receive, send: Send, reason: str) -> None:
    """Refuse a WebSocket with 1008 after the handshake. Closing before it makes servers answer
    HTTP 403, which browsers report as 1006, the same as a network failure."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left already
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1008, "reason": reason})


def login_redirect_target(scope: Scope, login_path: str) -> str | None:
    """Where an anonymous page load goes: login, with ``next`` back here. ``None`` when the
    request is not a browser loading a page (API calls get 401 JSON instead)."""
    if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    if "text/html" not in Headers(scope=scope).get("accept", ""):
        return None
    query = scope.get("query_string", b"")
    here = site_path(scope, app_path(scope)) + (f"?{query.decode('latin-1')}" if query else "")
    return f"{site_path(scope, login_path)}?{urlencode({'next': here})}"


async def refuse_anonymous(scope: Scope, receive: Receive, send: Send, login_path: str) -> None:
    """A protected path without a signed-in user: browsers go to login (and come back), other
    clients get 401 JSON, WebSockets are closed with 1008 (policy violation)."""
    if scope["type"] == "websocket":
        await close_websocket(receive, send, "login_required")
        return
    target = login_redirect_target(scope, login_path)
    if target is not None:
        response = redirect(target)
    else:
        response = secure(JSONResponse(LoginRequired().as_dict(), status_code=401), ())
    await response(scope, receive, send)
