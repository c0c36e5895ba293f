"""QR-code sign-in under Litestar, which runs middleware only for the routes it matched: the plugin
routes ``qr_path`` and ``qr_path/<id>`` to the middleware, which signs the browser in."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from starlette.testclient import TestClient

from tests.conftest import BASE_URL
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.litestar import TikTokPlugin

JSON = {"accept": "application/json"}


@get("/who")
async def who(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"authenticated": request.user.is_authenticated}


@get("/links")
async def links(request: Request[Any, Any, Any]) -> list[str]:
    return [request.url_for("tiktok_qr")]


def litestar_client(emulator: TikTokEmulator, settings: TikTokSettings, *routes: Any) -> TestClient:
    plugin = TikTokPlugin(settings=settings, transport=emulator.transport())
    return TestClient(Litestar([who, links, *routes], plugins=[plugin]), base_url=BASE_URL)


def test_a_tv_signs_in_under_litestar(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = litestar_client(tiktok_emulator, tiktok_settings)
    assert client.get("/auth/tiktok/qr").headers["content-type"].startswith("text/html")
    code = client.post("/auth/tiktok/qr", headers=JSON).json()
    status = f"/auth/tiktok/qr/{code['qr_id']}"
    assert client.get(status, headers=JSON).json() == {"status": "new"}
    tiktok_emulator.confirm_qr(code["scan_url"], user="jonasbuilds")
    assert client.get(status, headers=JSON).json() == {"status": "confirmed"}
    assert client.get("/who").json() == {"authenticated": True}
    assert client.get("/links").json() == [f"{BASE_URL}/auth/tiktok/qr"]
    assert client.get("/auth/tiktok/qr/not-a-code", headers=JSON).status_code == 404
    # Litestar routes a trailing slash as the path without it: the page.
    assert client.get("/auth/tiktok/qr/").headers["content-type"].startswith("text/html")


def test_without_qr_path_litestar_has_no_such_routes(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = litestar_client(tiktok_emulator, tiktok_settings.replace(qr_path=None))
    assert client.get("/auth/tiktok/qr").status_code == 404
    assert client.post("/auth/tiktok/qr", headers=JSON).status_code in (404, 405)
