"""The demo without a browser: which TikTok it uses, host names, headers, the page, the command."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient

from tests.browser.helpers import unavailable
from tiktok_asgi.demo import create_app, demo_setup
from tiktok_asgi.demo.__main__ import INSTALL_HINT, main
from tiktok_asgi.demo._app import page_headers
from tiktok_asgi.demo._pages import compact_count, home_page
from tiktok_asgi.emulator import EmulatorUser
from tiktok_asgi.user import TikTokUser

REAL_APP = {
    "TIKTOK_CLIENT_KEY": "aw-real-client-key",
    "TIKTOK_CLIENT_SECRET": "real-client-secret",
    "TIKTOK_REDIRECT_URI": "https://demo.example.com/oauth/tiktok",
}
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats")


@pytest.fixture(autouse=True)
def no_tiktok_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLIENT_KEY", "CLIENT_SECRET", "REDIRECT_URI", "SECRET_KEY", "CALLBACK_PATH"):
        monkeypatch.delenv(f"TIKTOK_{name}", raising=False)


def test_without_configuration_the_emulator_is_mounted_at_the_served_address() -> None:
    setup = demo_setup("127.0.0.1", 8000, {})
    assert setup.emulated
    assert setup.emulator is not None
    assert setup.url == "http://127.0.0.1:8000/"
    settings = setup.settings
    assert settings.redirect_uri == "http://127.0.0.1:8000/auth/tiktok/callback"
    assert settings.redirect_uri in setup.emulator.redirect_uris
    assert settings.authorize_url == "http://127.0.0.1:8000/tiktok/v2/auth/authorize/"
    assert settings.token_url == "http://127.0.0.1:8000/tiktok/v2/oauth/token/"
    assert settings.userinfo_url == "http://127.0.0.1:8000/tiktok/v2/user/info/"
    assert settings.scopes == SCOPES
    assert settings.client_key == setup.emulator.client_key
    assert len(settings.secret_keys[0]) >= 32
    assert setup.notes == ()


def test_each_start_signs_with_a_new_key_unless_one_is_set() -> None:
    first = demo_setup("127.0.0.1", 8000, {}).settings.secret_keys
    second = demo_setup("127.0.0.1", 8000, {}).settings.secret_keys
    assert first != second
    fixed = demo_setup("127.0.0.1", 8000, {"TIKTOK_SECRET_KEY": "k" * 40}).settings.secret_keys
    assert fixed == ("k" * 40,)


@pytest.mark.parametrize(
    ("host", "port", "origin"),
    [
        ("localhost", 9001, "http://localhost:9001"),
        ("::1", 8000, "http://[::1]:8000"),
        ("127.0.0.1", 65535, "http://127.0.0.1:65535"),
    ],
)
def test_the_redirect_uri_follows_host_and_port(host: str, port: int, origin: str) -> None:
    setup = demo_setup(host, port, {})
    assert setup.origin == origin
    assert setup.settings.redirect_uri == f"{origin}/auth/tiktok/callback"
    assert setup.settings.authorize_url.startswith(f"{origin}/tiktok/")
    assert setup.emulator is not None
    assert setup.emulator.redirect_uris == (f"{origin}/auth/tiktok/callback",)


def test_every_interface_is_served_but_loopback_is_the_address_to_open() -> None:
    setup = demo_setup("0.0.0.0", 8000, {})
    assert setup.url == "http://127.0.0.1:8000/"
    assert len(setup.notes) == 1
    assert "every interface" in setup.notes[0]


def test_a_lan_address_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"--host 192\.168\.1\.5 is not a loopback address"):
        demo_setup("192.168.1.5", 8000, {})


def test_a_real_app_from_the_environment_mounts_no_emulator() -> None:
    setup = demo_setup("127.0.0.1", 8000, REAL_APP)
    assert not setup.emulated
    assert setup.emulator is None
    assert setup.origin == "https://demo.example.com"
    settings = setup.settings
    assert settings.client_key == "aw-real-client-key"
    assert settings.redirect_uri == REAL_APP["TIKTOK_REDIRECT_URI"]
    assert settings.callback_path == "/oauth/tiktok"  # follows the registered redirect URI
    assert settings.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert settings.scopes == ("user.info.basic",)
    assert len(settings.secret_keys[0]) >= 32
    assert len(setup.notes) == 1
    assert "TIKTOK_SECRET_KEY is not set" in setup.notes[0]


def test_a_real_app_reads_the_other_settings_too() -> None:
    env = {
        **REAL_APP,
        "TIKTOK_SECRET_KEY": "s" * 40,
        "TIKTOK_SCOPES": "user.info.basic,user.info.profile",
        "TIKTOK_PKCE": "hex",
    }
    setup = demo_setup("127.0.0.1", 8000, env)
    assert setup.settings.secret_keys == ("s" * 40,)
    assert setup.settings.scopes == ("user.info.basic", "user.info.profile")
    assert setup.settings.pkce == "hex"
    assert setup.notes == ()


def test_a_partial_real_app_configuration_is_refused() -> None:
    env = {"TIKTOK_CLIENT_KEY": "only-the-key"}
    with pytest.raises(
        ValueError, match="TIKTOK_CLIENT_KEY set but TIKTOK_CLIENT_SECRET, TIKTOK_REDIRECT_URI not"
    ):
        demo_setup("127.0.0.1", 8000, env)


def test_page_headers_allow_no_script_and_images_from_here_only() -> None:
    emulated = page_headers(emulated=True)["Content-Security-Policy"]
    assert "default-src 'none'" in emulated
    assert "img-src 'self' data:;" in emulated
    assert "script-src" not in emulated
    assert "style-src 'unsafe-inline'" in emulated
    assert "frame-ancestors 'none'" in emulated
    real = page_headers(emulated=False)["Content-Security-Policy"]
    assert "img-src 'self' data: https:;" in real  # avatars live on TikTok's CDN


def test_home_page_signed_out_over_http() -> None:
    app, setup = create_app("127.0.0.1", 8000, {})
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        response = client.get("/")
        assert response.status_code == 200
        for name, value in page_headers(emulated=True).items():
            assert response.headers[name] == value
        assert '<a class="btn primary" href="/auth/tiktok/login">' in response.text
        assert "<script" not in response.text
        assert setup.emulator is not None
        for user in setup.emulator.users:
            assert f"@{user.username}" in response.text
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        # The mounted emulator answers beside the page.
        consent = client.get("/tiktok/")
        assert consent.status_code == 200
        assert "tiktok-asgi demo" in consent.text


def test_another_host_name_is_redirected_to_the_printed_address() -> None:
    app, _ = create_app("127.0.0.1", 8000, {})
    with TestClient(app, base_url="http://localhost:8000") as client:
        response = client.get("/auth/tiktok/login?next=/x", follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == "http://127.0.0.1:8000/auth/tiktok/login?next=/x"
        assert client.post("/auth/tiktok/logout").status_code == 400


def test_a_real_app_demo_answers_under_any_host_name() -> None:
    app, _ = create_app("127.0.0.1", 8000, {**REAL_APP, "TIKTOK_SECRET_KEY": "s" * 40})
    with TestClient(app, base_url="https://demo.example.com") as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "Real TikTok" in page.text
        assert client.get("/tiktok/").status_code == 404  # no emulator
        login = client.get("/auth/tiktok/login", follow_redirects=False)
        assert login.status_code == 302
        assert login.headers["location"].startswith("https://www.tiktok.com/v2/auth/authorize/?")


def render(user: TikTokUser) -> str:
    return home_page(
        user=user,
        requested=SCOPES,
        login_path="/auth/tiktok/login",
        logout_path="/auth/tiktok/logout",
        redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback",
        emulator_mount="/tiktok",
        emulator_users=(EmulatorUser(username="a_b", display_name="A B"),),
    )


def test_profile_card_with_basic_scope_only() -> None:
    user = TikTokUser(
        open_id="oid-1",
        display_name="<b>Tik</b> & Toker",
        avatar_url="https://cdn.example/a.png?x=1&y=2",
        granted_scopes=("user.info.basic",),
    )
    page = render(user)
    assert "&lt;b&gt;Tik&lt;/b&gt; &amp; Toker" in page
    assert "<b>Tik</b>" not in page
    assert 'src="https://cdn.example/a.png?x=1&amp;y=2"' in page
    assert 'class="handle"' not in page
    assert 'class="stats"' not in page
    assert 'class="verified"' not in page
    assert '<li class="chip on" title="avatar and display name">user.info.basic</li>' in page
    assert page.count('class="chip off"') == 2
    assert '<form method="post" action="/auth/tiktok/logout">' in page


def test_profile_card_offers_sign_out_and_disconnect() -> None:
    user = TikTokUser(open_id="oid-3", display_name="Maya", granted_scopes=("user.info.basic",))
    assert "Disconnect TikTok" not in render(user)
    page = home_page(
        user=user,
        requested=SCOPES,
        login_path="/auth/tiktok/login",
        logout_path="/auth/tiktok/logout",
        disconnect_path="/auth/tiktok/disconnect",
        redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback",
        emulator_mount=None,
    )
    assert '<form method="post" action="/auth/tiktok/logout">' in page
    assert (
        '<form method="post" action="/auth/tiktok/disconnect">'
        '<button class="btn ghost" type="submit">Disconnect TikTok</button></form>'
    ) in page


def test_profile_card_with_every_scope() -> None:
    user = TikTokUser(
        open_id="oid-2",
        display_name="Maya",
        username="maya",
        is_verified=True,
        bio_description="Recipes",
        follower_count=1_284_310,
        following_count=0,
        likes_count=999_950,
        video_count=7,
        granted_scopes=SCOPES,
    )
    page = render(user)
    assert '<p class="handle">@maya</p>' in page
    assert 'class="verified"' in page
    assert '<p class="bio">Recipes</p>' in page
    assert "<b>1.3M</b><span>Followers</span>" in page
    assert "<b>0</b><span>Following</span>" in page  # zero is shown, not hidden
    assert "<b>1M</b><span>Likes</span>" in page
    assert 'title="1,284,310 followers"' in page
    assert 'class="chip off"' not in page


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1K"),
        (38_204, "38.2K"),
        (999_949, "999.9K"),
        (999_950, "1M"),
        (1_284_310, "1.3M"),
        (48_902_117, "48.9M"),
        (2_500_000_000, "2.5B"),
    ],
)
def test_compact_count(value: int, text: str) -> None:
    assert compact_count(value) == text


def test_main_without_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` fail
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == INSTALL_HINT
    assert 'pip install ".[demo]" from a checkout of tiktok-asgi' in INSTALL_HINT


def test_main_refuses_an_incomplete_real_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "only-the-key")
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert isinstance(exit_info.value.code, str)
    assert exit_info.value.code.startswith("error: TIKTOK_CLIENT_KEY set but")


def test_main_prints_the_address_and_serves_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(kwargs, app=app))
    main(["--host", "localhost", "--port", "8123"])
    printed = capsys.readouterr().out
    assert "Open http://localhost:8123/ in your browser" in printed
    assert "redirect URI:  http://localhost:8123/auth/tiktok/callback" in printed
    assert "emulator:      http://localhost:8123/tiktok/" in printed
    assert "@mayacooks" in printed
    assert served["host"] == "localhost"
    assert served["port"] == 8123
    assert callable(served["app"])


def test_main_with_a_real_app_prints_where_to_go(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in REAL_APP.items():
        monkeypatch.setenv(name, value)
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(kwargs))
    main([])
    printed = capsys.readouterr().out
    assert "Open https://demo.example.com/ in your browser" in printed
    assert "note: TIKTOK_SECRET_KEY is not set" in printed
    assert "emulator:" not in printed
    assert served["port"] == 8000


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_a_missing_browser_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="no chromium; CI=true, so this fails"):
        unavailable("no chromium")


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_a_missing_browser_is_skipped_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        unavailable("no chromium")
