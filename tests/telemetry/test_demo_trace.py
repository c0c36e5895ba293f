"""``python -m tiktok_asgi.demo --trace``: spans on the console, or a message naming the SDK."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.support.processes import answering, free_port, running, without_tiktok_settings
from tiktok_asgi.demo.__main__ import main
from tiktok_asgi.demo._trace import INSTALL_SDK


def test_trace_without_the_sdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvicorn")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(SystemExit) as stopped:
        main(["--trace"])
    assert stopped.value.code == INSTALL_SDK
    assert "pip install opentelemetry-sdk" in INSTALL_SDK


def test_trace_prints_the_spans_of_each_step(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "demo.log"
    command = [
        sys.executable, "-m", "tiktok_asgi.demo",
        "--port", str(port), "--log-level", "warning", "--trace",
    ]  # fmt: skip
    env = without_tiktok_settings(PYTHONUNBUFFERED="1")
    with running(command, env=env, log=log, ready=answering(url), timeout=30, name="the demo"):
        login = httpx2.get(f"{url}auth/tiktok/login", follow_redirects=False, timeout=10)
        assert login.status_code in (302, 303)
        deadline = time.monotonic() + 10
        while '"name": "tiktok_asgi.login"' not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert '"name": "tiktok_asgi.login"' in log.read_text()
