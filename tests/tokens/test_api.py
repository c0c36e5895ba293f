"""tiktok_api: TikTok's v2 APIs as the signed-in user, through the emulator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from tests.support.signin import async_sign_in
from tests.tokens.conftest import (
    VIDEO_FIELDS,
    browser,
    cleared,
    read_record,
    signed_in,
    withdraw_at_tiktok,
)
from tiktok_asgi import MemoryTokenStore, TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi import api as api_module
from tiktok_asgi.api import TikTokRateLimited, tiktok_api
from tiktok_asgi.emulator import Fault, TikTokEmulator


async def _direct_video_list(emulator: TikTokEmulator, access_token: str) -> httpx2.Response:
    async with httpx2.AsyncClient(transport=emulator.transport()) as client:
        return await client.post(
            "https://open.tiktokapis.com/v2/video/list/",
            params={"fields": VIDEO_FIELDS},
            json={"max_count": 3},
            headers={"authorization": f"Bearer {access_token}"},
        )


@asynccontextmanager
async def _signed_in_to(
    routes: Sequence[BaseRoute],
    settings: TikTokSettings,
    emulator: TikTokEmulator,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser signed in to a Starlette app of ``routes`` behind the middleware (tokens kept in
    memory; TikTok reached through ``transport``, the emulator's own by default)."""
    app = TikTokAuthMiddleware(
        Starlette(routes=routes),
        settings=settings,
        transport=transport or emulator.transport(),
        token_store=MemoryTokenStore(),
    )
    async with browser(app) as client:
        await async_sign_in(client, settings, emulator)
        yield client


async def test_video_list_as_the_user(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        access = (await read_record(store, tiktok_settings, sid))["access_token"]
        response = await client.get("/videos")
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) == {"videos", "cursor", "has_more"}
    assert 1 <= len(data["videos"]) <= 3
    assert set(data["videos"][0]) == set(VIDEO_FIELDS.split(","))
    (call,) = [r for r in tiktok_emulator.requests if r.endpoint == "video_list"]
    assert call.method == "POST"
    assert call.path == "/v2/video/list/"
    assert call.query == {"fields": [VIDEO_FIELDS]}
    assert call.headers["authorization"] == f"Bearer {access}"
    assert call.headers["content-type"] == "application/json"
    # The same page TikTok gives anyone calling with this token.
    assert (await _direct_video_list(tiktok_emulator, access)).json()["data"] == data


async def test_the_api_base_follows_a_mounted_emulator(tiktok_emulator: TikTokEmulator) -> None:
    tiktok_settings = tiktok_emulator.settings(base_url="https://tiktok.test/tiktok")
    host = Starlette(routes=[Mount("/tiktok", app=tiktok_emulator)])
    async with _signed_in_to(
        [Route("/videos", _videos_or_error)],
        tiktok_settings,
        tiktok_emulator,
        httpx2.ASGITransport(app=host),
    ) as client:
        response = await client.get("/videos")
    assert response.status_code == 200, response.text
    assert response.json()["videos"]
    (call,) = [r for r in tiktok_emulator.requests if r.endpoint == "video_list"]
    assert call.path == "/tiktok/v2/video/list/"
    assert tiktok_settings.api_base_url == "https://tiktok.test/tiktok"
    assert TikTokSettings.__dataclass_fields__["api_base_url"].default == (
        "https://open.tiktokapis.com"
    )


async def _videos_or_error(request: Request) -> JSONResponse:
    api = tiktok_api(request)
    try:
        path = request.query_params.get("path", "/v2/video/list/")
        data = await api.post(path, params={"fields": "id"}, json={"max_count": 1})
    except ValueError as exc:
        return JSONResponse({"error": "bad_path", "detail": str(exc)}, status_code=400)
    return JSONResponse(data)


async def _videos_while_tiktok_answers(
    emulator: TikTokEmulator, settings: TikTokSettings, fault: Fault, times: int | None = 1
) -> tuple[httpx2.Response, float]:
    """A signed-in GET /videos while TikTok answers ``times`` video list calls with ``fault``;
    the response and the seconds it took."""
    async with signed_in(settings, emulator) as (client, _, _):
        emulator.inject("video_list", fault, times=times)
        started = time.monotonic()
        response = await client.get("/videos")
        elapsed = time.monotonic() - started
    return response, elapsed


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds ``tiktok_api`` waits before retrying a call, recorded instead of waited."""
    waited: list[float] = []

    async def wait(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(api_module, "_sleep", wait)
    return waited


async def test_a_429_is_retried_after_retry_after(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, waits: list[float]
) -> None:
    response, elapsed = await _videos_while_tiktok_answers(
        tiktok_emulator, tiktok_settings, Fault.rate_limited(retry_after=1)
    )
    assert response.status_code == 200, response.text
    assert response.json()["videos"]
    calls = [r for r in tiktok_emulator.requests if r.endpoint == "video_list"]
    assert [c.fault for c in calls] == ["rate_limited", None]
    assert waits == [1]  # TikTok's Retry-After
    assert elapsed < 4


async def test_a_persistent_429_is_a_typed_error_after_two_retries(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    response, _ = await _videos_while_tiktok_answers(
        tiktok_emulator, tiktok_settings, Fault.rate_limited(retry_after=0), times=None
    )
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "rate_limit_exceeded"
    assert body["log_id"]
    assert tiktok_emulator.count("video_list") == 3


async def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    response, elapsed = await _videos_while_tiktok_answers(
        tiktok_emulator, tiktok_settings, Fault.rate_limited(retry_after=60)
    )
    assert response.status_code == 429
    assert elapsed < 2
    assert tiktok_emulator.count("video_list") == 1


async def test_rate_limited_error_carries_retry_after(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    caught: list[TikTokRateLimited] = []

    async def route(request: Request) -> JSONResponse:
        try:
            await tiktok_api(request, max_retries=0).post(
                "/v2/video/list/", params={"fields": "id"}
            )
        except TikTokRateLimited as exc:
            caught.append(exc)
        return JSONResponse({})

    async with _signed_in_to([Route("/r", route)], tiktok_settings, tiktok_emulator) as client:
        tiktok_emulator.inject("video_list", Fault.rate_limited(retry_after=7))
        await client.get("/r")
    (error,) = caught
    assert error.retry_after == 7
    assert error.code == "rate_limit_exceeded"
    assert error.status_code == 429
    assert tiktok_emulator.count("video_list") == 1


async def test_an_error_envelope_is_a_typed_error_with_log_id(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    response, _ = await _videos_while_tiktok_answers(
        tiktok_emulator, tiktok_settings, Fault.error_body("internal_error", status=500)
    )
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "internal_error"
    assert isinstance(body["log_id"], str)
    assert body["log_id"]


async def test_a_scope_the_user_did_not_grant_is_403(tiktok_emulator: TikTokEmulator) -> None:
    tiktok_settings = tiktok_emulator.settings(scopes=("user.info.basic",))
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, _, _):
        response = await client.get("/videos")
    assert response.status_code == 403
    assert response.json()["error"] == "scope_not_authorized"
    assert response.json()["log_id"]


async def test_a_token_tiktok_calls_invalid_is_refreshed_once_and_retried(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        old = (await read_record(store, tiktok_settings, sid))["access_token"]
        tiktok_emulator.inject("video_list", Fault.error_body("access_token_invalid", status=401))
        response = await client.get("/videos")
        new = (await read_record(store, tiktok_settings, sid))["access_token"]
    assert response.status_code == 200, response.text
    assert tiktok_emulator.count("token", grant_type="refresh_token") == 1
    calls = [r for r in tiktok_emulator.requests if r.endpoint == "video_list"]
    assert [c.headers["authorization"] for c in calls] == [f"Bearer {old}", f"Bearer {new}"]


async def test_a_grant_withdrawn_at_tiktok_signs_the_user_out(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    async with signed_in(tiktok_settings, tiktok_emulator) as (client, store, sid):
        access = (await read_record(store, tiktok_settings, sid))["access_token"]
        await withdraw_at_tiktok(tiktok_emulator, tiktok_settings, access)
        response = await client.get("/videos")
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert cleared(response, tiktok_settings)
    assert len(store) == 0


async def test_tiktok_unreachable_is_503(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    response, _ = await _videos_while_tiktok_answers(
        tiktok_emulator, tiktok_settings, Fault.connection_refused()
    )
    assert response.status_code == 503
    assert response.json()["error"] == "tiktok_unavailable"


@pytest.mark.parametrize(
    "path", ["https://evil.test/v2/video/list/", "//evil.test/v2/", "v2/video/list/"]
)
async def test_only_paths_are_accepted_so_the_token_never_leaves_for_another_host(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings, path: str
) -> None:
    routes = [Route("/videos", _videos_or_error)]
    async with _signed_in_to(routes, tiktok_settings, tiktok_emulator) as client:
        response = await client.get("/videos", params={"path": path})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_path"
    assert tiktok_emulator.count("video_list") == 0
