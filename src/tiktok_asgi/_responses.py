"""Responses the middleware produces itself: redirects and error answers, with safe headers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ._i18n import DEFAULT, N_, Language, for_request
from ._paths import app_path, site_path
from .errors import (
    LoginRequired,
    TikTokAPIError,
    TikTokAuthError,
    TikTokUnavailable,
    TokenStoreUnavailable,
)
from .pages import ErrorPage, RenderErrorPage, default_error_page
from .settings import TikTokSettings

__all__ = [
    "close_websocket",
    "described",
    "error_response",
    "html_page",
    "login_redirect_target",
    "redirect",
    "refuse_anonymous",
    "secure",
    "store_unavailable",
    "wants_json",
    "with_next",
]

_SECURITY_HEADERS = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
_HTML_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_TITLES = {
    "access_denied": N_("Sign-in cancelled"),
    "tiktok_unavailable": N_("TikTok is not reachable right now"),
    "disconnect_unavailable": N_("Disconnecting TikTok is not available"),
    "rate_limited": N_("Too many requests"),
}
_FAILED = N_("Sign-in with TikTok failed")
_TRY_AGAIN = N_("Please try again.")
# In another language than English, in place of TikTok's own words (or ours, composed of parts).
_UNREACHABLE = N_("TikTok could not be reached. Please try again in a moment.")
_TIKTOK_FAILED = N_("TikTok answered with an error. Please try again in a moment.")


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
    scope: Scope,
    set_cookies: Sequence[str] = (),
    *,
    next: str | None = None,
    render: RenderErrorPage | None = None,
    try_again: str | None = None,
) -> Response:
    """JSON for API clients, a redirect to ``error_redirect`` if set, else an HTML page (by
    ``render``, default :func:`~tiktok_asgi.pages.default_error_page`) whose "Try again" keeps
    ``next`` (and the application's root path); ``try_again``, a path below the root path,
    replaces the login page there."""
    response = _error_response(error, settings, scope, set_cookies, next, render, try_again)
    if error.retry_after is not None and response.status_code >= 400:
        response.headers["retry-after"] = str(math.ceil(error.retry_after))
    return response


def _error_response(
    error: TikTokAuthError,
    settings: TikTokSettings,
    scope: Scope,
    set_cookies: Sequence[str],
    next: str | None,
    render: RenderErrorPage | None,
    try_again: str | None = None,
) -> Response:
    if wants_json(Headers(scope=scope)):
        return secure(JSONResponse(error.as_dict(), status_code=error.status_code), set_cookies)
    if settings.error_redirect is not None:
        sep = "&" if "?" in settings.error_redirect else "?"
        target = f"{settings.error_redirect}{sep}{urlencode({'error': error.code})}"
        return redirect(target, set_cookies, status_code=303)
    lang = for_request(scope, settings.locale)
    page = ErrorPage(
        title=lang.gettext(_TITLES.get(error.code, _FAILED)),
        description=described(error, lang),
        code=error.code,
        status_code=error.status_code,
        log_id=error.log_id,
        try_again_url=with_next(
            site_path(scope, try_again or settings.login_path),
            None if next == settings.login_redirect else next,
        ),
        back_url=settings.login_redirect,
        lang=lang.code,
        dir=lang.dir,
    )
    return html_page((render or default_error_page)(page), error.status_code, set_cookies)


def described(error: TikTokAuthError, lang: Language) -> str:
    """What the error page says happened, in ``lang``. A description the catalogs lack is
    someone else's text (the application's, or TikTok's in English): shown as it is, but
    TikTok's is replaced by a sentence in ``lang``."""
    text = error.description or _TRY_AGAIN
    if lang.code == DEFAULT:
        return text
    known = lang.known(text)
    if known is not None:
        return known
    if isinstance(error, TikTokUnavailable):
        return lang.gettext(_UNREACHABLE)
    if isinstance(error, TikTokAPIError):
        return lang.gettext(_TIKTOK_FAILED)
    return text


def html_page(document: str, status_code: int, set_cookies: Sequence[str] = ()) -> Response:
    """A page of the middleware's own: never cached, no script, not framed."""
    response = HTMLResponse(document, status_code=status_code)
    response.headers["content-security-policy"] = _HTML_CSP
    return secure(response, set_cookies)


def with_next(login_path: str, next: str | None) -> str:
    """The login path, with ``next`` when there is one to keep."""
    return login_path if next is None else f"{login_path}?{urlencode({'next': next})}"


async def close_websocket(receive: Receive, send: Send, reason: str, code: int = 1008) -> None:
    """Refuse a WebSocket after the handshake (1008, policy violation, unless ``code`` says
    otherwise). Closing before it makes servers answer HTTP 403, which browsers report as 1006,
    the same as a network failure."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left already
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


def login_redirect_target(scope: Scope, login_path: str) -> str | None:
    """Where an anonymous page load goes: login, with ``next`` back here. ``None`` when the
    request is not a browser loading a page (API calls get 401 JSON instead)."""
    if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    if "text/html" not in Headers(scope=scope).get("accept", ""):
        return None
    query = scope.get("query_string", b"")
    here = site_path(scope, app_path(scope)) + (f"?{query.decode('latin-1')}" if query else "")
    return with_next(site_path(scope, login_path), here)


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


async def store_unavailable(
    scope: Scope,
    receive: Receive,
    send: Send,
    settings: TikTokSettings,
    render: RenderErrorPage | None = None,
) -> None:
    """The login session cannot be checked: 503 (WebSocket: accepted, then closed with 1011),
    and the cookie stays, so nothing is lost once the store is back."""
    if scope["type"] == "websocket":
        await close_websocket(receive, send, "token_store_unavailable", 1011)
        return
    response = error_response(TokenStoreUnavailable(), settings, scope, render=render)
    await response(scope, receive, send)
