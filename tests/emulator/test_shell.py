"""The emulator from the shell: ready-to-paste ``export TIKTOK_…`` lines, and a refusal of an
unregistered redirect_uri that says how to register one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.emulator.helpers import Api, authorize_url

from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator.__main__ import build_emulator, export_lines, parse

BASE = "http://127.0.0.1:8790"


def _exported(lines: list[str]) -> dict[str, str]:
    """What a real shell holds after pasting ``lines``."""
    bash = shutil.which("bash")
    assert bash is not None
    script = "\n".join([*lines, 'env -0 | grep -z "^TIKTOK_" || true'])
    out = subprocess.run(  # noqa: S603 - a fixed script of our own export lines
        [bash, "-c", script],
        capture_output=True,
        check=True,
        timeout=20,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if item)


@pytest.mark.parametrize(
    ("argv", "pkce"),
    [
        ([], "base64url"),
        (["--app-type", "desktop", "--redirect-uri", "http://127.0.0.1:*/oauth/done"], "hex"),
        (["--redirect-uri", "https://app.example.com/oauth/done"], "base64url"),
    ],
    ids=["web", "desktop-wildcard-port", "own-callback-path"],
)
def test_pasted_exports_configure_from_env_for_this_emulator(argv: list[str], pkce: str) -> None:
    emu = build_emulator(parse(argv))
    lines = export_lines(emu, BASE)
    assert all(line.startswith("export TIKTOK_") for line in lines)
    environ = _exported(lines)
    settings = TikTokSettings.from_env(environ=environ)
    assert (settings.client_key, settings.client_secret) == (emu.client_key, emu.client_secret)
    assert settings.pkce == pkce
    assert settings.api_base_url == BASE
    assert settings.token_url == f"{BASE}/v2/oauth/token/"
    assert settings.authorize_url == f"{BASE}/v2/auth/authorize/"
    emu.approve(authorize_url(emu, redirect_uri=settings.redirect_uri))  # registered
    assert set(settings.scopes) == set(emu.approved_scopes)
    assert len(settings.secret_keys[0]) >= 32


async def test_unregistered_redirect_page_says_how_to_register(api: Api) -> None:
    page = await api.client.get(
        authorize_url(api.emu, redirect_uri="http://127.0.0.1:9000/auth/tiktok/callback")
    )
    assert page.status_code == 400
    text = page.text
    assert "is not registered for this app" in text
    assert "--redirect-uri URI" in text
    assert "--app-type desktop" in text
    assert "any port" in text
    assert "http://127.0.0.1:8000/auth/tiktok/callback" in text  # what is registered now
