"""Litestar rewrites ``scope["path"]`` before its middleware runs (below the root path, and
below a mount): the middleware still decides on the whole path Litestar routed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, MediaType, asgi, get
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from tests.matrix.contract import SECRET
from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.litestar import TikTokPlugin

API = {"accept": "application/json"}


@asgi("/admin/files", is_mount=True, copy_scope=True)
async def files(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": SECRET.encode()})


@get("/api/report", media_type=MediaType.TEXT)
async def report() -> str:
    return SECRET


def _app(settings: TikTokSettings, emulator: TikTokEmulator, *protected: str) -> Litestar:
    plugin = TikTokPlugin(
        settings=settings.replace(protected_paths=protected), transport=emulator.transport()
    )
    return Litestar([files, report], plugins=[plugin])


@pytest.mark.parametrize("path", ["/admin/files/a.txt", "/admin/files", "/admin//files/a.txt/"])
def test_a_mounted_app_below_a_protected_path_is_protected(
    path: str, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = TestClient(_app(tiktok_settings, tiktok_emulator, "/admin"))
    answer = client.get(path, headers=API)
    assert (answer.status_code, answer.json()["error"]) == (401, "login_required")


def test_a_route_repeating_the_root_path_is_matched_once(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = _app(tiktok_settings, tiktok_emulator, "/api")

    async def under_api(scope: Scope, receive: Receive, send: Send) -> None:
        # As uvicorn --root-path /api passes a request for /api/report on.
        scope = {**scope, "path": "/api" + scope["path"], "root_path": "/api"}
        await app(scope, receive, send)  # type: ignore[arg-type]

    answer = TestClient(under_api).get("/api/report", headers=API)
    assert answer.status_code == 401, answer.text
