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


@pytest.mark.parametrize(
    ("host", "client", "origin"),
    [
        ("127.0.0.1:9000", "127.0.0.1", "http://127.0.0.1:9000"),
        ("localhost:9000", "::1", "http://localhost:9000"),
        ("[::1]:9000", "::ffff:127.0.0.1", "http://[::1]:9000"),
        ("localhost:2222", "127.0.0.1", "http://localhost:2222"),  # a tunnel's own port
        # A Host chosen elsewhere, or naming another site: the port the server listens on.
        ("localhost:9000", "192.0.2.7", "http://127.0.0.1:9000"),
        ("evil.example", "127.0.0.1", "http://127.0.0.1:9000"),
        ("localhost:9000@evil.example", "127.0.0.1", "http://127.0.0.1:9000"),
    ],
)
def test_an_example_built_at_its_first_request_takes_only_a_loopback_origin(
    host: str, client: str, origin: str
) -> None:
    from examples.first_request import request_origin

    scope = {
        "type": "http",
        "headers": [(b"host", host.encode())],
        "client": (client, 50000),
        "server": ("0.0.0.0", 9000),
    }
    assert request_origin(scope) == origin
