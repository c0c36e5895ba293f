"""A TikTok user meets Django's permission checks: the admin and ``@permission_required`` refuse
it cleanly (a redirect to a login page, or 403), never a 500.

A real Django project with ``django.contrib.admin``, served over ASGI inside
``TikTokAuthMiddleware``; this module is its URLconf.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_URL, sign_in
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TikTokEmulator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

import django
from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path

django.setup()


@permission_required("auth.view_user")
async def staff_report(request: HttpRequest) -> HttpResponse:
    return HttpResponse("staff only")


@permission_required("auth.view_user", raise_exception=True)
def staff_report_sync(request: HttpRequest) -> HttpResponse:
    return HttpResponse("staff only")


@permission_required([])
async def nothing_needed(request: HttpRequest) -> HttpResponse:
    return HttpResponse("open")


async def perms(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse(
        {
            "staff": user.is_staff,
            "superuser": user.is_superuser,
            "active": user.is_active,
            "anonymous": user.is_anonymous,
            "username": user.get_username(),
            "perm": user.has_perm("auth.view_user"),
            "aperm": await user.ahas_perm("auth.view_user"),
            "perms": user.has_perms(["auth.view_user"]),
            "aperms": await user.ahas_perms(["auth.view_user"]),
            "module": user.has_module_perms("auth"),
            "amodule": await user.ahas_module_perms("auth"),
            "all": sorted(user.get_all_permissions()),
            "aall": sorted(await user.aget_all_permissions()),
            "user_perms": sorted(user.get_user_permissions()),
            "group_perms": sorted(user.get_group_permissions()),
        }
    )


def __getattr__(name: str) -> Any:
    # The URLconf is read once the admin is installed (by PROJECT, below), not at import.
    if name == "urlpatterns":
        return [
            path("admin/", admin.site.urls),
            path("report", staff_report),
            path("report-sync", staff_report_sync),
            path("open", nothing_needed),
            path("perms", perms),
        ]
    raise AttributeError(name)


PROJECT = {
    "INSTALLED_APPS": [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    "MIDDLEWARE": [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "tiktok_asgi.django.TikTokUserMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    "ROOT_URLCONF": __name__,
}


@pytest.fixture
def client(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> Iterator[TestClient]:
    with override_settings(**PROJECT):
        app = TikTokAuthMiddleware(
            get_asgi_application(), settings=tiktok_settings, transport=tiktok_emulator.transport()
        )
        # raise_server_exceptions off: a 500 is what the test must see, not an exception.
        yield TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)


@pytest.fixture
def signed_in(
    client: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> TestClient:
    sign_in(client, tiktok_settings, tiktok_emulator, user=tiktok_emulator.user("mayacooks"))
    return client


def test_tiktok_user_has_no_permissions(
    signed_in: TestClient, tiktok_emulator: TikTokEmulator
) -> None:
    assert signed_in.get("/perms").json() == {
        "staff": False,
        "superuser": False,
        "active": True,
        "anonymous": False,
        "username": tiktok_emulator.user("mayacooks").open_id,
        "perm": False,
        "aperm": False,
        "perms": False,
        "aperms": False,
        "module": False,
        "amodule": False,
        "all": [],
        "aall": [],
        "user_perms": [],
        "group_perms": [],
    }


def test_admin_sends_a_tiktok_user_to_its_login_page(signed_in: TestClient) -> None:
    refused = signed_in.get("/admin/", follow_redirects=False)
    assert refused.status_code == 302
    assert refused.headers["location"] == "/admin/login/?next=/admin/"
    login = signed_in.get("/admin/login/?next=/admin/", follow_redirects=False)
    assert login.status_code == 200
    # Django's own words for a signed-in person without staff access.
    assert "but are not authorized to access this page" in login.text
    for page in ("/admin/auth/user/", "/admin/auth/"):
        assert signed_in.get(page, follow_redirects=False).status_code == 302


def test_permission_required_refuses_a_tiktok_user_cleanly(
    signed_in: TestClient, tiktok_settings: TikTokSettings
) -> None:
    refused = signed_in.get("/report", follow_redirects=False)
    assert refused.status_code == 302
    assert refused.headers["location"] == f"{tiktok_settings.login_path}?next=/report"
    assert signed_in.get("/report-sync", follow_redirects=False).status_code == 403
    assert signed_in.get("/open").text == "open"


def test_anonymous_people_are_refused_the_same_way(client: TestClient) -> None:
    assert client.get("/admin/", follow_redirects=False).status_code == 302
    assert client.get("/report", follow_redirects=False).status_code == 302
    assert client.get("/report-sync", follow_redirects=False).status_code == 403


def test_permission_api_needs_no_django() -> None:
    user = TikTokUser(open_id="o1")
    assert not user.has_perm("auth.view_user")
    assert user.has_perms([])
    assert not user.has_perms(["auth.view_user"])
    with pytest.raises(ValueError, match="iterable"):
        user.has_perms("auth.view_user")
    assert user.get_all_permissions() == set()
