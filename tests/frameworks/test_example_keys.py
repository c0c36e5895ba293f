"""The examples never sign cookies with the emulator's published key: served on every interface
(``--host 0.0.0.0``) their redirect URI is still loopback, and anyone who reached the server
could have forged a sign-in with that key."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx2
import pytest

from tests.core.helpers import IdentityCodec
from tests.frameworks.helpers import ROOT, browser_sign_in
from tests.support.processes import free_port, listening, running, without_tiktok_settings
from tiktok_asgi.emulator import TEST_SECRET_KEY, TikTokEmulator


@pytest.fixture
def no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_EMULATOR", "1")
    monkeypatch.delenv("TIKTOK_SECRET_KEY", raising=False)
    monkeypatch.delenv("EXAMPLE_ORIGIN", raising=False)


def test_without_a_secret_each_run_has_its_own_random_key(no_secret: None) -> None:
    from examples.accounts import configure

    first, _ = configure()
    second, _ = configure()
    assert TEST_SECRET_KEY not in first.secret_keys
    assert first.secret_keys != second.secret_keys
    assert first.redirect_uri == "http://127.0.0.1:8000/auth/tiktok/callback"


def test_the_public_key_given_as_the_secret_is_refused(
    no_secret: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.accounts import configure

    monkeypatch.setenv("TIKTOK_SECRET_KEY", TEST_SECRET_KEY)
    with pytest.raises(ValueError, match="TEST_SECRET_KEY"):
        configure()
    # Against TikTok (or a standalone emulator) on a loopback redirect URI too.
    monkeypatch.delenv("EXAMPLE_EMULATOR")
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "ck")
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", "cs")
    monkeypatch.setenv("TIKTOK_REDIRECT_URI", "http://127.0.0.1:8000/auth/tiktok/callback")
    with pytest.raises(ValueError, match="TEST_SECRET_KEY"):
        configure()


@pytest.mark.parametrize(
    "command",
    [
        ["uvicorn", "examples.starlette_app:app"],
        ["uvicorn", "examples.django_app.asgi:app"],
    ],
    ids=["starlette", "django"],
)
def test_served_on_every_interface_a_cookie_forged_with_the_public_key_is_nobody(
    command: list[str], tmp_path: Path
) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    forged = IdentityCodec([TEST_SECRET_KEY], client_key=TikTokEmulator().client_key).dumps(
        {
            "open_id": "forged-open-id",
            "display_name": "Forged",
            "granted_scopes": ["user.info.basic"],
        }
    )
    env = without_tiktok_settings(EXAMPLE_EMULATOR="1", EXAMPLE_ORIGIN=origin)
    with (
        running(
            [sys.executable, "-m", *command, "--host", "0.0.0.0", "--port", str(port)],
            cwd=ROOT,
            env=env,
            log=tmp_path / "example.log",
            ready=listening(port),
            timeout=20,
        ),
        httpx2.Client(timeout=10) as browser,
    ):
        refused = browser.get(
            f"{origin}/me", headers={"cookie": f"tiktok_session={forged}"}, follow_redirects=False
        )
        assert refused.status_code in (302, 401), refused.text
        # A real sign-in still works, as documented.
        callback = browser_sign_in(browser, origin, user_index=0)
        assert callback.status_code == 302, callback.text
        assert browser.get(f"{origin}/me").json()["display_name"] == "Maya Chen"
