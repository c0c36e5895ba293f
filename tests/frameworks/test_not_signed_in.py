"""One not-signed-in rule in every adapter: a browser loading a page goes to the login page with
``next``; an API client gets 401 JSON ``login_required``; a WebSocket is closed with 1008. And
the middleware's paths are reachable by name (``url_for``) or through ``login_url``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, cast

import pytest
from fastapi import Depends, FastAPI
from fastapi import Request as FastAPIRequest
from quart import Quart
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import BASE_URL, sign_in
from tests.frameworks.helpers import ws_headers
from tests.support.calls import login_url, quart_login_url
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.fastapi import CurrentUser, install
from tiktok_asgi.fastapi import require_scopes as fastapi_scopes
from tiktok_asgi.starlette import login_required, require_scopes, tiktok_routes

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
API = {"accept": "application/json"}
LOGIN_REQUIRED = {
    "error": "login_required",
    "error_description": "Sign in with TikTok first.",
    "log_id": None,
}


@login_required
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"name": request.user.display_name})


@login_required
def me_sync(request: Request) -> JSONResponse:
    return JSONResponse({"name": request.user.display_name, "sync": True})


@require_scopes("user.info.stats")
async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"followers": request.user.follower_count})


class Profile(HTTPEndpoint):
    @login_required
    async def get(self, request: Request) -> JSONResponse:
        return JSONResponse({"endpoint": request.user.display_name})


@login_required
async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"hello": websocket.user.display_name})
    await websocket.close()


async def links(request: Request) -> PlainTextResponse:
    login = request.url_for("tiktok_login").include_query_params(next="/me")
    return PlainTextResponse(
        f"{login.path}?{login.query} {request.url_for('tiktok_callback').path} "
        f"{request.url_for('tiktok_logout').path} {login_url(request, next='/me')} "
        f"{request.url_for('tiktok_disconnect').path}"
    )


def starlette_app(settings: TikTokSettings, emulator: TikTokEmulator, **options: Any) -> Starlette:
    routes = [
        *tiktok_routes(settings),
        Route("/me", me),
        Route("/me-sync", me_sync),
        Route("/stats", stats),
        Route("/profile", Profile),
        Route("/links", links),
        WebSocketRoute("/live", live),
    ]
    middleware = [
        Middleware(TikTokAuthMiddleware, settings=settings, transport=emulator.transport())
    ]
    return Starlette(routes=routes, middleware=middleware, **options)


@pytest.fixture
def starlette_client(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> TestClient:
    return TestClient(starlette_app(tiktok_settings, tiktok_emulator), base_url=BASE_URL)


@pytest.mark.parametrize("path", ["/me", "/me-sync", "/stats", "/profile"])
def test_starlette_browser_goes_to_login_and_api_client_gets_401(
    starlette_client: TestClient, path: str
) -> None:
    page = starlette_client.get(f"{path}?tab=a%20b", headers=BROWSER, follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"] == f"/auth/tiktok/login?next=%2F{path[1:]}%3Ftab%3Da%2520b"
    assert page.headers["cache-control"] == "no-store"
    for headers in (API, {}):
        api = starlette_client.get(path, headers=headers)
        assert api.status_code == 401
        assert api.json() == LOGIN_REQUIRED
    # A form post is not a page load: it is answered, not redirected.
    assert starlette_client.post("/me", headers=BROWSER).status_code == 405


def test_starlette_signed_in_user_passes_and_scopes_are_checked(
    starlette_client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    maya = tiktok_emulator.user("mayacooks")
    sign_in(
        starlette_client, tiktok_settings, tiktok_emulator, user=maya, scopes=["user.info.basic"]
    )
    assert starlette_client.get("/me").json() == {"name": maya.display_name}
    assert starlette_client.get("/me-sync").json() == {"name": maya.display_name, "sync": True}
    assert starlette_client.get("/profile").json() == {"endpoint": maya.display_name}
    refused = starlette_client.get("/stats", headers=BROWSER)
    assert refused.status_code == 403  # signed in: a missing scope is not a reason to log in
    assert refused.json()["error"] == "insufficient_scope"
    assert "user.info.stats" in refused.json()["error_description"]
    sign_in(starlette_client, tiktok_settings, tiktok_emulator, user=maya)
    assert starlette_client.get("/stats").json() == {"followers": maya.follower_count}


def test_starlette_websocket_is_closed_for_anonymous_and_open_for_signed_in(
    starlette_client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        starlette_client.websocket_connect("/live") as ws,
    ):
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "login_required")
    maya = tiktok_emulator.user("mayacooks")
    sign_in(starlette_client, tiktok_settings, tiktok_emulator, user=maya)
    headers = ws_headers(starlette_client, tiktok_settings)
    with starlette_client.websocket_connect("/live", headers=headers) as ws:
        assert ws.receive_json() == {"hello": maya.display_name}


def test_starlette_paths_by_name_and_login_url(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(
        login_path="/signin",
        callback_path="/signin/done",
        logout_path="/signout",
        redirect_uri=f"{BASE_URL}/signin/done",
    )
    app = starlette_app(settings, tiktok_emulator)
    with TestClient(app, base_url=BASE_URL) as client:
        assert (
            client.get("/links").text
            == "/signin?next=%2Fme /signin/done /signout /signin?next=%2Fme /auth/tiktok/disconnect"
        )
        # The named routes do not shadow the middleware: it still answers the login path.
        assert client.get("/signin", follow_redirects=False).status_code == 302
    with TestClient(app, base_url=BASE_URL, root_path="/shop") as mounted:
        assert mounted.get("/links").text == (
            "/shop/signin?next=%2Fme /shop/signin/done /shop/signout /shop/signin?next=%2Fme "
            "/shop/auth/tiktok/disconnect"
        )


def test_login_url_leaves_out_a_next_off_the_site(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    seen: list[str] = []

    async def page(request: Request) -> PlainTextResponse:
        seen.extend(
            login_url(request, next=target) for target in ("//evil.example", "https://x.io", "/a")
        )
        seen.append(login_url(request))
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", page)],
        middleware=[Middleware(TikTokAuthMiddleware, settings=tiktok_settings)],
    )
    TestClient(app, base_url=BASE_URL).get("/")
    login = tiktok_settings.login_path
    assert seen == [login, login, f"{login}?next=%2Fa", login]


def test_tiktok_routes_need_settings() -> None:
    with pytest.raises(TypeError, match="TikTokSettings"):
        tiktok_routes("/auth")  # type: ignore[arg-type]


def test_starlette_decorator_outside_an_endpoint_names_the_mistake() -> None:
    @login_required
    async def helper(value: int) -> int:
        return value

    with pytest.raises(TypeError, match="Starlette endpoints"):
        asyncio.run(helper(1))


def fastapi_app(settings: TikTokSettings, emulator: TikTokEmulator, *, installed: bool) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TikTokAuthMiddleware, settings=settings, transport=emulator.transport())
    if installed:
        install(app, settings=settings)

    @app.get("/me")
    async def read_me(user: CurrentUser) -> dict[str, str]:
        return {"name": user.display_name}

    @app.get("/stats")
    async def read_stats(
        user: Annotated[TikTokUser, Depends(fastapi_scopes("user.info.stats"))],
    ) -> dict[str, int | None]:
        return {"followers": user.follower_count}

    @app.get("/links")
    async def read_links(request: FastAPIRequest) -> dict[str, str]:
        return {
            name: request.url_for(name).path
            for name in ("tiktok_login", "tiktok_callback", "tiktok_logout", "tiktok_disconnect")
        }

    return app


@pytest.mark.parametrize("path", ["/me", "/stats"])
def test_fastapi_with_install_sends_browsers_to_login(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, path: str
) -> None:
    app = fastapi_app(tiktok_settings, tiktok_emulator, installed=True)
    client = TestClient(app, base_url=BASE_URL)
    page = client.get(path, headers=BROWSER, follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"] == f"/auth/tiktok/login?next=%2F{path[1:]}"
    for headers in (API, {}):
        api = client.get(path, headers=headers)
        assert api.status_code == 401
        assert api.json() == LOGIN_REQUIRED
    # The redirect lands where it should: signing in from there returns to the page.
    assert sign_in(client, tiktok_settings, tiktok_emulator, next=path) == path


def test_fastapi_without_install_keeps_json_for_everyone(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = fastapi_app(tiktok_settings, tiktok_emulator, installed=False)
    page = TestClient(app, base_url=BASE_URL).get("/me", headers=BROWSER, follow_redirects=False)
    assert page.status_code == 401
    assert page.json() == {"detail": LOGIN_REQUIRED}


def test_fastapi_install_names_the_paths(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(
        login_path="/in",
        callback_path="/in/cb",
        logout_path="/out",
        redirect_uri=f"{BASE_URL}/in/cb",
    )
    app = fastapi_app(settings, tiktok_emulator, installed=True)
    client = TestClient(app, base_url=BASE_URL)
    assert client.get("/links").json() == {
        "tiktok_login": "/in",
        "tiktok_callback": "/in/cb",
        "tiktok_logout": "/out",
        "tiktok_disconnect": "/auth/tiktok/disconnect",
    }
    assert "/in" not in client.get("/openapi.json").json()["paths"]


def test_quart_login_url(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> None:
    app = Quart(__name__)

    @app.get("/links")
    async def links() -> str:
        return f"{quart_login_url()} {quart_login_url(next='/me?tab=1')} {quart_login_url('//x')}"

    app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign, assignment]
        cast(ASGIApp, app.asgi_app), settings=tiktok_settings
    )
    login = tiktok_settings.login_path
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/links").text == f"{login} {login}?next=%2Fme%3Ftab%3D1 {login}"


def test_starlette_routes_leave_out_a_disconnect_path_turned_off(
    tiktok_settings: TikTokSettings,
) -> None:
    names = [route.name for route in tiktok_routes(tiktok_settings.replace(disconnect_path=None))]
    assert names == ["tiktok_login", "tiktok_callback", "tiktok_logout"]
    assert "tiktok_disconnect" in [route.name for route in tiktok_routes(tiktok_settings)]
