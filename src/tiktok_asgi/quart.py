"""Quart helpers for the signed-in TikTok user (the ``quart`` extra: ``pip install ".[quart]"``
from a checkout of tiktok-asgi).

::

    from quart import Quart
    from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
    from tiktok_asgi.quart import current_user, login_required, require_scopes

    app = Quart(__name__)
    app.asgi_app = TikTokAuthMiddleware(app.asgi_app, settings=TikTokSettings.from_env())

    @app.get("/me")
    @login_required
    async def me() -> dict[str, str]:
        user = current_user()
        ...

:func:`install` does what it does in every adapter: a
:class:`~tiktok_asgi.errors.TikTokAuthError` that a view does not handle (``access_token()`` on
an anonymous request, TikTok unreachable) is answered in the middleware's shape instead of
Quart's 500, and, given the middleware's ``settings``, its login, callback, logout and disconnect
paths become URL rules named ``tiktok_login``, ``tiktok_callback``, ``tiktok_logout`` and
``tiktok_disconnect``, so that ``url_for("tiktok_login", next="/me")`` works in views and
templates (Quart's ``url_for`` knows only Quart's own rules, and the middleware answers those
paths before Quart sees them). :func:`tiktok_asgi.login_url` (``login_url(request.scope,
next=...)``) builds the login address too. Wrapping ``app.asgi_app`` (not ``app``) keeps ``app``
a Quart app for its CLI. The decorators refuse as the middleware's ``protected_paths`` do: a
browser loading a page is sent to the login path with ``next``, other requests get
``401 login_required`` JSON, and websockets are accepted, then closed with code 1008 and the
error code as reason (Quart sends a reason only to servers announcing ASGI spec 2.3, as Hypercorn
and uvicorn do). ``require_scopes`` answers ``403 insufficient_scope`` naming the missing scope.
``install`` closes a websocket the same way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from starlette.types import Scope

from ._extras import missing_extra

try:
    from quart import (
        Quart,
        Response,
        has_request_context,
        has_websocket_context,
        request,
        websocket,
    )
except ImportError as exc:
    raise missing_extra(__name__, "quart", exc) from exc

from ._adapter import (
    WS_POLICY_VIOLATION,
    browser_login_url,
    check_scopes,
    insufficient_scope_error,
    missing_scopes,
    user_in,
)
from ._deprecation import warn_deprecated
from ._responses import _SECURITY_HEADERS
from .context import login_url as _login_url
from .errors import LoginRequired, TikTokAuthError
from .settings import TikTokSettings
from .user import TikTokUser

__all__ = ["current_user", "install", "login_required", "require_scopes"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _scope() -> Scope:
    if has_websocket_context():
        return cast(Scope, websocket.scope)
    if has_request_context():
        return cast(Scope, request.scope)
    raise RuntimeError("current_user() works only while Quart handles a request or a websocket")


def current_user() -> TikTokUser | None:
    """The signed-in :class:`TikTokUser` of the current request or websocket, or None."""
    return user_in(_scope())


def login_url(next: str | None = None) -> str:  # the query's name
    """Deprecated: ``tiktok_asgi.login_url(request.scope, next=...)`` does the same, in every
    framework, and so does ``url_for("tiktok_login", next=...)`` after
    ``install(app, settings=settings)``; this alias is removed in tiktok-asgi 0.2.0."""
    warn_deprecated("tiktok_asgi.quart.login_url", "tiktok_asgi.login_url(request.scope, next=...)")
    return _login_url(_scope(), next)


def _secured(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


async def _refuse(scope: Scope, error: TikTokAuthError) -> Response | None:
    if scope["type"] == "websocket":
        # Closed after the handshake: closing before it makes servers answer HTTP 403, which
        # browsers report as 1006, the same as a network failure. (Accepting twice is a no-op.)
        await websocket.accept()
        await websocket.close(WS_POLICY_VIOLATION, error.code)
        return None
    if error.code == "login_required":
        target = browser_login_url(scope)
        if target is not None:
            return _secured(Response("", status=302, headers={"location": target}))
    # The same bytes as the middleware's JSON answers (Starlette's JSONResponse rendering).
    body = json.dumps(error.as_dict(), ensure_ascii=False, separators=(",", ":"))
    return _secured(Response(body, status=error.status_code, content_type="application/json"))


def login_required(view: F) -> F:
    """Run the async view only for a signed-in user (HTTP and websocket views alike)."""

    @functools.wraps(view)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        scope = _scope()
        if user_in(scope) is None:
            return await _refuse(scope, LoginRequired())
        return await view(*args, **kwargs)

    return cast(F, guarded)


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Like :func:`login_required`, and the user must have granted every one of ``scopes``."""
    wanted = check_scopes(scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            scope = _scope()
            user = user_in(scope)
            if user is None:
                return await _refuse(scope, LoginRequired())
            missing = missing_scopes(user, wanted)
            if missing:
                return await _refuse(scope, insufficient_scope_error(missing))
            return await view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


#: The endpoint names of the middleware's paths, for ``url_for``: (endpoint, setting, methods).
_ENDPOINTS = (
    ("tiktok_login", "login_path", ["GET"]),
    ("tiktok_callback", "callback_path", ["GET"]),
    ("tiktok_logout", "logout_path", ["POST"]),
    ("tiktok_disconnect", "disconnect_path", ["POST"]),
)


async def _unreachable() -> str:
    # TikTokAuthMiddleware answers these paths itself; a request here means it is missing.
    raise RuntimeError(
        "the TikTok login routes were reached without TikTokAuthMiddleware: wrap the app, "
        "app.asgi_app = TikTokAuthMiddleware(app.asgi_app, settings=...)"
    )


def install(app: Quart, *, settings: TikTokSettings | None = None) -> None:
    """Adapt the app to the :class:`~tiktok_asgi.TikTokAuthMiddleware` around it, as ``install``
    does in every adapter: a :class:`TikTokAuthError` a view did not handle is answered as the
    middleware answers it (Quart would turn it into a 500 before the middleware could see it),
    and, given the middleware's ``settings``, its login, callback, logout and disconnect paths
    become URL rules named ``tiktok_login``, ``tiktok_callback``, ``tiktok_logout`` and
    ``tiktok_disconnect`` for ``url_for`` (never reached: the middleware answers them first).
    Calling it again adds no rule twice.
    """

    async def answer(error: TikTokAuthError) -> Any:  # None after closing a websocket
        return await _refuse(_scope(), error)

    app.register_error_handler(TikTokAuthError, answer)
    if settings is None:
        return
    if not isinstance(settings, TikTokSettings):
        raise TypeError("install's settings must be the middleware's TikTokSettings")
    for endpoint, setting, methods in _ENDPOINTS:
        path: str | None = getattr(settings, setting)
        if path is not None and endpoint not in app.view_functions:
            app.add_url_rule(path, endpoint, _unreachable, methods=methods)
