"""The ASGI application: routes, the record-and-fault pipeline, and TikTok's two hosts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from tiktok_asgi.emulator import _api, _oauth, _web
from tiktok_asgi.emulator._core import ENDPOINT_PATHS, Core, record_of
from tiktok_asgi.emulator._responses import fault_response

__all__ = ["API_HOST", "AUTHORIZE_HOST", "build_app", "endpoint_for_path"]

AUTHORIZE_HOST = "www.tiktok.com"
API_HOST = "open.tiktokapis.com"
_AUTHORIZE_PATH = "/v2/auth/authorize/"

Handler = Callable[[Core, Request, bytes], Awaitable[Response]]


def _endpoint(core: Core, name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Record the request, apply an injected fault if one is armed, else answer normally."""

    async def run(request: Request) -> Response:
        body = await request.body()
        fault = core.state.take_fault(name)
        core.state.record(
            record_of(
                name,
                request.method,
                request.url.path,
                request.scope.get("query_string", b""),
                request.headers.items(),
                body,
                fault.kind if fault is not None else None,
            )
        )
        if fault is not None:
            if fault.kind in ("latency", "timeout"):
                await anyio.sleep(fault.seconds)
            if fault.kind != "latency":
                return fault_response(fault, name, core.config.clock)
        return await handler(core, request, body)

    return run


def _plain(core: Core, view: Callable[[Core, Request], Awaitable[Response]]) -> Any:
    async def run(request: Request) -> Response:
        return await view(core, request)

    return run


def _routes(core: Core) -> list[BaseRoute]:
    return [
        Route("/", _plain(core, _web.index), methods=["GET"], name="index"),
        Route(
            _AUTHORIZE_PATH,
            _endpoint(core, "authorize", _web.authorize_page),
            methods=["GET"],
            name="authorize",
        ),
        Route(
            _AUTHORIZE_PATH,
            _endpoint(core, "authorize", _web.authorize_form),
            methods=["POST"],
            name="authorize_form",
        ),
        Route(
            "/v2/oauth/token/",
            _endpoint(core, "token", _oauth.token),
            methods=["POST"],
            name="token",
        ),
        Route(
            "/v2/oauth/revoke/",
            _endpoint(core, "revoke", _oauth.revoke),
            methods=["POST"],
            name="revoke",
        ),
        Route(
            "/v2/user/info/",
            _endpoint(core, "userinfo", _api.userinfo),
            methods=["GET"],
            name="userinfo",
        ),
        Route(
            "/v2/video/list/",
            _endpoint(core, "video_list", _api.video_list),
            methods=["POST"],
            name="video_list",
        ),
        Route("/avatars/{open_id}.svg", _plain(core, _web.avatar), methods=["GET"], name="avatar"),
        Route("/covers/{video_id}.svg", _plain(core, _web.cover), methods=["GET"], name="cover"),
    ]


def build_app(core: Core) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The emulator as an ASGI app that works served, mounted or behind the in-process transport.

    No trailing-slash redirects: ``/v2/oauth/token`` is a 404, as at TikTok.
    """
    router = Router(_routes(core), redirect_slashes=False)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await router(scope, receive, send)
            return
        # Own router and root for url_for, so avatar URLs carry a mount prefix.
        scope = {**scope, "router": router, "app_root_path": scope.get("root_path", "")}
        if not _host_serves(Headers(scope=scope).get("host", ""), _route_path(scope)):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await router(scope, receive, send)

    return app


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _host_serves(host: str, path: str) -> bool:
    """Under TikTok's own host names, each host serves only its own endpoints."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    if name == AUTHORIZE_HOST:
        return path == _AUTHORIZE_PATH or path.startswith(("/avatars/", "/covers/"))
    if name == API_HOST:
        return path != _AUTHORIZE_PATH
    return True


def endpoint_for_path(path: str) -> str | None:
    """The endpoint name of an emulator path (without a mount prefix)."""
    return ENDPOINT_PATHS.get(path)
