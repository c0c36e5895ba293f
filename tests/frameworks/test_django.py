"""tiktok_asgi.django with real Django over ASGI: ``@login_required`` sends anonymous people to the
TikTok login path and lets a signed-in TikTok user in as ``request.user``; a ``TikTokAuthError`` a
view leaves unhandled is answered as the middleware answers it; the adapter's ``login_required``
and ``require_scopes`` refuse as every adapter does; the example runs through uvicorn; a wrong
set-up fails with a message naming the fix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from tests.conftest import BASE_URL, make_app, sign_in
from tests.frameworks.helpers import browser_sign_in, served
from tests.support.calls import get_access_token
from tests.support.processes import free_port
from tiktok_asgi import (
    LoginRequired,
    TikTokAuthMiddleware,
    TikTokSettings,
    TikTokUnavailable,
    TikTokUser,
)
from tiktok_asgi._tiktok.http import httpx2
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

from django.core.asgi import get_asgi_application  # needs the settings module
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path

os.environ["EXAMPLE_EMULATOR"] = "1"  # the example module builds its app at import, as its command
try:
    from examples.django_app.asgi import create_app
finally:
    del os.environ["EXAMPLE_EMULATOR"]

from tiktok_asgi.django import TikTokUserMiddleware, login_required, require_scopes

BASIC = ["user.info.basic"]
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"accept": "application/json"}
LOGIN_REQUIRED = {
    "error": "login_required",
    "error_description": "Sign in with TikTok first.",
    "log_id": None,
}
# The headers of the middleware's own answers that Django must pass on unchanged.
COMPARED = ("content-type", "location", "retry-after", "cache-control", "content-security-policy")


# The URLconf of the ``project`` fixture.


async def token(request: HttpRequest) -> JsonResponse:
    # Anonymous: get_access_token raises LoginRequired, which the view leaves unhandled.
    return JsonResponse({"token": await get_access_token(request.scope)})  # type: ignore[attr-defined]


def tiktok_down(request: HttpRequest) -> HttpResponse:
    raise TikTokUnavailable(retry_after=30)


def _name(request: HttpRequest) -> str:
    assert isinstance(request.user, TikTokUser)
    return request.user.display_name


@login_required
async def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"name": _name(request)})


@login_required
def me_sync(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"name": _name(request), "sync": True})


@require_scopes("user.info.stats")
async def stats(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    assert isinstance(user, TikTokUser)
    return JsonResponse({"followers": user.follower_count})


@require_scopes("user.info.stats", "video.list")
def videos_sync(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"name": _name(request), "sync": True})


urlpatterns = [
    path("token", token),
    path("tiktok-down", tiktok_down),
    path("me", me),
    path("me-sync", me_sync),
    path("stats", stats),
    path("videos-sync", videos_sync),
]


@pytest.fixture
def project(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> Iterator[TestClient]:
    """Django with this module as its URLconf, inside the middleware."""
    with override_settings(ROOT_URLCONF=__name__):
        app = TikTokAuthMiddleware(
            get_asgi_application(), settings=tiktok_settings, transport=tiktok_emulator.transport()
        )
        # A 500 is what the old code answered: the test must see it, not an exception.
        yield TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)


def _reference(settings: TikTokSettings, error: Exception) -> TestClient:
    """An application raising ``error``, answered by the middleware itself."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    return TestClient(TikTokAuthMiddleware(app, settings=settings), base_url=BASE_URL)


def _same_answer(answer: httpx2.Response, reference: httpx2.Response) -> None:
    assert answer.status_code == reference.status_code
    assert answer.content == reference.content
    for name in COMPARED:
        assert answer.headers.get(name) == reference.headers.get(name), name


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


@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
def test_auth_error_a_view_leaves_is_the_middlewares_answer(
    project: TestClient, tiktok_settings: TikTokSettings, accept: str
) -> None:
    headers = {"accept": accept}
    answer = project.get("/token", headers=headers, follow_redirects=False)
    assert answer.status_code == 401  # not Django's 500
    reference = _reference(tiktok_settings, LoginRequired()).get("/token", headers=headers)
    _same_answer(answer, reference)
    if accept == "application/json":
        assert answer.json() == LOGIN_REQUIRED

    down = project.get("/tiktok-down", headers=headers)  # a sync view, a service down
    assert (down.status_code, down.headers["retry-after"]) == (503, "30")
    reference = _reference(tiktok_settings, TikTokUnavailable(retry_after=30))
    _same_answer(down, reference.get("/tiktok-down", headers=headers))


def test_auth_error_a_view_leaves_follows_error_redirect(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    settings = tiktok_settings.replace(error_redirect="/oops")
    with override_settings(ROOT_URLCONF=__name__):
        app = TikTokAuthMiddleware(
            get_asgi_application(), settings=settings, transport=tiktok_emulator.transport()
        )
        client = TestClient(app, base_url=BASE_URL)
        page = client.get("/token", headers=BROWSER, follow_redirects=False)
        assert client.get("/token", headers=API).status_code == 401
    assert (page.status_code, page.headers["location"]) == (303, "/oops?error=login_required")


@pytest.mark.parametrize("path", ["/me", "/me-sync", "/stats", "/videos-sync"])
def test_guards_send_browsers_to_login_and_answer_api_clients_401(
    project: TestClient, tiktok_settings: TikTokSettings, path: str
) -> None:
    page = project.get(f"{path}?tab=a", headers=BROWSER, follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"] == f"/auth/tiktok/login?next=%2F{path[1:]}%3Ftab%3Da"
    assert page.headers["cache-control"] == "no-store"
    api = project.get(path, headers=API)
    assert (api.status_code, api.json()) == (401, LOGIN_REQUIRED)
    # The same bytes as the middleware's protected paths.
    guarded = make_app(tiktok_settings.replace(protected_paths=(path,)))
    _same_answer(api, TestClient(guarded, base_url=BASE_URL).get(path, headers=API))


def test_require_scopes_answers_403_naming_the_missing_scope(
    project: TestClient, tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    maya = tiktok_emulator.user("mayacooks")
    sign_in(project, tiktok_settings, tiktok_emulator, user=maya, scopes=BASIC)
    assert project.get("/me").json() == {"name": maya.display_name}
    assert project.get("/me-sync").json() == {"name": maya.display_name, "sync": True}
    refused = project.get("/stats", headers=BROWSER)  # signed in: no reason to log in again
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert "user.info.stats" in refused.json()["error_description"]
    both = project.get("/videos-sync").json()["error_description"]
    assert "user.info.stats, video.list" in both

    sign_in(project, tiktok_settings, tiktok_emulator, user=maya)  # every scope this time
    assert project.get("/stats").json() == {"followers": maya.follower_count}
    assert project.get("/videos-sync").json() == {"name": maya.display_name, "sync": True}


@pytest.mark.parametrize("bad", [(), ("user.info.basic,user.info.stats",), ("a b",)])
def test_require_scopes_wants_separate_scope_names(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="scope"):
        require_scopes(*bad)
