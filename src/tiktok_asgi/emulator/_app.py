"""The emulator as an ASGI app: routes, per-host serving and fault injection, from one table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

from tiktok_asgi.emulator import _web, _webhooks
from tiktok_asgi.emulator._core import Core, record_of
from tiktok_asgi.emulator._endpoints import AUTHORIZE_HOST, ENDPOINTS, HOSTS, Endpoint, endpoint_at
from tiktok_asgi.emulator._pages import html_page_response, index_page, page_language
from tiktok_asgi.emulator._responses import fault_response

__all__ = ["build_app"]


def _endpoint(core: Core, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Record the request, apply an injected fault if one is armed, else answer normally."""

    async def run(request: Request) -> Response:
        body = await request.body()
        fault = core.state.take_fault(endpoint.name)
        core.state.record(
            record_of(
                endpoint.name,
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
                lang = page_language(request).code
                return fault_response(fault, endpoint.render, core.config.clock, lang)
        return await endpoint.handlers[request.method](core, request, body)

    return run


def _plain(core: Core, view: Callable[[Core, Request], Awaitable[Response]]) -> Any:
    async def run(request: Request) -> Response:
        return await view(core, request)

    return run


async def _index(core: Core, request: Request) -> Response:
    """Where everything is, for someone running the emulator by hand."""
    endpoints = {e.name: str(request.url_for(e.name)) for e in ENDPOINTS}
    config = core.config
    lang = page_language(request).code
    page = index_page(config.app_name, config.client_key, endpoints, config.redirect_uris, lang)
    return html_page_response(page)


def _routes(core: Core) -> list[BaseRoute]:
    return [
        Route("/", _plain(core, _index), methods=["GET"], name="index"),
        *(
            Route(e.path, _endpoint(core, e), methods=list(e.methods), name=e.name)
            for e in ENDPOINTS
        ),
        Route("/avatars/{open_id}.svg", _plain(core, _web.avatar), methods=["GET"], name="avatar"),
        Route("/covers/{video_id}.svg", _plain(core, _web.cover), methods=["GET"], name="cover"),
        Route("/apps", _plain(core, _webhooks.apps_page), methods=["GET"], name="apps"),
        Route(
            "/apps/remove",
            _plain(core, _webhooks.apps_remove),
            methods=["POST"],
            name="apps_remove",
        ),
    ]


def _lifespan(core: Core) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Served on its own, the emulator redelivers webhooks from startup until shutdown."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_webhooks.run_retries, core)
            yield
            tasks.cancel_scope.cancel()

    return lifespan


def build_app(core: Core) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The emulator as an ASGI app that works served, mounted or behind the in-process transport.

    No trailing-slash redirects: ``/v2/oauth/token`` is a 404, as at TikTok.
    """
    router = Router(_routes(core), redirect_slashes=False, lifespan=_lifespan(core))

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
    """Under TikTok's own host names, an endpoint is served only on its own host."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    if name not in HOSTS:
        return True
    endpoint = endpoint_at(path)
    if endpoint is not None:
        return endpoint.host == name
    return name != AUTHORIZE_HOST or path.startswith(("/avatars/", "/covers/", "/apps"))
