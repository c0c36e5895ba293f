"""The request context: one key of the scope, one accessor, and what downstream code reads."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, sign_in
from tests.core.helpers import cookie_named
from tests.support.calls import get_access_token
from tiktok_asgi import (
    LoginRequired,
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokContext,
    TikTokSettings,
    TikTokUser,
    tiktok_context,
)
from tiktok_asgi.emulator import TikTokEmulator

seen: list[dict[str, Any]] = []


async def _inspect(request: Request) -> JSONResponse:
    context = tiktok_context(request)
    assert tiktok_context(request.scope) is context  # a scope works as well as a request
    seen.append(dict(request.scope))
    try:
        token: str | None = await get_access_token(request)
    except LoginRequired as exc:
        token = exc.code
    except RuntimeError as exc:
        token = str(exc)
    return JSONResponse(
        {
            "user": context.user.open_id if context.user else None,
            "login_path": context.settings.login_path,
            "token": token,
        }
    )


def _app(settings: TikTokSettings, emulator: TikTokEmulator, **kwargs: Any) -> TestClient:
    inner = Starlette(routes=[Route("/inspect", _inspect)])
    app = TikTokAuthMiddleware(inner, settings=settings, transport=emulator.transport(), **kwargs)
    return TestClient(app, base_url=BASE_URL)


@pytest.fixture(autouse=True)
def _forget_seen() -> None:
    seen.clear()


def test_anonymous_requests_share_one_context(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _app(tiktok_settings, tiktok_emulator)
    first = client.get("/inspect").json()
    client.get("/inspect")
    assert first == {"user": None, "login_path": "/auth/tiktok/login", "token": "login_required"}
    assert seen[0]["tiktok_asgi"] is seen[1]["tiktok_asgi"]
    assert isinstance(seen[0]["tiktok_asgi"], TikTokContext)


def test_the_library_keeps_one_key_in_the_scope(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _app(tiktok_settings, tiktok_emulator, token_store=MemoryTokenStore())
    client.get("/inspect")
    sign_in(client, tiktok_settings, tiktok_emulator)
    client.get("/inspect")
    for scope in seen:
        assert [k for k in scope if k.startswith("tiktok")] == ["tiktok_asgi"]


def test_signed_in_context_names_the_user_and_gives_the_token(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _app(tiktok_settings, tiktok_emulator, token_store=MemoryTokenStore())
    person = tiktok_emulator.users[1]
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    body = client.get("/inspect").json()
    assert body["user"] == person.open_id
    assert body["token"].startswith("act.")
    assert seen[0]["user"] is seen[0]["tiktok_asgi"].user


def test_without_a_token_store_the_context_says_how_to_keep_tokens(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _app(tiktok_settings, tiktok_emulator)
    sign_in(client, tiktok_settings, tiktok_emulator)
    assert "pass token_store=" in client.get("/inspect").json()["token"]


def test_a_user_load_user_refuses_is_signed_out_through_the_context(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async def refuse(user: TikTokUser) -> None:
        return None

    client = _app(tiktok_settings, tiktok_emulator, load_user=refuse)
    sign_in(client, tiktok_settings, tiktok_emulator)
    response = client.get("/inspect")
    assert response.json()["user"] is None
    context = seen[0]["tiktok_asgi"]
    assert context.signed_out is True
    _, value, _ = cookie_named(response, f"{tiktok_settings.cookie_name}=")
    assert value == ""


def test_without_the_middleware_the_accessor_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"app\.add_middleware\(TikTokAuthMiddleware"):
        tiktok_context({"type": "http", "path": "/"})
