"""``tiktok_asgi.starlette.install``: with the middleware wrapped around a Starlette app from
outside (the README's "Many instances" set-up), a ``TikTokAuthError`` a view leaves unhandled is
answered exactly as with ``Middleware(TikTokAuthMiddleware)`` in the app, not with a 500."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import BASE_URL, sign_in
from tiktok_asgi import (
    LoginRequired,
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokSettings,
    TikTokUnavailable,
    TokenStoreUnavailable,
    tiktok_context,
)
from tiktok_asgi.emulator import Fault, TikTokEmulator
from tiktok_asgi.pages import ErrorPage
from tiktok_asgi.starlette import install


def _raising(error: Callable[[], Exception]) -> Callable[[Request], Any]:
    async def view(request: Request) -> Response:
        raise error()

    return view


async def _token(request: Request) -> Response:
    # Anonymous: LoginRequired at once. Signed in: TikTok refuses the refresh (the test injects
    # invalid_grant), so LoginRequired and the user signed out on this very answer.
    context = tiktok_context(request)
    token = await context.access_token()
    return Response(await context.access_token(rejected=token))


async def _socket(websocket: WebSocket) -> None:
    raise TikTokUnavailable() if websocket.query_params.get("down") else LoginRequired()


ROUTES = [
    Route("/login-required", _raising(LoginRequired)),
    Route("/token", _token),
    Route("/store-down", _raising(TokenStoreUnavailable)),
    Route("/tiktok-down", _raising(lambda: TikTokUnavailable(retry_after=30))),
    WebSocketRoute("/ws", _socket),
]
PATHS = ["/login-required", "/token", "/store-down", "/tiktok-down"]
ACCEPTS = ["application/json", "text/html", "*/*"]
LOG_ID = re.compile(rb"\b2\d{13}[0-9A-F]{20}\b")
COMPARED = ("content-type", "location", "retry-after", "cache-control", "set-cookie")


def _page(page: ErrorPage) -> str:
    return f"<h1>{page.title}</h1><p>{page.code} {page.status_code}</p>"


def _apps(
    settings: TikTokSettings, emulator: TikTokEmulator, **options: Any
) -> dict[str, Callable[[], Any]]:
    def middleware() -> dict[str, Any]:
        return {
            "settings": settings,
            "transport": emulator.transport(),
            "token_store": MemoryTokenStore(),
            **options,
        }

    def inside() -> Any:
        return Starlette(
            routes=ROUTES, middleware=[Middleware(TikTokAuthMiddleware, **middleware())]
        )

    def outside(installed: bool) -> Callable[[], Any]:
        def build() -> Any:
            app = Starlette(routes=ROUTES)
            if installed:
                install(app, error_page=options.get("error_page"))
            return TikTokAuthMiddleware(app, **middleware())

        return build

    return {"inside": inside, "outside": outside(True), "outside_bare": outside(False)}


def _answer(
    app: Any, path: str, accept: str, signed_in: tuple[TikTokSettings, TikTokEmulator] | None
) -> Any:
    client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
    if signed_in is not None:
        settings, emulator = signed_in
        sign_in(client, settings, emulator)
        if path == "/token":
            emulator.inject("token", Fault.error_body("invalid_grant"), times=1)
    answer = client.get(path, headers={"accept": accept}, follow_redirects=False)
    headers = {name: answer.headers.get_list(name) for name in COMPARED}
    # TikTok's log id differs from one refusal to the next; the rest must not.
    return answer.status_code, LOG_ID.sub(b"<log id>", answer.content), headers


@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed_in"])
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("path", PATHS)
def test_wrapped_from_outside_with_install_answers_as_inside(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    path: str,
    accept: str,
    signed: bool,
) -> None:
    apps = _apps(tiktok_settings, tiktok_emulator)
    who = (tiktok_settings, tiktok_emulator) if signed else None
    inside = _answer(apps["inside"](), path, accept, who)
    assert inside[0] in (401, 503), inside
    if signed and path == "/token":
        assert any("Max-Age=0" in c for c in inside[2]["set-cookie"])  # signed out
    assert _answer(apps["outside"](), path, accept, who) == inside
    # Without install, Starlette's error middleware answered first: the bug.
    assert _answer(apps["outside_bare"](), path, accept, who)[0] == 500


@pytest.mark.parametrize(
    "options",
    [{"error_page": _page}, {"settings_changes": {"error_redirect": "/oops"}}],
    ids=["error_page", "error_redirect"],
)
@pytest.mark.parametrize("path", PATHS)
def test_the_middlewares_error_page_and_error_redirect_are_followed(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    path: str,
    options: dict[str, Any],
) -> None:
    settings = tiktok_settings.replace(**options.pop("settings_changes", {}))
    apps = _apps(settings, tiktok_emulator, **options)
    inside = _answer(apps["inside"](), path, "text/html", None)
    assert _answer(apps["outside"](), path, "text/html", None) == inside


def test_the_answers_are_the_documented_ones(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = _apps(tiktok_settings, tiktok_emulator)["outside"]()
    status, body, headers = _answer(app, "/tiktok-down", "application/json", None)
    assert (status, headers["retry-after"]) == (503, ["30"])
    assert b'"error":"tiktok_unavailable"' in body
    status, body, _ = _answer(app, "/store-down", "application/json", None)
    assert (status, b'"error":"token_store_unavailable"' in body) == (503, True)
    status, body, _ = _answer(app, "/login-required", "text/html", None)
    assert (status, b"login_required" in body) == (401, True)


@pytest.mark.parametrize(("query", "code"), [("", 1008), ("?down=1", 1011)])
def test_a_websocket_is_closed(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, query: str, code: int
) -> None:
    client = TestClient(_apps(tiktok_settings, tiktok_emulator)["outside"](), base_url=BASE_URL)
    # Accepted first, so that a browser sees the code (a refused handshake is 1006 there).
    with (
        client.websocket_connect(f"/ws{query}") as socket,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        socket.receive_text()
    assert closed.value.code == code
