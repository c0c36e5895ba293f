"""Injected faults: every kind, on the flat-error and the envelope endpoints, and their counting."""

from __future__ import annotations

import json
import re
import time

import pytest
from httpx2 import AsyncClient, ConnectError, ReadTimeout
from tests.emulator.helpers import AUTHORIZE, TOKEN, USERINFO, Api, authorize_url

from tiktok_asgi.emulator import Fault, TikTokEmulator

LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")


async def test_latency_delays_then_answers_normally(api: Api) -> None:
    token = await api.login()
    api.emu.inject("userinfo", Fault.latency(0.2))
    started = time.monotonic()
    response = await api.userinfo(token["access_token"])
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    assert api.emu.requests[-1].fault == "latency"


async def test_status_with_default_gateway_page(api: Api) -> None:
    api.emu.inject("token", Fault.status(502))
    response = await api.token(code=api.code())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ({"message": "busy"}, "application/json", '{"message": "busy"}'),
        ("<h1>down</h1>", "text/html; charset=utf-8", "<h1>down</h1>"),
        ("plain words", "text/plain; charset=utf-8", "plain words"),
    ],
)
async def test_status_with_given_body(
    api: Api, body: object, content_type: str, expected: str
) -> None:
    api.emu.inject("userinfo", Fault.status(503, body))  # type: ignore[arg-type]
    response = await api.userinfo("act.whatever")
    assert response.status_code == 503
    assert response.headers["content-type"] == content_type
    assert response.text == expected


async def test_timeout_makes_the_clients_timeout_fire(emu: TikTokEmulator) -> None:
    emu.inject("token", Fault.timeout(seconds=30))
    async with AsyncClient(transport=emu.transport(), timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await Api(emu, client).token(code=emu.approve(authorize_url(emu)))
        assert time.monotonic() - started < 5
        # The next request is answered again.
        response = await Api(emu, client).token(code="unknown")
        assert response.json()["error"] == "invalid_grant"


async def test_timeout_without_client_timeout_ends_in_504(emu: TikTokEmulator) -> None:
    emu.inject("userinfo", Fault.timeout(seconds=0.05))
    async with AsyncClient(transport=emu.transport(), timeout=None) as client:
        response = await client.get(USERINFO, params={"fields": "open_id"})
    assert response.status_code == 504


async def test_malformed_json(api: Api) -> None:
    api.emu.inject("token", Fault.malformed_json())
    response = await api.token(code=api.code())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_html_error_page(api: Api) -> None:
    api.emu.inject("userinfo", Fault.html_error_page(status=500))
    response = await api.userinfo("act.x")
    assert response.status_code == 500
    assert "<html>" in response.text


async def test_empty_body(api: Api) -> None:
    api.emu.inject("revoke", Fault.empty_body())
    response = await api.client.post(
        "https://open.tiktokapis.com/v2/oauth/revoke/", data={"token": "x"}
    )
    assert response.status_code == 200
    assert response.content == b""


async def test_error_body_is_flat_on_token_with_http_200(api: Api) -> None:
    api.emu.inject("token", Fault.error_body("server_error"))
    response = await api.token(code=api.code())
    body = response.json()
    assert response.status_code == 200
    assert body["error"] == "server_error"
    assert LOG_ID.match(body["log_id"])
    assert "access_token" not in body


async def test_error_body_is_an_envelope_on_userinfo(api: Api) -> None:
    token = await api.login()
    api.emu.inject("userinfo", Fault.error_body())
    response = await api.userinfo(token["access_token"])
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {}
    assert body["error"]["code"] == "internal_error"
    assert LOG_ID.match(body["error"]["log_id"])


async def test_error_body_on_authorize_is_an_error_page(api: Api) -> None:
    api.emu.inject("authorize", Fault.error_body("server_error", status=500))
    response = await api.client.get(authorize_url(api.emu))
    assert response.status_code == 500
    assert "server_error" in response.text
    # approve() is the person's click, not an HTTP request: faults never apply to it.
    assert "code=" in api.emu.approve(authorize_url(api.emu))


@pytest.mark.parametrize("endpoint", ["token", "userinfo"])
async def test_rate_limited(api: Api, endpoint: str) -> None:
    token = await api.login()
    api.emu.inject(endpoint, Fault.rate_limited(retry_after=7))
    if endpoint == "token":
        response = await api.refresh(token["refresh_token"])
        assert response.json()["error"] == "rate_limit_exceeded"
    else:
        response = await api.userinfo(token["access_token"])
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


async def test_connection_refused_raises_connect_error_and_is_recorded(api: Api) -> None:
    api.emu.inject("token", Fault.connection_refused())
    with pytest.raises(ConnectError):
        await api.token(code="whatever")
    recorded = api.emu.requests[-1]
    assert recorded.endpoint == "token"
    assert recorded.fault == "connection_refused"
    assert recorded.form["code"] == ["whatever"]
    assert (await api.token(code="whatever")).json()["error"] == "invalid_grant"


async def test_other_hosts_are_unreachable(api: Api) -> None:
    with pytest.raises(ConnectError):
        await api.client.get("https://example.com/")


async def test_times_counts_down_and_faults_queue_in_order(api: Api) -> None:
    api.emu.inject("token", Fault.status(500), times=2)
    api.emu.inject("token", Fault.status(503))
    statuses = [(await api.token(code="x")).status_code for _ in range(4)]
    assert statuses == [500, 500, 503, 200]
    assert [r.fault for r in api.emu.requests] == ["status", "status", "status", None]


async def test_times_none_lasts_until_cleared(api: Api) -> None:
    api.emu.inject("token", Fault.status(500), times=None)
    assert [(await api.token(code="x")).status_code for _ in range(5)] == [500] * 5
    api.emu.clear_faults()
    assert (await api.token(code="x")).status_code == 200


async def test_faults_apply_to_their_endpoint_only(api: Api) -> None:
    api.emu.inject("revoke", Fault.status(500))
    assert (await api.token(code="x")).status_code == 200
    assert (await api.client.get(AUTHORIZE)).status_code == 400


def test_fault_arguments_are_checked(emu: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        emu.inject("tokens", Fault.status(500))
    with pytest.raises(ValueError, match="times"):
        emu.inject("token", Fault.status(500), times=0)
    with pytest.raises(ValueError, match="status"):
        Fault.status(99)
    with pytest.raises(ValueError, match="negative"):
        Fault.latency(-1)


async def test_token_url_constant_is_what_the_client_hits(api: Api) -> None:
    await api.token(code="x")
    recorded = api.emu.requests[-1]
    assert f"https://{recorded.headers['host']}{recorded.path}" == TOKEN
    assert recorded.method == "POST"
    assert recorded.form["grant_type"] == ["authorization_code"]
