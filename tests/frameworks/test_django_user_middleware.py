"""Django inside TikTokAuthMiddleware without ``TikTokUserMiddleware`` in ``MIDDLEWARE``: sign-in
completes, and Django's ``@login_required`` sends the user back to the login page, round and
round. The first request Django serves logs one warning naming the fix."""

from __future__ import annotations

import logging
import os

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, sign_in
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

from django.conf import settings as django_settings  # needs the settings module
from django.core.asgi import get_asgi_application
from django.test import override_settings

from tiktok_asgi.django import TikTokUserMiddleware

EVENT = "django_user_middleware_missing"
THIS = "tiktok_asgi.django.TikTokUserMiddleware"
FIX = (
    "Django is served inside TikTokAuthMiddleware, but settings.MIDDLEWARE does not list "
    "'tiktok_asgi.django.TikTokUserMiddleware': request.user stays Django's, so Django's "
    "@login_required sends people signed in with TikTok back to the login page; add it to "
    "MIDDLEWARE after 'django.contrib.auth.middleware.AuthenticationMiddleware'"
)


class OwnUserMiddleware(TikTokUserMiddleware):
    """A project's own subclass, listed under its own name."""


def _served(
    middleware: list[str], emulator: TikTokEmulator, settings: TikTokSettings
) -> TestClient:
    with override_settings(MIDDLEWARE=middleware):
        app = TikTokAuthMiddleware(
            get_asgi_application(), settings=settings, transport=emulator.transport()
        )
    # No "with": Django's ASGI handler speaks HTTP only, not the lifespan protocol.
    return TestClient(app, base_url=BASE_URL)


def test_without_the_user_middleware_the_first_request_warns_once(
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    without = [m for m in django_settings.MIDDLEWARE if m != THIS]
    client = _served(without, tiktok_emulator, tiktok_settings)
    with override_settings(MIDDLEWARE=without), caplog.at_level(logging.WARNING, "tiktok_asgi"):
        sign_in(client, tiktok_settings, tiktok_emulator, user=tiktok_emulator.user("mayacooks"))
        for _ in range(3):  # the loop a browser would go round
            me = client.get("/me", follow_redirects=False)
            assert me.status_code == 302
            assert me.headers["location"] == f"{tiktok_settings.login_path}?next=/me"
    warned = [r for r in caplog.records if getattr(r, "event", None) == EVENT]
    assert [r.getMessage() for r in warned] == [FIX]
    assert warned[0].levelno == logging.WARNING


@pytest.mark.parametrize(
    "listed", [THIS, f"{__name__}.OwnUserMiddleware"], ids=["by-name", "a-subclass"]
)
def test_with_the_user_middleware_nothing_is_logged(
    listed: str,
    tiktok_emulator: TikTokEmulator,
    tiktok_settings: TikTokSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = [m for m in django_settings.MIDDLEWARE if m != THIS] + [listed]
    client = _served(middleware, tiktok_emulator, tiktok_settings)
    maya = tiktok_emulator.user("mayacooks")
    with override_settings(MIDDLEWARE=middleware), caplog.at_level(logging.DEBUG, "tiktok_asgi"):
        sign_in(client, tiktok_settings, tiktok_emulator, user=maya)
        assert client.get("/me").json()["display_name"] == maya.display_name
    assert not [r for r in caplog.records if getattr(r, "event", None) == EVENT]
