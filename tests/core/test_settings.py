"""TikTokSettings: frozen, keyword-only, secrets masked, preconditions that name the fix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tiktok_asgi import TikTokSettings

KEY = "k" * 32
OTHER_KEY = "o" * 40


def make(**overrides: Any) -> TikTokSettings:
    values: dict[str, Any] = {
        "client_key": "aw_client_key",
        "client_secret": "the-client-secret-value",
        "redirect_uri": "https://app.example/auth/tiktok/callback",
        "secret_key": KEY,
    }
    values.update(overrides)
    return TikTokSettings(**values)


def test_frozen() -> None:
    settings = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.client_key = "other"  # type: ignore[misc]


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        TikTokSettings(  # type: ignore[misc]
            "aw_client_key", "secret", "https://app.example/auth/tiktok/callback", KEY
        )


def test_repr_masks_secrets() -> None:
    settings = make(secret_key=[OTHER_KEY, KEY])
    text = repr(settings)
    assert "aw_client_key" in text
    assert "the-client-secret-value" not in text
    assert KEY not in text
    assert OTHER_KEY not in text
    assert "client_secret=***" in text
    assert "secret_key=***" in text
    assert str(settings) == text


@pytest.mark.parametrize("field", ["client_key", "client_secret"])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_client_credentials_name_the_fix(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be set to .*TikTok app console"):
        make(**{field: value})


@pytest.mark.parametrize(
    "secret_key",
    ["short", "x" * 31, [KEY, "x" * 31], ["x" * 31, KEY], ("y" * 10,)],
    ids=["short", "31-chars", "short-last-in-list", "short-first-in-list", "tuple"],
)
def test_short_secret_key_names_the_fix(secret_key: Any) -> None:
    with pytest.raises(ValueError, match=r"at least 32 characters.*secrets\.token_urlsafe"):
        make(secret_key=secret_key)


def test_empty_secret_key_list_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty sequence"):
        make(secret_key=[])


def test_secret_key_list_keeps_order() -> None:
    settings = make(secret_key=[OTHER_KEY, KEY])
    assert settings.secret_keys == (OTHER_KEY, KEY)
    assert make().secret_keys == (KEY,)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("/auth/tiktok/callback", "absolute https URL"),
        ("app.example/auth/tiktok/callback", "absolute https URL"),
        ("https://app.example/auth/tiktok/callback?x=1", "query or fragment"),
        ("https://app.example/auth/tiktok/callback?", "query or fragment"),
        ("https://app.example/auth/tiktok/callback#top", "query or fragment"),
        ("http://app.example/auth/tiktok/callback", "plain http on a non-loopback host"),
        ("http://10.0.0.1/auth/tiktok/callback", "plain http on a non-loopback host"),
        ("ftp://app.example/auth/tiktok/callback", "absolute https URL"),
    ],
)
def test_bad_redirect_uri_names_the_fix(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match="redirect_uri must be an absolute https URL") as info:
        make(redirect_uri=uri)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:8000/auth/tiktok/callback",
        "http://127.0.0.1:8000/auth/tiktok/callback",
        "http://[::1]:8000/auth/tiktok/callback",
        "http://localhost/auth/tiktok/callback",
    ],
)
def test_plain_http_allowed_on_loopback(uri: str) -> None:
    settings = make(redirect_uri=uri)
    assert settings.redirect_uri == uri
    assert settings.secure_cookies is False


def test_defaults() -> None:
    settings = make()
    assert settings.login_path == "/auth/tiktok/login"
    assert settings.callback_path == "/auth/tiktok/callback"
    assert settings.logout_path == "/auth/tiktok/logout"
    assert settings.login_redirect == "/"
    assert settings.error_redirect is None
    assert settings.pkce == "base64url"
    assert settings.disable_auto_auth is False
    assert settings.cookie_secure is None
    assert settings.scopes == ("user.info.basic",)


def test_default_endpoints_are_tiktok_v2_with_trailing_slashes() -> None:
    settings = make()
    assert settings.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert settings.token_url == "https://open.tiktokapis.com/v2/oauth/token/"
    assert settings.userinfo_url == "https://open.tiktokapis.com/v2/user/info/"
    assert settings.revoke_url == "https://open.tiktokapis.com/v2/oauth/revoke/"


def test_secure_cookies_follow_redirect_uri_scheme() -> None:
    assert make().secure_cookies is True
    local = make(redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback")
    assert local.secure_cookies is False
    forced = make(redirect_uri="http://127.0.0.1:8000/auth/tiktok/callback", cookie_secure=True)
    assert forced.secure_cookies is True


def test_insecure_cookies_with_https_redirect_rejected() -> None:
    with pytest.raises(ValueError, match="leave cookie_secure=None"):
        make(cookie_secure=False)


def test_redirect_uri_must_end_with_callback_path() -> None:
    with pytest.raises(ValueError, match="must end with callback_path"):
        make(redirect_uri="https://app.example/oauth/done")
    settings = make(redirect_uri="https://app.example/oauth/done", callback_path="/oauth/done")
    assert settings.callback_path == "/oauth/done"


def test_paths_must_differ() -> None:
    with pytest.raises(ValueError, match="three different paths"):
        make(logout_path="/auth/tiktok/login")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "me"])
def test_login_and_error_redirect_must_be_local(target: str) -> None:
    with pytest.raises(ValueError, match="login_redirect must be a path on this site"):
        make(login_redirect=target)
    with pytest.raises(ValueError, match="error_redirect must be a path on this site"):
        make(error_redirect=target)


def test_scopes_validated() -> None:
    with pytest.raises(ValueError, match="not one string"):
        make(scopes="user.info.basic")
    with pytest.raises(ValueError, match=r"must include \"user.info.basic\""):
        make(scopes=("user.info.profile",))
    with pytest.raises(ValueError, match="not a TikTok scope name"):
        make(scopes=("user.info.basic,user.info.profile",))
    settings = make(scopes=["user.info.basic", "user.info.profile", "user.info.basic"])
    assert settings.scopes == ("user.info.basic", "user.info.profile")


def test_flow_max_age_bounded() -> None:
    with pytest.raises(ValueError, match="flow_max_age"):
        make(flow_max_age=601)
    with pytest.raises(ValueError, match="flow_max_age"):
        make(flow_max_age=0)


def test_pkce_values() -> None:
    assert make(pkce="hex").pkce == "hex"
    assert make(pkce="base64url").pkce == "base64url"
    assert make(pkce=None).pkce is None  # only when asked for
    with pytest.raises(ValueError, match='pkce must be "base64url"'):
        make(pkce="plain")


def test_replace_revalidates() -> None:
    settings = make()
    changed = settings.replace(login_redirect="/home")
    assert changed.login_redirect == "/home"
    assert settings.login_redirect == "/"
    with pytest.raises(ValueError, match="secret_key"):
        settings.replace(secret_key="short")
