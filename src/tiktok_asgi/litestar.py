"""Sign in with TikTok for Litestar (the ``litestar`` extra: ``pip install ".[litestar]"`` from a
checkout of tiktok-asgi).

::

    from litestar import Litestar, Request, get
    from tiktok_asgi import TikTokSettings
    from tiktok_asgi.litestar import TikTokPlugin, login_required

    @get("/me", guards=[login_required])
    async def me(request: Request) -> dict[str, str]:
        return {"name": request.user.display_name}

    app = Litestar([me], plugins=[TikTokPlugin(settings=TikTokSettings.from_env())])

:class:`TikTokPlugin` takes the keyword arguments of
:class:`~tiktok_asgi.TikTokAuthMiddleware`. Litestar runs middleware only for the routes it
matched, so the plugin registers the login, callback, logout and disconnect paths as routes
(named ``tiktok_login``, ``tiktok_callback``, ``tiktok_logout`` and ``tiktok_disconnect``, for
``request.url_for``), the ``qr_path`` of QR-code sign-in with everything below it as a mount
(``tiktok_qr``), the ``webhook_path`` when it is set (``tiktok_webhook``) and the native apps'
``exchange_path`` (``tiktok_exchange``), and puts one
middleware in front of every route: ``request.user`` is the :class:`~tiktok_asgi.TikTokUser`
(or Starlette's ``UnauthenticatedUser``) in HTTP and WebSocket handlers alike. The middleware
decides on the path Litestar routed (slashes merged, no trailing slash, a mounted app's prefix
included).

The guards refuse as every other adapter does: a browser loading a page goes to the login page
with ``next``, other requests get ``401 login_required`` JSON, ``require_scopes`` answers
``403 insufficient_scope``, and WebSockets are accepted, then closed with code 1008. A
:class:`~tiktok_asgi.TikTokAuthError` a handler lets through (``access_token()`` when TikTok
refuses a refresh, ``tiktok_api``) is answered the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from ._extras import missing_extra

try:
    from litestar import Request, Response, WebSocket
    from litestar.config.app import AppConfig
    from litestar.connection import ASGIConnection
    from litestar.enums import ScopeType
    from litestar.exceptions import NotFoundException, WebSocketException
    from litestar.handlers import BaseRouteHandler, asgi
    from litestar.plugins import InitPluginProtocol
    from litestar.types import Middleware
    from litestar.types import Receive as LitestarReceive
    from litestar.types import Scope as LitestarScope
    from litestar.types import Send as LitestarSend
    from litestar.utils import normalize_path
except ImportError as exc:
    raise missing_extra(__name__, "litestar", exc) from exc

from ._adapter import (
    WS_POLICY_VIOLATION,
    browser_login_url,
    check_scopes,
    insufficient_scope_error,
    missing_scopes,
    user_in,
)
from ._paths import ROUTED_PATH
from ._responses import _SECURITY_HEADERS
from .errors import LoginRequired, TikTokAuthError
from .middleware import TikTokAuthMiddleware

__all__ = ["TikTokPlugin", "login_required", "require_scopes"]

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("TikTokPlugin binds its middleware to each Litestar route")


async def _named_path(scope: LitestarScope, receive: LitestarReceive, send: LitestarSend) -> None:
    # The middleware answers HTTP requests here; only a WebSocket can get this far.
    raise NotFoundException()


class TikTokPlugin(InitPluginProtocol):
    """Sign in with TikTok for a Litestar app: ``Litestar(plugins=[TikTokPlugin(settings=...)])``.

    Takes the keyword arguments of :class:`~tiktok_asgi.TikTokAuthMiddleware`; a wrong one
    fails here, when the app is built.
    """

    def __init__(self, **middleware_options: Any) -> None:
        # One middleware for the whole app: one connection pool, one token manager (whose
        # single-flight refresh must see every request), however many routes there are.
        self.middleware = TikTokAuthMiddleware(_no_app, **middleware_options)

    def _bind(self, app: ASGIApp) -> ASGIApp:
        """The middleware in front of one route: a shallow copy sharing every part but ``app``
        (the middleware keeps no per-request state on itself)."""
        bound = copy.copy(self.middleware)
        bound.app = app

        async def routed(scope: Scope, receive: Receive, send: Send) -> None:
            scope[ROUTED_PATH] = _routed_path(scope)
            await bound(scope, receive, send)

        return routed

    async def _close(self) -> None:
        # Litestar keeps lifespan events from route middleware: close the pool at shutdown here.
        await self.middleware._transport.aclose()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.middleware.settings
        paths = {
            "tiktok_login": settings.login_path,
            "tiktok_callback": settings.callback_path,
            "tiktok_logout": settings.logout_path,
        }
        if settings.disconnect_path is not None:
            paths["tiktok_disconnect"] = settings.disconnect_path
        if settings.qr_path is not None:
            # QR-code sign-in answers at qr_path and below it (each code's status): a mount.
            app_config.route_handlers.append(
                asgi(settings.qr_path, name="tiktok_qr", is_mount=True, copy_scope=True)(
                    _named_path
                )
            )
        if settings.webhook_path is not None:
            # Litestar runs no middleware on a path it has no route for: TikTok would get 404.
            paths["tiktok_webhook"] = settings.webhook_path
        if settings.exchange_path is not None:
            paths["tiktok_exchange"] = settings.exchange_path  # native apps' code exchange
        app_config.route_handlers.extend(
            asgi(path, name=name, copy_scope=True)(_named_path) for name, path in paths.items()
        )
        # First in the list is outermost: later middleware already see scope["user"].
        app_config.middleware.insert(0, cast(Middleware, self._bind))
        app_config.exception_handlers.setdefault(TikTokAuthError, _answer)  # the app's own wins
        app_config.on_shutdown.append(self._close)
        return app_config


def _routed_path(scope: Scope) -> str:
    """The path Litestar routed, below the root path. For a mounted app Litestar leaves only
    the rest below the mount in ``scope["path"]``: the full path is read again, as Litestar
    read it."""
    raw: bytes | None = scope.get("raw_path")
    if raw is None or not getattr(scope.get("route_handler"), "is_mount", False):
        return cast(str, scope["path"])
    path = unquote(raw.decode("latin-1"))
    root: str = scope.get("root_path", "")
    if root:
        path = path.split(root, maxsplit=1)[-1]
    return normalize_path(path)


def _answer(request: Request[Any, Any, Any], error: TikTokAuthError) -> Response[Any]:
    """An uncaught :class:`TikTokAuthError` of an HTTP handler, answered like the middleware."""
    headers = dict(_SECURITY_HEADERS)
    if error.code == "login_required":
        target = browser_login_url(request.scope)  # type: ignore[arg-type]
        if target is not None:
            return Response(b"", status_code=302, headers={**headers, "location": target})
    return Response(error.as_dict(), status_code=error.status_code, headers=headers)


async def _refuse(
    connection: ASGIConnection[Any, Any, Any, Any], error: TikTokAuthError
) -> Exception:
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        # Closed after the handshake: closing before it makes servers answer HTTP 403, which
        # browsers report as 1006, the same as a network failure.
        if isinstance(connection, WebSocket):
            await connection.accept()
        return WebSocketException(detail=error.code, code=WS_POLICY_VIOLATION)
    return error


async def login_required(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A Litestar guard: only a signed-in user passes (``guards=[login_required]``)."""
    if user_in(connection.scope) is None:  # type: ignore[arg-type]
        raise await _refuse(connection, LoginRequired())


def require_scopes(*scopes: str) -> Guard:
    """A Litestar guard: a signed-in user who granted every one of ``scopes``."""
    wanted = check_scopes(scopes)

    async def scoped(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = user_in(connection.scope)  # type: ignore[arg-type]
        if user is None:
            raise await _refuse(connection, LoginRequired())
        missing = missing_scopes(user, wanted)
        if missing:
            raise await _refuse(connection, insufficient_scope_error(missing))

    return scoped
