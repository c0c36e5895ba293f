"""Starlette helpers for the signed-in TikTok user.

::

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import BaseRoute, Route
    from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
    from tiktok_asgi.starlette import install, login_required, require_scopes

    @login_required
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"name": request.user.display_name})

    settings = TikTokSettings.from_env()
    app = Starlette(
        routes=[Route("/me", me)],
        middleware=[Middleware(TikTokAuthMiddleware, settings=settings)],
    )
    install(app, settings=settings)  # errors answered as the middleware does; named routes

The decorators refuse as the middleware's ``protected_paths`` do: a browser loading a page is
sent to the login path with ``next`` set to where it was going, other requests get
``401 login_required`` JSON, and WebSockets are accepted, then closed with code 1008 and the
error code as reason. ``require_scopes`` answers ``403 insufficient_scope`` naming the missing
scope. They serve sync and async endpoints, functions and ``HTTPEndpoint`` methods alike.

:func:`install` does what it does in every adapter. Wrapped from outside
(``app = TikTokAuthMiddleware(Starlette(...), ...)`` rather than ``Middleware(...)`` in the list),
the middleware is outside Starlette's own error handling, which would answer a
:class:`~tiktok_asgi.errors.TikTokAuthError` a view leaves unhandled (the token store down, a
refresh TikTok refuses, TikTok unreachable) with a 500 before the middleware could; after
:func:`install` the app answers it exactly as the middleware would. The middleware answers its
login, callback, logout and disconnect paths before any routing, so the router does not know
them; given the middleware's ``settings``, :func:`install` adds them under the names
``tiktok_login``, ``tiktok_callback``, ``tiktok_logout`` and ``tiktok_disconnect``, so that
``request.url_for("tiktok_login")`` works in views and templates (:func:`tiktok_routes` are those
routes, for a routes list written by hand). :func:`tiktok_asgi.login_url` builds the login
address with ``next``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket, WebSocketState

from ._adapter import (
    WS_POLICY_VIOLATION,
    check_scopes,
    insufficient_scope_error,
    missing_scopes,
    refusal_response,
    user_in,
)
from ._deprecation import warn_deprecated
from ._responses import error_response
from .context import login_url as _login_url
from .context import tiktok_context
from .errors import LoginRequired, TikTokAuthError
from .pages import RenderErrorPage
from .settings import TikTokSettings

__all__ = ["install", "login_required", "require_scopes", "tiktok_routes"]

_WS_INTERNAL_ERROR = 1011

F = TypeVar("F", bound=Callable[..., Any])

#: The route names of the middleware's paths, for ``url_for``.
ROUTE_NAMES = {
    "login": "tiktok_login",
    "callback": "tiktok_callback",
    "logout": "tiktok_logout",
    "disconnect": "tiktok_disconnect",
}


def login_url(connection: HTTPConnection, next: str | None = None) -> str:
    """Deprecated: :func:`tiktok_asgi.login_url` takes the same arguments, in every framework;
    this alias is removed in tiktok-asgi 0.2.0."""
    warn_deprecated(
        "tiktok_asgi.starlette.login_url", "tiktok_asgi.login_url(request, next=...)", stacklevel=3
    )
    return _login_url(connection, next)


def _finder(endpoint: Callable[..., Any]) -> Callable[[tuple[Any, ...]], HTTPConnection]:
    """How to find the request in the endpoint's arguments: by the position of its ``request``
    or ``websocket`` parameter (Starlette's convention; looked up once, not per call), else the
    first argument that is one."""
    names = list(inspect.signature(endpoint).parameters)
    for name in ("request", "websocket"):
        if name in names:
            index = names.index(name)
            return lambda args: cast(HTTPConnection, args[index])

    def search(args: tuple[Any, ...]) -> HTTPConnection:
        for value in args:
            if isinstance(value, HTTPConnection):
                return value
        raise TypeError("login_required / require_scopes decorate Starlette endpoints only")

    return search


async def _accept_to_refuse(websocket: WebSocket) -> None:
    """Complete the handshake of a WebSocket about to be closed (1008, 1011): closing before it
    makes servers answer HTTP 403, which browsers report as 1006, the same as a network failure."""
    if websocket.application_state == WebSocketState.CONNECTING:
        await websocket.accept()


def _refusal(connection: HTTPConnection, wanted: tuple[str, ...]) -> TikTokAuthError | None:
    user = user_in(connection.scope)
    if user is None:
        return LoginRequired()
    if not wanted:
        return None
    missing = missing_scopes(user, wanted)
    return insufficient_scope_error(missing) if missing else None


def _guard(wanted: tuple[str, ...]) -> Callable[[F], F]:
    def decorate(endpoint: F) -> F:
        find = _finder(endpoint)
        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def guarded(*args: Any, **kwargs: Any) -> Any:
                connection = find(args)
                error = _refusal(connection, wanted)
                if error is None:
                    return await endpoint(*args, **kwargs)
                if isinstance(connection, WebSocket):
                    await _accept_to_refuse(connection)
                    await connection.close(code=WS_POLICY_VIOLATION, reason=error.code)
                    return None
                return refusal_response(connection.scope, error)

            return cast(F, guarded)

        @functools.wraps(endpoint)
        def guarded_sync(*args: Any, **kwargs: Any) -> Any:
            connection = find(args)
            error = _refusal(connection, wanted)
            if error is None:
                return endpoint(*args, **kwargs)
            return refusal_response(connection.scope, error)

        return cast(F, guarded_sync)

    return decorate


def login_required(endpoint: F) -> F:
    """Run the endpoint only for a signed-in user; see the module for how others are refused."""
    return _guard(())(endpoint)


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Like :func:`login_required`, and the user must have granted every one of ``scopes``
    (else ``403 insufficient_scope``)."""
    return _guard(check_scopes(scopes))


async def _unreachable(request: Request) -> Response:
    # TikTokAuthMiddleware answers these paths itself; a request here means it is missing.
    raise RuntimeError(
        "the TikTok login routes were reached without TikTokAuthMiddleware: add "
        "Middleware(TikTokAuthMiddleware, settings=...) to the application"
    )


def tiktok_routes(settings: TikTokSettings) -> list[Route]:
    """Routes naming the middleware's paths for ``url_for``: ``tiktok_login``,
    ``tiktok_callback``, ``tiktok_logout`` and, unless ``disconnect_path`` is None,
    ``tiktok_disconnect``. The middleware answers them before routing."""
    if not isinstance(settings, TikTokSettings):
        raise TypeError("tiktok_routes needs the middleware's TikTokSettings")
    paths = {
        "login": (settings.login_path, ["GET"]),
        "callback": (settings.callback_path, ["GET"]),
        "logout": (settings.logout_path, ["POST"]),
    }
    if settings.disconnect_path is not None:
        paths["disconnect"] = (settings.disconnect_path, ["POST"])
    return [
        Route(path, _unreachable, methods=methods, name=ROUTE_NAMES[key], include_in_schema=False)
        for key, (path, methods) in paths.items()
    ]


def install(
    app: Starlette,
    *,
    settings: TikTokSettings | None = None,
    error_page: RenderErrorPage | None = None,
) -> None:
    """Adapt the app to the :class:`~tiktok_asgi.TikTokAuthMiddleware` around it, as ``install``
    does in every adapter: a :class:`TikTokAuthError` a view leaves unhandled is answered as the
    middleware answers it, instead of Starlette's 500, and, given the middleware's ``settings``,
    its paths become the routes of :func:`tiktok_routes`, named for ``url_for``.

    The answer has the middleware's status, body and headers (JSON for API clients, else the
    error page or ``error_redirect``); ``error_page`` is the middleware's, if it has one. On a
    WebSocket the connection is closed: 1008 for a refusal, 1011 when a service is down. Needed
    when the middleware wraps the Starlette app from outside; harmless with
    ``Middleware(TikTokAuthMiddleware, ...)``. Call it before the app serves its first request;
    calling it again adds no route twice.
    """

    async def answer(connection: HTTPConnection, exc: Exception) -> Response | None:
        if not isinstance(exc, TikTokAuthError):
            raise exc
        if connection.scope["type"] == "websocket":
            code = WS_POLICY_VIOLATION if exc.status_code < 500 else _WS_INTERNAL_ERROR
            await _accept_to_refuse(cast(WebSocket, connection))
            await cast(WebSocket, connection).close(code=code, reason=exc.code)
            return None
        served_by = tiktok_context(connection).settings
        return error_response(exc, served_by, connection.scope, render=error_page)

    app.add_exception_handler(TikTokAuthError, cast(ExceptionHandler, answer))
    if settings is not None:
        _add_routes(app.router.routes, settings)


def _add_routes(routes: list[BaseRoute], settings: TikTokSettings) -> None:
    """Append :func:`tiktok_routes` to ``routes``, leaving out a name already there."""
    named = {getattr(route, "name", None) for route in routes}
    routes.extend(route for route in tiktok_routes(settings) if route.name not in named)
