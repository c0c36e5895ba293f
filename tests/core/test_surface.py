"""The package root is a small surface with one way to do each thing; every name that left it, and
every alias of a canonical call, still works until its removal, with a ``DeprecationWarning``
naming the new way and the release that removes it."""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path
from typing import Any, cast

import pytest
from quart import Quart
from quart import url_for as quart_url_for
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

import tiktok_asgi
from tests.conftest import BASE_URL, sign_in
from tiktok_asgi import (
    LoginRequired,
    MemoryTokenStore,
    TikTokAuthMiddleware,
    TikTokSettings,
    login_url,
    tiktok_context,
)
from tiktok_asgi import fastapi as tt_fastapi
from tiktok_asgi import quart as tt_quart
from tiktok_asgi import sessions as tt_sessions
from tiktok_asgi import starlette as tt_starlette
from tiktok_asgi._deprecation import REMOVED_IN
from tiktok_asgi.context import get_access_token
from tiktok_asgi.emulator import TikTokEmulator

ROOT = Path(__file__).resolve().parents[2]

MOVED_ERRORS = [
    "AuthorizationDenied",
    "CallbackError",
    "CrossSiteRequest",
    "IdentityTooLarge",
    "LoginRejected",
    "MethodNotAllowed",
    "OpenIdMismatch",
    "SignInCancelled",
    "StateError",
    "WebhookEventInvalid",
    "WebhookSignatureInvalid",
]
# Each deprecated root name: (the module that keeps it, what the warning tells to use).
DEPRECATED_ROOT = {
    **{
        name: ("tiktok_asgi.errors", f"from tiktok_asgi.errors import {name}")
        for name in MOVED_ERRORS
    },
    "get_access_token": ("tiktok_asgi.context", "tiktok_context(request).access_token()"),
    "end_user_sessions": (
        "tiktok_asgi.sessions",
        "tiktok_context(request).end_user_sessions(open_id)",
    ),
}
# The aliases of canonical calls, by their old path: the new way the warning names.
ALIASES = {
    "tiktok_asgi.context.get_access_token": "tiktok_context(request).access_token()",
    "tiktok_asgi.sessions.end_user_sessions": "tiktok_context(request).end_user_sessions(open_id)",
    "tiktok_asgi.starlette.login_url": "tiktok_asgi.login_url(request, next=...)",
    "tiktok_asgi.quart.login_url": "tiktok_asgi.login_url(request.scope, next=...)",
}


def _warned(old: str, new: str) -> str:
    """The pattern of the warning about ``old``."""
    return rf"{re.escape(old)}\b.* removed in tiktok-asgi {re.escape(REMOVED_IN)}: use .*" + (
        re.escape(new)
    )


# The surface ------------------------------------------------------------------------------------


def test_the_root_is_a_small_surface_and_dir_shows_only_it() -> None:
    public = [name for name in dir(tiktok_asgi) if not name.startswith("_")]
    assert public == sorted(tiktok_asgi.__all__)
    assert len(tiktok_asgi.__all__) <= 25
    assert not set(tiktok_asgi.__all__) & set(DEPRECATED_ROOT)
    # Neither a deprecated name nor a submodule is offered by dir().
    assert "errors" not in dir(tiktok_asgi)
    assert "StateError" not in dir(tiktok_asgi)


def test_every_name_of_the_surface_is_read_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in tiktok_asgi.__all__:
            assert getattr(tiktok_asgi, name) is not None
        exec(f"from tiktok_asgi import {', '.join(tiktok_asgi.__all__)}", {})  # noqa: S102


@pytest.mark.parametrize("name", sorted(DEPRECATED_ROOT))
def test_a_deprecated_root_name_still_works_and_says_where_it_went(name: str) -> None:
    module, new = DEPRECATED_ROOT[name]
    expected = getattr(importlib.import_module(module), name)
    with pytest.warns(DeprecationWarning, match=_warned(f"tiktok_asgi.{name}", new)):
        assert getattr(tiktok_asgi, name) is expected
    namespace: dict[str, Any] = {}
    with pytest.warns(DeprecationWarning, match=_warned(f"tiktok_asgi.{name}", new)):
        exec(f"from tiktok_asgi import {name}", namespace)  # noqa: S102
    assert namespace[name] is expected
    assert name not in tiktok_asgi.__all__


def test_the_warning_points_at_the_line_that_reads_the_name() -> None:
    with pytest.warns(DeprecationWarning, match="StateError") as caught:
        tiktok_asgi.StateError  # noqa: B018
    assert caught[0].filename == __file__


def test_an_unknown_root_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        tiktok_asgi.nothing_here  # noqa: B018
    assert not hasattr(tiktok_asgi, "login_required")


def test_the_changelog_lists_every_deprecation_and_its_removal() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("\n## ", 1)[0]
    deprecated = unreleased.split("### Deprecated", 1)[1].split("\n### ", 1)[0]
    assert REMOVED_IN in deprecated
    for name in DEPRECATED_ROOT:
        assert f"`tiktok_asgi.{name}`" in deprecated, name
    for old in ALIASES:
        assert re.search(rf"`{re.escape(old)}[`(]", deprecated), old


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_an_alias_says_when_it_goes_in_its_docstring(old: str) -> None:
    module, name = old.rsplit(".", 1)
    doc = inspect.getdoc(getattr(importlib.import_module(module), name)) or ""
    assert doc.startswith("Deprecated:")
    assert REMOVED_IN in doc
    assert name not in importlib.import_module(module).__all__


# The aliases behave as the canonical calls ------------------------------------------------------


async def _tokens(request: Request) -> JSONResponse:
    canonical = await tiktok_context(request).access_token()
    return JSONResponse({"canonical": canonical, "alias": await get_access_token(request)})


async def _links(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "canonical": login_url(request, next="/me"),
            "alias": tt_starlette.login_url(request, next="/me"),
        }
    )


async def _end(request: Request) -> JSONResponse:
    open_id = request.query_params["open_id"]
    if request.query_params.get("alias"):
        ended = await tt_sessions.end_user_sessions(request, open_id)
    else:
        ended = await tiktok_context(request).end_user_sessions(open_id)
    return JSONResponse({"ended": ended})


def _starlette(settings: TikTokSettings, emulator: TikTokEmulator) -> TestClient:
    inner = Starlette(
        routes=[Route("/tokens", _tokens), Route("/links", _links), Route("/end", _end)]
    )
    tt_starlette.install(inner)  # wrapped from outside: a view's LoginRequired answers 401
    app = TikTokAuthMiddleware(
        inner, settings=settings, transport=emulator.transport(), token_store=MemoryTokenStore()
    )
    return TestClient(app, base_url=BASE_URL)


def test_get_access_token_is_the_context_s_access_token(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _starlette(tiktok_settings, tiktok_emulator)
    sign_in(client, tiktok_settings, tiktok_emulator)
    old, new = (
        "tiktok_asgi.context.get_access_token",
        ALIASES["tiktok_asgi.context.get_access_token"],
    )
    with pytest.warns(DeprecationWarning, match=_warned(old, new)):
        body = client.get("/tokens").json()
    assert body["alias"] == body["canonical"]
    assert body["alias"].startswith("act.")


async def test_get_access_token_outside_the_middleware_fails_as_the_context_does() -> None:
    scope: dict[str, Any] = {"type": "http"}
    with pytest.raises(RuntimeError, match="TikTokAuthMiddleware"):
        await tiktok_context(scope).access_token()
    with (
        pytest.warns(DeprecationWarning, match="get_access_token"),
        pytest.raises(RuntimeError, match="TikTokAuthMiddleware"),
    ):
        await get_access_token(scope)


def test_end_user_sessions_is_the_context_s_end_user_sessions(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _starlette(tiktok_settings, tiktok_emulator)
    person = tiktok_emulator.users[0]
    old = "tiktok_asgi.sessions.end_user_sessions"
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    with pytest.warns(DeprecationWarning, match=_warned(old, ALIASES[old])):
        ended = client.get("/end", params={"open_id": person.open_id, "alias": "1"})
    assert ended.json() == {"ended": 1}
    assert client.get("/tokens").status_code == 401  # this browser is signed out
    sign_in(client, tiktok_settings, tiktok_emulator, user=person)
    assert client.get("/end", params={"open_id": person.open_id}).json() == {"ended": 1}
    assert client.get("/tokens").status_code == 401


@pytest.mark.parametrize("open_id", ["", None])
async def test_the_context_refuses_an_open_id_that_is_not_one(open_id: Any) -> None:
    context = tiktok_asgi.TikTokContext(cast(Any, None), cast(Any, None))
    with pytest.raises(ValueError, match="non-empty string"):
        await context.end_user_sessions(open_id)


def test_starlette_login_url_is_the_root_login_url(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    client = _starlette(tiktok_settings, tiktok_emulator)
    old = "tiktok_asgi.starlette.login_url"
    with pytest.warns(DeprecationWarning, match=_warned(old, ALIASES[old])):
        body = client.get("/links").json()
    assert body == {"canonical": "/auth/tiktok/login?next=%2Fme", "alias": body["canonical"]}


def _quart(middleware_settings: TikTokSettings, **install: Any) -> Quart:
    app = Quart(__name__)

    @app.get("/links")
    async def links() -> dict[str, str]:
        from quart import request

        return {
            "canonical": login_url(cast(Any, request.scope), next="/me"),
            "alias": tt_quart.login_url(next="/me"),
        }

    @app.get("/named")
    async def named() -> dict[str, str]:
        return {
            name: quart_url_for(name, next="/me") if name == "tiktok_login" else quart_url_for(name)
            for name in ("tiktok_login", "tiktok_callback", "tiktok_logout", "tiktok_disconnect")
        }

    @app.get("/refused")
    async def refused() -> str:
        raise LoginRequired()

    tt_quart.install(app, **install)
    tt_quart.install(app, **install)  # twice: nothing added twice
    app.asgi_app = TikTokAuthMiddleware(  # type: ignore[method-assign, assignment]
        cast(ASGIApp, app.asgi_app), settings=middleware_settings
    )
    return app


def test_quart_login_url_is_the_root_login_url(tiktok_settings: TikTokSettings) -> None:
    old = "tiktok_asgi.quart.login_url"
    with (
        TestClient(_quart(tiktok_settings), base_url=BASE_URL) as client,
        pytest.warns(DeprecationWarning, match=_warned(old, ALIASES[old])),
    ):
        body = client.get("/links").json()
    assert body == {"canonical": "/auth/tiktok/login?next=%2Fme", "alias": body["canonical"]}


# install means one thing in every adapter -------------------------------------------------------


@pytest.mark.parametrize("adapter", [tt_starlette, tt_fastapi, tt_quart], ids=lambda m: m.__name__)
def test_install_takes_the_same_arguments_in_every_adapter(adapter: Any) -> None:
    parameters = inspect.signature(adapter.install).parameters
    assert next(iter(parameters)) == "app"
    assert parameters["settings"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["settings"].default is None
    assert "as ``install`` does in every adapter" in " ".join(
        (adapter.install.__doc__ or "").split()
    )


def test_quart_install_names_the_paths_and_answers_errors(tiktok_settings: TikTokSettings) -> None:
    with TestClient(_quart(tiktok_settings, settings=tiktok_settings), base_url=BASE_URL) as client:
        assert client.get("/named").json() == {
            "tiktok_login": "/auth/tiktok/login?next=/me",
            "tiktok_callback": "/auth/tiktok/callback",
            "tiktok_logout": "/auth/tiktok/logout",
            "tiktok_disconnect": "/auth/tiktok/disconnect",
        }
        refused = client.get("/refused", headers={"accept": "application/json"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "login_required"
        # The named rules do not shadow the middleware: it still answers the login path.
        assert client.get("/auth/tiktok/login", follow_redirects=False).status_code == 302


def test_quart_install_refuses_what_is_not_settings() -> None:
    with pytest.raises(TypeError, match="TikTokSettings"):
        tt_quart.install(Quart(__name__), settings=cast(Any, "/auth"))


def test_starlette_install_names_the_paths_once(tiktok_settings: TikTokSettings) -> None:
    async def named(request: Request) -> JSONResponse:
        return JSONResponse({"login": request.url_for("tiktok_login").path})

    app = Starlette(routes=[Route("/named", named)])
    tt_starlette.install(app, settings=tiktok_settings)
    tt_starlette.install(app, settings=tiktok_settings)
    names = [getattr(route, "name", None) for route in app.routes]
    assert sorted(n for n in names if n and n.startswith("tiktok_")) == [
        "tiktok_callback",
        "tiktok_disconnect",
        "tiktok_login",
        "tiktok_logout",
    ]
    wrapped = TikTokAuthMiddleware(app, settings=tiktok_settings)
    assert TestClient(wrapped, base_url=BASE_URL).get("/named").json() == {
        "login": "/auth/tiktok/login"
    }
