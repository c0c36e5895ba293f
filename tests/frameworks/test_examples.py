"""The three example applications: imported and signed in through the emulator in-process, and
served by uvicorn / hypercorn with the emulator mounted in the same app, as documented."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, sign_in, start_login
from tests.core.helpers import cookie_named
from tests.frameworks.helpers import browser_sign_in, served, ws_headers
from tests.support.processes import free_port
from tiktok_asgi import TikTokSettings
from tiktok_asgi._tiktok.http import httpx2
from tiktok_asgi.emulator import TikTokEmulator

BASIC = ["user.info.basic"]
EXAMPLES = ["fastapi_app", "starlette_app", "quart_app", "litestar_app"]


@pytest.fixture(autouse=True)
def _emulator_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples build their app at import: with the emulator, as their docstrings run them."""
    monkeypatch.setenv("EXAMPLE_EMULATOR", "1")


@pytest.fixture(params=EXAMPLES)
def example(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(f"examples.{request.param}")


def accounts_of(app: Any) -> Any:
    """The example's in-memory user "database"."""
    extensions = getattr(app, "extensions", None)
    return extensions["accounts"] if extensions is not None else app.state.accounts


def test_example_signs_in_through_the_emulator(
    example: ModuleType, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = example.create_app(tiktok_settings, transport=tiktok_emulator.transport())
    maya, leo = tiktok_emulator.user("mayacooks"), tiktok_emulator.user("leo.skates")
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/me").status_code == 401
        # One not-signed-in rule in every framework: a browser goes to login and comes back.
        page = client.get("/me", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.headers["location"] == "/auth/tiktok/login?next=%2Fme"
        assert "Sign in with TikTok" in client.get("/").text

        # on_login creates the app user and carries its id in the identity cookie.
        sign_in(client, tiktok_settings, tiktok_emulator, user=maya, scopes=BASIC)
        me = client.get("/me").json()
        assert (me["open_id"], me["display_name"], me["app_user_id"]) == (
            maya.open_id,
            maya.display_name,
            1,
        )
        assert "Hello Maya Chen" in client.get("/").text
        assert client.get("/stats").status_code == 403  # user.info.stats not granted
        if example.__name__ != "examples.quart_app":  # see test_quart_example_websocket
            with client.websocket_connect("/ws", headers=ws_headers(client, tiktok_settings)) as ws:
                assert ws.receive_json() == {"hello": maya.display_name}
                ws.send_text("ping")
                assert ws.receive_json() == {"echo": "ping", "from": maya.open_id}

        # Signing in again finds the same app user; granting stats opens /stats.
        sign_in(client, tiktok_settings, tiktok_emulator, user=maya)
        assert client.get("/me").json()["app_user_id"] == 1
        assert client.get("/stats").json() == {
            "followers": maya.follower_count,
            "likes": maya.likes_count,
        }
        sign_in(client, tiktok_settings, tiktok_emulator, user=leo)
        assert client.get("/me").json()["app_user_id"] == 2

        # load_user signs a banned account out on its next request; on_login refuses it.
        accounts_of(app).banned.add(leo.open_id)
        banned = client.get("/me")
        assert banned.status_code == 401
        _, value, _ = cookie_named(banned, tiktok_settings.cookie_name)
        assert value in ("", '""')
        callback = tiktok_emulator.approve(start_login(client, tiktok_settings), user=leo)
        rejected = client.get(callback, headers={"accept": "application/json"})
        assert rejected.status_code == 403
        assert rejected.json()["error"] == "login_rejected"


async def test_quart_example_websocket(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    """Quart's own test client for its websocket: Starlette's TestClient cancels the session
    while Quart is still handling the disconnect, which fails at random."""
    module = importlib.import_module("examples.quart_app")
    app = module.create_app(tiktok_settings, transport=tiktok_emulator.transport())
    maya = tiktok_emulator.user("mayacooks")
    with TestClient(app, base_url=BASE_URL) as browser:
        sign_in(browser, tiktok_settings, tiktok_emulator, user=maya)
        headers = ws_headers(browser, tiktok_settings)
    client = app.test_client()
    async with client.websocket("/ws", headers=headers) as ws:
        assert await ws.receive_json() == {"hello": maya.display_name}
        await ws.send("ping")
        assert await ws.receive_json() == {"echo": "ping", "from": maya.open_id}
    async with client.websocket("/ws") as anonymous:
        with pytest.raises(WebsocketDisconnectError) as refused:
            await anonymous.receive()
    assert refused.value.args[0] == 1008


def test_starlette_example_protects_app_by_prefix(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    module = importlib.import_module("examples.starlette_app")
    app = module.create_app(tiktok_settings, transport=tiktok_emulator.transport())
    html = {"accept": "text/html"}
    with TestClient(app, base_url=BASE_URL) as client:
        for path in ("/app", "/app/settings"):
            response = client.get(path, headers=html, follow_redirects=False)
            assert response.status_code == 302
            assert response.headers["location"].startswith("/auth/tiktok/login?next=%2Fapp")
        assert client.get("/application").status_code == 404  # not under /app
        me = client.get("/me", headers=html, follow_redirects=False)  # @login_required
        assert me.headers["location"] == "/auth/tiktok/login?next=%2Fme"
        assert '/auth/tiktok/login?next=%2Fapp">Sign in' in client.get("/").text
        person = tiktok_emulator.user("jonasbuilds")
        sign_in(client, tiktok_settings, tiktok_emulator, user=person)
        assert client.get("/app/settings").json() == {"dashboard_for": person.open_id}
        me = client.get("/me").json()
        assert me["scopes"] == ["authenticated", *tiktok_settings.scopes]


SERVERS = {
    "fastapi_app": ["uvicorn", "examples.fastapi_app:app", "--host", "127.0.0.1", "--port"],
    "starlette_app": ["uvicorn", "examples.starlette_app:app", "--host", "127.0.0.1", "--port"],
    "quart_app": ["hypercorn", "examples.quart_app:app", "--bind"],
    "litestar_app": ["uvicorn", "examples.litestar_app:app", "--host", "127.0.0.1", "--port"],
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_with_one_command(name: str, tmp_path: Path) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}" if name == "quart_app" else str(port)
    with (
        served([*SERVERS[name], address], port, tmp_path / f"{name}.log") as origin,
        httpx2.Client(timeout=10) as browser,
    ):
        assert (
            browser.get(f"{origin}/me", headers={"accept": "application/json"}).status_code == 401
        )
        callback = browser_sign_in(browser, origin, user_index=2, untick=["user.info.stats"])
        assert callback.status_code == 302, callback.text
        assert callback.headers["location"] == "/me"
        me = browser.get(f"{origin}/me").json()
        assert me["display_name"] == "Amara Okafor"
        assert me["app_user_id"] == 1
        assert "user.info.stats" not in me["scopes"]
        assert browser.get(f"{origin}/stats").status_code == 403

        browser_sign_in(browser, origin, user_index=2)
        assert browser.get(f"{origin}/me").json()["app_user_id"] == 1
        assert browser.get(f"{origin}/stats").json()["followers"] == 642090

        out = browser.post(f"{origin}/auth/tiktok/logout")
        assert out.status_code == 303
        assert browser.get(f"{origin}/me").status_code == 401


def test_examples_escape_what_they_render_and_send_a_content_security_policy(
    example: ModuleType, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    from tiktok_asgi.emulator import EmulatorUser

    hostile = EmulatorUser(username="xss.person", display_name="<script>alert(1)</script>")
    tiktok_emulator.add_user(hostile)
    app = example.create_app(tiktok_settings, transport=tiktok_emulator.transport())
    with TestClient(app, base_url=BASE_URL) as client:
        assert "default-src 'none'" in client.get("/").headers["content-security-policy"]
        sign_in(client, tiktok_settings, tiktok_emulator, user=hostile, scopes=BASIC)
        page = client.get("/")
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_examples_start_the_emulator_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.accounts import configure

    for name in ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET", "TIKTOK_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("EXAMPLE_EMULATOR", raising=False)
    monkeypatch.delenv("TIKTOK_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="TIKTOK_"):
        configure()  # no silent fallback to the emulator and its public key
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "ck")
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", "cs")
    monkeypatch.setenv("TIKTOK_REDIRECT_URI", "https://app.example.com/auth/tiktok/callback")
    with pytest.raises(ValueError, match="TIKTOK_SECRET_KEY"):
        configure()  # one variable missing: an error naming it
    monkeypatch.setenv("EXAMPLE_EMULATOR", "1")
    settings, emulator = configure()
    assert emulator is not None
    assert settings.redirect_uri.startswith("http://127.0.0.1:")
