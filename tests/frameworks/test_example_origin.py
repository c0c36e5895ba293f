"""The examples derive their origin from how they are served: ``--port`` works."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx2
import pytest

from tests.frameworks.helpers import ROOT, browser_sign_in
from tests.support.processes import free_port, listening, running, without_tiktok_settings


@pytest.mark.parametrize("name", ["starlette_app", "fastapi_app", "quart_app"])
def test_an_example_on_another_port_signs_in_there(name: str, tmp_path: Path) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = without_tiktok_settings(EXAMPLE_EMULATOR="1")
    env.pop("EXAMPLE_ORIGIN", None)
    with (
        running(
            [sys.executable, "-m", f"examples.{name}", "--port", str(port)],
            cwd=ROOT,
            env=env,
            log=tmp_path / "example.log",
            ready=listening(port),
            timeout=20,
        ),
        httpx2.Client(timeout=10) as browser,
    ):
        callback = browser_sign_in(browser, origin, user_index=0)
        assert callback.status_code == 302, callback.text
        assert browser.get(f"{origin}/me").json()["display_name"] == "Maya Chen"
    assert f"Open {origin}/" in (tmp_path / "example.log").read_text(encoding="utf-8")
