"""The emulator served over real HTTP on 127.0.0.1: as a subprocess and in-loop under uvicorn."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import pytest
import uvicorn
from httpx2 import AsyncClient, TransportError
from tests.emulator.helpers import (
    B64_CHALLENGE,
    HEX_CHALLENGE,
    VERIFIER,
    authorize_url,
    callback_params,
)
from tests.support.processes import free_port, listening, running, stop_process

from tiktok_asgi.emulator import EmulatorRejected, Fault, TikTokEmulator
from tiktok_asgi.emulator.__main__ import build_emulator, main, parse

CALLBACK = "http://127.0.0.1:8123/auth/tiktok/callback"


class Standalone(NamedTuple):
    """``python -m tiktok_asgi.emulator`` serving ``url``; its output and errors go to ``log``."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Standalone]:
    port = free_port()
    command = [
        sys.executable, "-m", "tiktok_asgi.emulator", "--host", "127.0.0.1", "--port", str(port),
        "--client-key", "local-key", "--client-secret", "local-secret",
        "--redirect-uri", CALLBACK, "--scopes", "user.info.basic,user.info.profile",
        "--no-rate-limit", "--log-level", "warning",
    ]  # fmt: skip
    log = tmp_path / "emulator.log"
    with running(command, log=log, ready=listening(port), timeout=20) as process:
        yield Standalone(f"http://127.0.0.1:{port}", process, log)


async def test_round_trip_over_http(server: Standalone) -> None:
    base = server.url
    query = {
        "client_key": "local-key",
        "scope": "user.info.basic,user.info.profile",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "state": "s1",
        "code_challenge": B64_CHALLENGE,
        "code_challenge_method": "S256",
    }
    async with AsyncClient(base_url=base, trust_env=False, timeout=10) as client:
        page = await client.get("/v2/auth/authorize/", params=query)
        assert page.status_code == 200
        assert "Authorize</button>" in page.text
        form = urlencode([*query.items(), ("user", "mayacooks"), ("action", "authorize")])
        consent = await client.post(
            "/v2/auth/authorize/",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert consent.status_code == 302
        params = callback_params(consent.headers["location"])
        assert params["scopes"] == "user.info.basic"
        token = await client.post(
            "/v2/oauth/token/",
            data={
                "client_key": "local-key",
                "client_secret": "local-secret",
                "code": params["code"],
                "grant_type": "authorization_code",
                "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER,
            },
        )
        access = token.json()["access_token"]
        info = await client.get(
            "/v2/user/info/",
            params={"fields": "open_id,display_name,avatar_url"},
            headers={"Authorization": f"Bearer {access}"},
        )
        user = info.json()["data"]["user"]
        assert user["display_name"] == "Maya Chen"
        assert user["avatar_url"].startswith(f"{base}/avatars/")
        assert (await client.get(user["avatar_url"])).status_code == 200


def test_startup_banner_names_url_and_credentials(server: Standalone) -> None:
    base = server.url
    stop_process(server.process)
    out = server.log.read_text(encoding="utf-8")
    assert f"TikTok emulator at {base}" in out
    assert "local-key" in out
    assert "local-secret" in out
    assert CALLBACK in out
    assert f"export TIKTOK_REDIRECT_URI={CALLBACK}\n" in out
    assert f"export TIKTOK_API_BASE_URL={base}\n" in out


@pytest.fixture
async def served() -> AsyncIterator[tuple[TikTokEmulator, str]]:
    emu = TikTokEmulator()
    port = free_port()
    config = uvicorn.Config(emu, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield emu, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_connection_refused_drops_the_connection_over_http(
    served: tuple[TikTokEmulator, str],
) -> None:
    emu, base = served
    emu.inject("token", Fault.connection_refused())
    async with AsyncClient(base_url=base, trust_env=False, timeout=5) as client:
        with pytest.raises(TransportError):
            await client.post("/v2/oauth/token/", data={"code": "x"})
        after = await client.post("/v2/oauth/token/", data={"code": "x"})
    assert after.json()["error"] == "invalid_client"


def test_missing_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(SystemExit) as exited:
        main(["--port", "1"])
    assert 'pip install ".[demo]" from a checkout of tiktok-asgi' in str(exited.value.code)


def test_invalid_configuration_exits_with_the_reason() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--redirect-uri", "http://example.com/cb"])
    assert "https" in str(exited.value.code)


def test_startup_banner_shows_the_rate_limit_is_off(server: Standalone) -> None:
    stop_process(server.process)
    out = server.log.read_text(encoding="utf-8")
    assert "rate limit:    off" in out
    assert "app_type:      web" in out
    assert "pkce:          base64url or hex challenges" in out


def test_defaults_are_todays_web_app() -> None:
    emu = build_emulator(parse([]))
    assert emu.app_type == "web"
    assert emu.products == ("login_kit", "display_api")
    assert emu.approved_scopes == (
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.list",
    )
    assert not emu.sandbox
    assert not emu.strict_pkce
    config = emu._core.config
    assert (config.access_token_ttl, config.refresh_token_ttl) == (7200, 15_552_000)
    assert config.rate_limit == 600


def test_cli_flags_take_effect() -> None:
    emu = build_emulator(
        parse(
            [
                "--app-type", "desktop",
                "--redirect-uri", "http://127.0.0.1:*/auth/tiktok/callback",
                "--sandbox", "--target-user", "mayacooks", "--target-user", "@leo.skates",
                "--no-display-api",
                "--access-token-ttl", "60", "--refresh-token-ttl", "600",
                "--no-rate-limit", "--request-log-size", "50",
            ]
        )
    )  # fmt: skip
    assert emu.app_type == "desktop"
    assert emu.settings("http://127.0.0.1:5555/auth/tiktok/callback").pkce == "hex"
    assert emu.sandbox
    assert emu.target_users == ("mayacooks", "leo.skates")
    assert emu.products == ("login_kit",)
    assert emu.approved_scopes == ("user.info.basic",)
    config = emu._core.config
    assert (config.access_token_ttl, config.refresh_token_ttl) == (60, 600)
    assert config.rate_limit is None
    assert emu._core.state.request_log_size == 50
    url = authorize_url(
        emu,
        scope="user.info.basic",
        redirect_uri="http://127.0.0.1:5555/auth/tiktok/callback",
        code_challenge=HEX_CHALLENGE,
    )
    assert "code=" in emu.approve(url, user="leo.skates")
    with pytest.raises(EmulatorRejected, match="non_sandbox_target"):
        emu.approve(url, user="amara_dances")


def test_products_and_rate_limit_flags() -> None:
    emu = build_emulator(parse(["--products", "login_kit", "--rate-limit", "5"]))
    assert emu.products == ("login_kit",)
    assert emu._core.config.rate_limit == 5
    with pytest.raises(SystemExit):
        parse(["--rate-limit", "5", "--no-rate-limit"])
    with pytest.raises(ValueError, match="contradicts"):
        build_emulator(parse(["--products", "login_kit,display_api", "--no-display-api"]))


def test_inconsistent_sandbox_flags_exit_with_the_reason() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--target-user", "mayacooks"])
    assert "sandbox" in str(exited.value.code)


@pytest.mark.parametrize(
    ("argv", "accepted"),
    [
        (["--strict-pkce"], "base64url challenges"),
        (["--app-type", "desktop"], "hex challenges"),
    ],
)
def test_strict_pkce_flag_and_what_the_banner_says(
    argv: list[str],
    accepted: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build_emulator(parse(argv)).strict_pkce is ("--strict-pkce" in argv)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: None)
    main(argv)
    assert f"pkce:          {accepted}\n" in capsys.readouterr().out
