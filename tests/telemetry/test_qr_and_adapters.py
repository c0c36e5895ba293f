"""QR-code sign-in's spans and events; ``on_event`` through every framework's way of wrapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, make_app, make_starlette, sign_in
from tests.core.test_qr import new_code, status_of
from tests.telemetry.conftest import Events, Recorded
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.events import SignedIn, SignInRefused


def test_a_qr_sign_in_and_a_refused_one(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    recorded: Recorded,
    events: Events,
) -> None:
    async def on_login(user: TikTokUser, token: Any) -> TikTokUser | None:
        return None if user.username == "leo.skates" else user

    app = make_app(tiktok_settings, tiktok_emulator.transport(), on_login=on_login, on_event=events)
    client = TestClient(app, base_url=BASE_URL)
    for person in ("mayacooks", "leo.skates"):
        body = new_code(client)
        tiktok_emulator.confirm_qr(body["scan_url"], user=person)
        status_of(client, body["qr_id"])
    (signed_in,) = events.of(SignedIn)
    assert signed_in.how == "qr"
    assert signed_in.open_id == tiktok_emulator.user("mayacooks").open_id
    (refused,) = events.of(SignInRefused)
    assert (refused.how, refused.reason) == ("qr", "login_rejected")
    assert len(recorded.named("tiktok_asgi.qr_start")) == 2
    ok, rejected = recorded.named("tiktok_asgi.qr_poll")
    assert ok.status.status_code.name == "UNSET"
    assert rejected.status.status_code.name == "ERROR"
    assert rejected.attributes is not None
    assert rejected.attributes["error.type"] == "login_rejected"
    assert recorded.value("tiktok_asgi.sign_ins", outcome="ok", how="qr") == 1
    assert recorded.value("tiktok_asgi.sign_ins", outcome="login_rejected", how="qr") == 1
    endpoint = "tiktok_asgi.tiktok.duration"
    assert recorded.value(endpoint, endpoint="get_qrcode") == 2
    assert recorded.value(endpoint, endpoint="check_qrcode") == 2


def _starlette(settings: TikTokSettings, emulator: TikTokEmulator, events: Events) -> Any:
    options = {"settings": settings, "transport": emulator.transport(), "on_event": events}
    return Starlette(
        routes=make_starlette().routes, middleware=[Middleware(TikTokAuthMiddleware, **options)]
    )


def _fastapi(settings: TikTokSettings, emulator: TikTokEmulator, events: Events) -> Any:
    fastapi = pytest.importorskip("fastapi")
    api = fastapi.FastAPI()
    api.add_middleware(
        TikTokAuthMiddleware, settings=settings, transport=emulator.transport(), on_event=events
    )
    return api


def _quart(settings: TikTokSettings, emulator: TikTokEmulator, events: Events) -> Any:
    quart = pytest.importorskip("quart")
    app = quart.Quart(__name__)
    app.asgi_app = TikTokAuthMiddleware(
        app.asgi_app, settings=settings, transport=emulator.transport(), on_event=events
    )
    return app


def _litestar(settings: TikTokSettings, emulator: TikTokEmulator, events: Events) -> Any:
    litestar = pytest.importorskip("litestar")
    from tiktok_asgi.litestar import TikTokPlugin

    @litestar.get("/")
    async def home() -> str:
        return "home"

    plugin = TikTokPlugin(settings=settings, transport=emulator.transport(), on_event=events)
    return litestar.Litestar([home], plugins=[plugin])


@pytest.mark.parametrize("build", [_starlette, _fastapi, _quart, _litestar])
def test_every_adapter_passes_on_event_through(
    build: Callable[[TikTokSettings, TikTokEmulator, Events], Any],
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    events: Events,
) -> None:
    with TestClient(build(tiktok_settings, tiktok_emulator, events), base_url=BASE_URL) as client:
        sign_in(client, tiktok_settings, tiktok_emulator)
    (signed_in,) = events.of(SignedIn)
    assert signed_in.how == "web"
    assert signed_in.client == "testclient"
