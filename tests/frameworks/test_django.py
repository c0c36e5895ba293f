"""tiktok_asgi.django with real Django over ASGI: ``@login_required`` sends anonymous people to the
TikTok login path and lets a signed-in TikTok user in as ``request.user``; the example runs
through uvicorn; a wrong set-up fails with a message naming the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, sign_in
from tests.frameworks.helpers import browser_sign_in, served
from tests.support.processes import free_port
from tiktok_asgi import TikTokSettings
from tiktok_asgi._tiktok.http import httpx2
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

from django.core.exceptions import ImproperlyConfigured  # needs the settings module
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

os.environ["EXAMPLE_EMULATOR"] = "1"  # the example module builds its app at import, as its command
try:
    from examples.django_app.asgi import create_app
finally:
    del os.environ["EXAMPLE_EMULATOR"]

from tiktok_asgi.django import TikTokUserMiddleware


@pytest.fixture
def client(tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings) -> TestClient:
    # No "with": Django's ASGI handler speaks HTTP only, not the lifespan protocol.
    app = create_app(tiktok_settings, transport=tiktok_emulator.transport())
    return TestClient(app, base_url=BASE_URL)


@pytest.mark.parametrize("path", ["/me", "/me-sync"])
def test_login_required_sends_anonymous_people_to_the_tiktok_login(
    client: TestClient, tiktok_settings: TikTokSettings, path: str
) -> None:
    refused = client.get(path, follow_redirects=False)
    assert refused.status_code == 302
    assert refused.headers["location"] == f"{tiktok_settings.login_path}?next={path}"
    assert client.get("/who").json() == {"type": "AnonymousUser", "authenticated": False}


def test_signed_in_tiktok_user_is_request_user(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    maya = tiktok_emulator.user("mayacooks")
    # Follow Django's redirect to the login page, as a browser would, and come back.
    login = client.get("/me", follow_redirects=False).headers["location"]
    assert login == f"{tiktok_settings.login_path}?next=/me"
    assert sign_in(client, tiktok_settings, tiktok_emulator, user=maya, next="/me") == "/me"
    assert client.get("/me").json() == {
        "open_id": maya.open_id,
        "display_name": maya.display_name,
        "app_user_id": 1,
        "type": "TikTokUser",
    }
    assert client.get("/me-sync").json() == {"open_id": maya.open_id, "type": "TikTokUser"}
    assert client.get("/who").json() == {"type": "TikTokUser", "authenticated": True}
    assert "Hello Maya Chen" in client.get("/").text

    assert client.post(tiktok_settings.logout_path, follow_redirects=False).status_code == 303
    assert client.get("/me", follow_redirects=False).status_code == 302


def test_display_name_is_escaped_in_the_page(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    person = EmulatorUser(username="bold.one", display_name="<b>Bold</b>")
    tiktok_emulator.add_user(person)
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    page = client.get("/").text
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page
    assert "<b>Bold</b>" not in page


def test_middleware_listed_before_authentication_fails_at_start_up() -> None:
    wrong = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "tiktok_asgi.django.TikTokUserMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    with (
        override_settings(MIDDLEWARE=wrong),
        pytest.raises(ImproperlyConfigured, match="after 'django\\.contrib"),
    ):
        ASGIHandler()


def test_request_without_the_asgi_middleware_names_the_fix() -> None:
    middleware = TikTokUserMiddleware(lambda request: HttpResponse("ok"))
    with pytest.raises(ImproperlyConfigured, match="TikTokAuthMiddleware"):
        middleware(HttpRequest())


def test_django_example_runs_with_one_command(tmp_path: Path) -> None:
    port = free_port()
    command = ["uvicorn", "examples.django_app.asgi:app", "--host", "127.0.0.1", "--port"]
    with (
        served([*command, str(port)], port, tmp_path / "django.log") as origin,
        httpx2.Client(timeout=10) as browser,
    ):
        refused = browser.get(f"{origin}/me")
        assert refused.status_code == 302
        assert refused.headers["location"] == "/auth/tiktok/login?next=/me"
        callback = browser_sign_in(browser, origin, user_index=2)
        assert callback.status_code == 302, callback.text
        assert callback.headers["location"] == "/me"
        me = browser.get(f"{origin}/me").json()
        assert (me["display_name"], me["app_user_id"], me["type"]) == (
            "Amara Okafor",
            1,
            "TikTokUser",
        )
