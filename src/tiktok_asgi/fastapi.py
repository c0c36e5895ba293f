"""FastAPI dependencies for the signed-in TikTok user (the ``fastapi`` extra: ``pip install
".[fastapi]"`` from a checkout of tiktok-asgi).

::

    from fastapi import Depends, FastAPI
    from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
    from tiktok_asgi.fastapi import CurrentUser, OptionalUser, install, require_scopes

    settings = TikTokSettings.from_env()
    app = FastAPI()
    app.add_middleware(TikTokAuthMiddleware, settings=settings)
    install(app, settings=settings)  # the JSON error shape; 401/403 in the OpenAPI schema

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"name": user.display_name}

    @app.get("/stats")
    async def stats(
        user: Annotated[TikTokUser, Depends(require_scopes("user.info.stats"))],
    ) -> dict[str, int | None]:
        return {"followers": user.follower_count}

The dependencies are typed on ``HTTPConnection``, so they serve WebSocket routes too: there a
refusal accepts the connection, then closes it with code 1008 (policy violation) and the error
code as reason (closed during the handshake, servers would answer HTTP 403, which browsers
report as 1006, as for a network failure), with or without :func:`install`.
:func:`install` does what it does in every adapter. Once it has run, refusals follow the
middleware's rule: a browser loading a page without a sign-in is sent to the login page with
``next`` set to where it was going; other requests get ``401 login_required`` or
``403 insufficient_scope`` in the shape ``{"error", "error_description", "log_id"}`` (without
:func:`install` FastAPI's default handler answers every refusal with JSON, nesting the same
object under ``"detail"``). Given the middleware's ``settings`` it also adds the login, callback,
logout and disconnect routes under the names ``tiktok_login``, ``tiktok_callback``,
``tiktok_logout`` and ``tiktok_disconnect``, for ``request.url_for`` in views and templates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Annotated, Any, cast

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from ._extras import missing_extra

try:
    from fastapi import Depends, FastAPI, HTTPException, WebSocketException
    from fastapi.dependencies.models import Dependant
    from fastapi.routing import APIRoute
except ImportError as exc:
    raise missing_extra(__name__, "fastapi", exc) from exc

from ._adapter import (
    WS_POLICY_VIOLATION,
    check_scopes,
    insufficient_scope_error,
    missing_scopes,
    refusal_response,
    setting_default,
    user_in,
)
from .errors import LoginRequired, TikTokAuthError
from .settings import TikTokSettings
from .starlette import _accept_to_refuse, _add_routes
from .user import TikTokUser

__all__ = [
    "CurrentUser",
    "OptionalUser",
    "TikTokHTTPException",
    "install",
    "optional_user",
    "require_scopes",
    "require_user",
    "tiktok_exception_handler",
]

_SCOPES_ATTR = "__tiktok_scopes__"
_INSTALLED_ATTR = "__tiktok_asgi_installed__"
_SCHEME = "TikTokSession"
_ERROR_SCHEMA = "TikTokError"


class TikTokHTTPException(HTTPException):
    """A refusal by these dependencies over HTTP; ``error`` is the :class:`TikTokAuthError`."""

    def __init__(self, error: TikTokAuthError) -> None:
        super().__init__(status_code=error.status_code, detail=error.as_dict())
        self.error = error


async def _refusal(conn: HTTPConnection, error: TikTokAuthError) -> Exception:
    if isinstance(conn, WebSocket):
        # Accepted here, so that the handler of WebSocketException (FastAPI's own, too) closes
        # it after the handshake.
        await _accept_to_refuse(conn)
        return WebSocketException(code=WS_POLICY_VIOLATION, reason=error.code)
    return TikTokHTTPException(error)


async def optional_user(conn: HTTPConnection) -> TikTokUser | None:
    """The signed-in :class:`TikTokUser`, or None."""
    return user_in(conn.scope)


async def require_user(conn: HTTPConnection) -> TikTokUser:
    """The signed-in :class:`TikTokUser`; 401 ``login_required`` (WebSocket: accept, then close
    with 1008)."""
    user = user_in(conn.scope)
    if user is None:
        raise await _refusal(conn, LoginRequired())
    return user


CurrentUser = Annotated[TikTokUser, Depends(require_user)]
"""A route parameter for the signed-in user; anonymous requests get 401 ``login_required``."""

OptionalUser = Annotated[TikTokUser | None, Depends(optional_user)]
"""A route parameter for the signed-in user, or None for anonymous requests."""


def require_scopes(*scopes: str) -> Callable[..., Awaitable[TikTokUser]]:
    """A dependency: the signed-in user, who must have granted every one of ``scopes``.

    Anonymous: 401 ``login_required``; a scope not granted: 403 ``insufficient_scope`` naming
    it (WebSocket: accept, then close with 1008). Use as
    ``Depends(require_scopes("user.info.stats"))``.
    """
    wanted = check_scopes(scopes)

    async def scoped_user(conn: HTTPConnection, user: CurrentUser) -> TikTokUser:
        missing = missing_scopes(user, wanted)
        if missing:
            raise await _refusal(conn, insufficient_scope_error(missing))
        return user

    setattr(scoped_user, _SCOPES_ATTR, wanted)
    scoped_user.__qualname__ = f"require_scopes({', '.join(map(repr, wanted))})"
    return scoped_user


async def tiktok_exception_handler(conn: HTTPConnection, exc: Exception) -> Response | None:
    """Answers a :class:`TikTokAuthError` (or :class:`TikTokHTTPException`) as the middleware
    does: a browser loading a page without a sign-in goes to the login page with ``next``;
    otherwise ``{"error", "error_description", "log_id"}`` with its status; on a WebSocket,
    accept if not yet accepted, then close with 1008. :func:`install` registers it."""
    error = exc.error if isinstance(exc, TikTokHTTPException) else exc
    if not isinstance(error, TikTokAuthError):
        raise exc
    if isinstance(conn, WebSocket):
        await _accept_to_refuse(conn)
        await conn.close(code=WS_POLICY_VIOLATION, reason=error.code)
        return None
    return refusal_response(conn.scope, error)


def install(app: FastAPI, *, settings: TikTokSettings | None = None) -> None:
    """Adapt the app to the :class:`~tiktok_asgi.TikTokAuthMiddleware` around it, as ``install``
    does in every adapter: a :class:`TikTokAuthError` a view leaves unhandled (and every refusal
    of these dependencies) is answered as the middleware answers it, instead of FastAPI's 500 or
    ``{"detail": ...}``, and, given the middleware's ``settings``, its login, callback, logout
    and disconnect paths become routes named ``tiktok_login``, ``tiktok_callback``,
    ``tiktok_logout`` and ``tiktok_disconnect`` for ``request.url_for``.

    Registers :func:`tiktok_exception_handler` for :class:`TikTokAuthError` and
    :class:`TikTokHTTPException` (browsers to the login page, API clients JSON), and documents
    those answers in the OpenAPI schema: every operation that uses these dependencies gets its
    ``401`` / ``403`` responses and a cookie security scheme, which ``settings`` name (without
    them the defaults are shown). Calling it again changes nothing.
    """
    handler = cast(ExceptionHandler, tiktok_exception_handler)
    app.add_exception_handler(TikTokAuthError, handler)
    app.add_exception_handler(TikTokHTTPException, handler)
    if getattr(app.openapi, _INSTALLED_ATTR, False):
        return
    if settings is not None:
        _add_routes(app.router.routes, settings)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _document(schema, app.routes, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    setattr(openapi, _INSTALLED_ATTR, True)
    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _uses(route: APIRoute) -> tuple[bool, bool, tuple[str, ...]]:
    """(requires a user, accepts an optional user, scopes required) of one route."""
    required = optional = False
    scopes: list[str] = []
    for dependant in _walk(route.dependant):
        call = dependant.call
        if call is require_user:
            required = True
        elif call is optional_user:
            optional = True
        scopes.extend(getattr(call, _SCOPES_ATTR, ()))
    return required, optional, tuple(dict.fromkeys(scopes))


def _error_response(description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_ERROR_SCHEMA}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _document(
    schema: dict[str, Any], routes: Iterable[BaseRoute], settings: TikTokSettings | None
) -> None:
    cookie = settings.cookie_name if settings else setting_default("cookie_name")
    login = settings.login_path if settings else setting_default("login_path")
    used = False
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        required, optional, scopes = _uses(route)
        if not (required or optional):
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            used = True
            responses = operation.setdefault("responses", {})
            if required:
                operation["security"] = [{_SCHEME: []}]
                responses.setdefault(
                    "401", _error_response("Not signed in with TikTok (login_required)")
                )
            else:
                operation["security"] = [{}, {_SCHEME: []}]
            if scopes:
                responses.setdefault(
                    "403",
                    _error_response(
                        f"TikTok scope not granted: {', '.join(scopes)} (insufficient_scope)"
                    ),
                )
    if not used:
        return
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[_SCHEME] = {
        "type": "apiKey",
        "in": "cookie",
        "name": cookie,
        "description": f"The signed identity cookie set by Sign in with TikTok (GET {login}).",
    }
    components.setdefault("schemas", {})[_ERROR_SCHEMA] = {
        "title": _ERROR_SCHEMA,
        "type": "object",
        "required": ["error", "error_description", "log_id"],
        "properties": {
            "error": {"type": "string", "description": "A stable machine-readable code."},
            "error_description": {"type": "string", "description": "Safe to show to people."},
            "log_id": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "TikTok's request id, when TikTok produced the error.",
            },
        },
    }
