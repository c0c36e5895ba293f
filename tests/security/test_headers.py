"""Security headers on every answer the middleware produces itself, for each kind of answer.

Pass-through responses of the application are the application's own (see SECURITY.md, ``Vary``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import make_app
from tests.security.flows import finish, start
from tests.security.support import serializer
from tests.support.asgi import Answer, call, cookie_header
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi.emulator import Fault, TikTokEmulator

HTML = (b"accept", b"text/html,application/xhtml+xml")
JSON = (b"accept", b"application/json")


def check_security_headers(answer: Answer) -> None:
    assert answer.status != 500
    h = answer.headers
    assert h.get("cache-control") == "no-store", h
    assert h.get("referrer-policy") == "no-referrer", h
    assert h.get("x-content-type-options") == "nosniff", h
    if h.get("content-type", "").startswith("text/html"):
        csp = h.get("content-security-policy", "")
        directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
        assert directives.get("default-src") == "default-src 'none'", csp
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
        assert directives.get("base-uri") == "base-uri 'none'", csp
        assert "script-src" not in directives, csp  # no script may run on these pages
        assert "unsafe-eval" not in csp
        assert b"<script" not in answer.body.lower()


class _OldSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3600


def _expired_flow(app: Any, settings: TikTokSettings, emu: TikTokEmulator, headers: Any) -> Answer:
    pending = start(app, settings, emu)
    name, value = next((k, v) for k, v in pending.cookies.items() if "_flow_" in k)
    payload = serializer(settings.secret_keys, f"tiktok-asgi.flow:{settings.client_key}").loads(
        value
    )
    old = serializer(settings.secret_keys, f"tiktok-asgi.flow:{settings.client_key}")
    old.signer = _OldSigner  # type: ignore[assignment]
    return finish(app, settings, pending, cookies={name: old.dumps(payload)}, headers=headers)


def _altered_flow(app: Any, settings: TikTokSettings, emu: TikTokEmulator, headers: Any) -> Answer:
    pending = start(app, settings, emu)
    cookies = {k: (v[:-2] + "AA" if "_flow_" in k else v) for k, v in pending.cookies.items()}
    return finish(app, settings, pending, cookies=cookies, headers=headers)


def _replayed(app: Any, settings: TikTokSettings, emu: TikTokEmulator, headers: Any) -> Answer:
    pending = start(app, settings, emu)
    assert finish(app, settings, pending).status == 302
    return finish(app, settings, pending, headers=headers)


def _faulty(endpoint: str, fault: Fault) -> Callable[..., Answer]:
    def run(app: Any, settings: TikTokSettings, emu: TikTokEmulator, headers: Any) -> Answer:
        pending = start(app, settings, emu)
        emu.inject(endpoint, fault)
        return finish(app, settings, pending, headers=headers)

    return run


def _query(query: bytes) -> Callable[..., Answer]:
    def run(app: Any, settings: TikTokSettings, emu: TikTokEmulator, headers: Any) -> Answer:
        pending = start(app, settings, emu)
        return finish(app, settings, pending, query=query, headers=headers)

    return run


# name -> (how to provoke it, expected status)
CALLBACK_ERRORS: dict[str, tuple[Callable[..., Answer], int]] = {
    "state_missing": (_query(b"code=abc"), 400),
    "state_mismatch": (_query(b"code=abc&state=not-a-pending-state"), 400),
    "state_expired": (_expired_flow, 400),
    "state_invalid": (_altered_flow, 400),
    "state_reused": (_replayed, 400),
    "access_denied": (_query(b"error=access_denied&error_description=no"), 403),
    "server_error": (_query(b"error=server_error"), 400),
    "invalid_grant": (_faulty("token", Fault.error_body("invalid_grant")), 502),
    "tiktok_unavailable": (_faulty("token", Fault.connection_refused()), 503),
}


@pytest.fixture(params=["html", "json", "error_redirect"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def variant(
    tiktok_emulator: TikTokEmulator, shape: str
) -> tuple[TikTokAuthMiddleware, TikTokSettings, list[tuple[bytes, bytes]]]:
    tiktok_settings = tiktok_emulator.settings(
        error_redirect="/login-failed" if shape == "error_redirect" else None,
        protected_paths=("/me",),
    )
    headers = [JSON] if shape == "json" else [HTML]
    return make_app(tiktok_settings, tiktok_emulator.transport()), tiktok_settings, headers


@pytest.mark.parametrize("code", CALLBACK_ERRORS)
def test_every_callback_error(
    tiktok_emulator: TikTokEmulator,
    variant: tuple[TikTokAuthMiddleware, TikTokSettings, list[tuple[bytes, bytes]]],
    shape: str,
    code: str,
) -> None:
    app, tiktok_settings, headers = variant
    provoke, status = CALLBACK_ERRORS[code]
    answer = provoke(app, tiktok_settings, tiktok_emulator, headers)
    check_security_headers(answer)
    if shape == "json":
        assert answer.status == status
        assert answer.json()["error"] == code
    elif shape == "error_redirect":
        assert answer.status == 303
        assert answer.headers["location"] == f"/login-failed?error={code}"
    else:
        assert answer.status == status
        assert f"<code>{code}</code>".encode() in answer.body


def test_login_redirect_and_spa_json(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings
) -> None:
    check_security_headers(call(app, "GET", tiktok_settings.login_path))
    spa = call(app, "GET", tiktok_settings.login_path, headers=[JSON])
    assert spa.status == 200
    assert "authorization_url" in spa.json()
    check_security_headers(spa)
    check_security_headers(call(app, "HEAD", tiktok_settings.login_path))


def test_callback_success_and_logout(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, tiktok_emulator: TikTokEmulator
) -> None:
    answer = finish(app, tiktok_settings, start(app, tiktok_settings, tiktok_emulator))
    assert answer.status == 302
    check_security_headers(answer)
    for headers in ([], [HTML], [JSON]):
        logout = call(app, "POST", tiktok_settings.logout_path, headers=headers)
        assert logout.status == 303
        check_security_headers(logout)


@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
def test_cross_site_logout_refusal(
    app: TikTokAuthMiddleware, tiktok_settings: TikTokSettings, accept: tuple[bytes, bytes]
) -> None:
    answer = call(
        app,
        "POST",
        tiktok_settings.logout_path,
        headers=[accept, (b"sec-fetch-site", b"cross-site")],
    )
    assert answer.status == 403
    check_security_headers(answer)


@pytest.mark.parametrize(
    ("path_attr", "method"),
    [
        ("login_path", "POST"),
        ("login_path", "DELETE"),
        ("callback_path", "POST"),
        ("callback_path", "PUT"),
        ("logout_path", "GET"),
        ("logout_path", "HEAD"),
    ],
)
@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
def test_method_not_allowed(
    app: TikTokAuthMiddleware,
    tiktok_settings: TikTokSettings,
    path_attr: str,
    method: str,
    accept: tuple[bytes, bytes],
) -> None:
    answer = call(app, method, getattr(tiktok_settings, path_attr), headers=[accept])
    if path_attr == "logout_path" and accept == HTML:
        assert answer.status == 200  # a browser's GET shows the sign-out page instead
        assert "text/html" in answer.headers["content-type"]
        check_security_headers(answer)
        return
    assert answer.status == 405
    assert answer.headers["allow"] in ("GET", "POST")
    check_security_headers(answer)


@pytest.mark.parametrize("accept", [HTML, JSON, (b"accept", b"*/*")], ids=["html", "json", "any"])
def test_protected_path_refusals(
    tiktok_emulator: TikTokEmulator, accept: tuple[bytes, bytes]
) -> None:
    tiktok_settings = tiktok_emulator.settings(protected_paths=("/me",))
    answer = call(
        make_app(tiktok_settings, tiktok_emulator.transport()), "GET", "/me", headers=[accept]
    )
    assert answer.status in (302, 401)
    if accept == HTML:
        assert answer.headers["location"] == "/auth/tiktok/login?next=%2Fme"
    else:
        assert answer.json()["error"] == "login_required"
    check_security_headers(answer)


@pytest.mark.parametrize("accept", [HTML, JSON], ids=["html", "json"])
def test_login_rejected_by_the_app(
    tiktok_emulator: TikTokEmulator, accept: tuple[bytes, bytes]
) -> None:
    async def refuse(user: TikTokUser, token: Any) -> None:
        return None

    tiktok_settings = tiktok_emulator.settings()
    app = make_app(tiktok_settings, tiktok_emulator.transport(), on_login=refuse)
    pending = start(app, tiktok_settings, tiktok_emulator)
    answer = call(
        app,
        "GET",
        tiktok_settings.callback_path,
        pending.callback_query,
        [cookie_header(pending.cookies), accept],
    )
    assert answer.status == 403
    check_security_headers(answer)


def test_the_check_itself_can_fail() -> None:
    bare = Answer(200, [(b"content-type", b"text/html")], b"<p>hi</p>")
    with pytest.raises(AssertionError):
        check_security_headers(bare)
