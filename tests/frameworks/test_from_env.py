"""TikTokSettings.from_env: every setting by its upper-cased name, types, lists, a .env file,
and errors that name the variable and the fix."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tiktok_asgi import TikTokSettings

KEY_A = "a" * 40
KEY_B = "b" * 40
REQUIRED = {
    "TIKTOK_CLIENT_KEY": "ck-123",
    "TIKTOK_CLIENT_SECRET": "cs-456",
    "TIKTOK_REDIRECT_URI": "https://app.example.com/auth/tiktok/callback",
    "TIKTOK_SECRET_KEY": KEY_A,
}
EVERYTHING = {
    **REQUIRED,
    "TIKTOK_REDIRECT_URI": "https://app.example.com/oauth/done",
    "TIKTOK_SECRET_KEY": f"{KEY_A}, {KEY_B}",
    "TIKTOK_SCOPES": "user.info.basic, user.info.stats,video.list",
    "TIKTOK_LOGIN_PATH": "/signin",
    "TIKTOK_CALLBACK_PATH": "/oauth/done",
    "TIKTOK_LOGOUT_PATH": "/signout",
    "TIKTOK_DISCONNECT_PATH": "/leave",
    "TIKTOK_QR_PATH": "/tv",
    "TIKTOK_EXCHANGE_PATH": "/native",
    "TIKTOK_NATIVE_REDIRECT_URIS": "https://app.example.com/tiktok, myapp://tiktok",
    "TIKTOK_LOGIN_REDIRECT": "/home",
    "TIKTOK_ERROR_REDIRECT": "/oops",
    "TIKTOK_PROTECTED_PATHS": "/app,/admin",
    "TIKTOK_PKCE": "hex",
    "TIKTOK_DISABLE_AUTO_AUTH": "yes",
    "TIKTOK_LOCALE": "pt-BR",
    "TIKTOK_COOKIE_NAME": "sid",
    "TIKTOK_COOKIE_DOMAIN": "example.com",
    "TIKTOK_COOKIE_PATH": "/",
    "TIKTOK_COOKIE_MAX_AGE": "3600",
    "TIKTOK_COOKIE_SECURE": "true",
    "TIKTOK_FLOW_MAX_AGE": "300",
    "TIKTOK_ALLOWED_ORIGINS": "https://app.example.com, https://www.example.com",
    "TIKTOK_HTTP_TIMEOUT": "2.5",
    "TIKTOK_LIMITS": "off",
    "TIKTOK_WEBHOOK_PATH": "/auth/tiktok/webhook",
    "TIKTOK_WEBHOOK_TOLERANCE": "120",
    "TIKTOK_PROFILE_MAX_AGE": "3600",
    "TIKTOK_AUTHORIZE_URL": "http://127.0.0.1:8790/v2/auth/authorize/",
    "TIKTOK_TOKEN_URL": "http://127.0.0.1:8790/v2/oauth/token/",
    "TIKTOK_USERINFO_URL": "http://127.0.0.1:8790/v2/user/info/",
    "TIKTOK_REVOKE_URL": "http://127.0.0.1:8790/v2/oauth/revoke/",
    "TIKTOK_API_BASE_URL": "http://127.0.0.1:8790",
}


def test_every_setting_has_a_variable() -> None:
    names = {f"TIKTOK_{f.name.upper()}" for f in dataclasses.fields(TikTokSettings) if f.init}
    assert names == set(EVERYTHING)


def test_every_variable_is_read_with_its_type() -> None:
    settings = TikTokSettings.from_env(environ=EVERYTHING)
    assert settings == TikTokSettings(
        client_key="ck-123",
        client_secret="cs-456",
        redirect_uri="https://app.example.com/oauth/done",
        secret_key=(KEY_A, KEY_B),
        scopes=("user.info.basic", "user.info.stats", "video.list"),
        login_path="/signin",
        callback_path="/oauth/done",
        logout_path="/signout",
        disconnect_path="/leave",
        qr_path="/tv",
        exchange_path="/native",
        native_redirect_uris=("https://app.example.com/tiktok", "myapp://tiktok"),
        login_redirect="/home",
        error_redirect="/oops",
        protected_paths=("/app", "/admin"),
        pkce="hex",
        disable_auto_auth=True,
        locale="pt",
        cookie_name="sid",
        cookie_domain="example.com",
        cookie_path="/",
        cookie_max_age=3600,
        cookie_secure=True,
        flow_max_age=300,
        allowed_origins=("https://app.example.com", "https://www.example.com"),
        http_timeout=2.5,
        limits=None,
        webhook_path="/auth/tiktok/webhook",
        webhook_tolerance=120,
        profile_max_age=3600,
        authorize_url="http://127.0.0.1:8790/v2/auth/authorize/",
        token_url="http://127.0.0.1:8790/v2/oauth/token/",
        userinfo_url="http://127.0.0.1:8790/v2/user/info/",
        revoke_url="http://127.0.0.1:8790/v2/oauth/revoke/",
        api_base_url="http://127.0.0.1:8790",
    )
    assert settings.secret_keys == (KEY_A, KEY_B)  # newest last: KEY_B signs
    assert type(settings.cookie_max_age) is int
    assert type(settings.http_timeout) is float


def test_defaults_and_a_single_key() -> None:
    settings = TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_ERROR_REDIRECT": ""})
    assert settings.secret_key == KEY_A
    assert settings.scopes == ("user.info.basic",)
    assert settings.error_redirect is None  # empty means unset
    assert settings.cookie_secure is None
    assert settings.protected_paths == ()


def test_prefix() -> None:
    environ = {k.replace("TIKTOK_", "MYAPP_TT_"): v for k, v in REQUIRED.items()}
    assert TikTokSettings.from_env("MYAPP_TT_", environ=environ).client_key == "ck-123"
    with pytest.raises(ValueError, match="TIKTOK_CLIENT_KEY is not set"):
        TikTokSettings.from_env(environ=environ)


def test_dotenv_file_and_the_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "".join(f"{k}={v}\n" for k, v in REQUIRED.items())
        + "TIKTOK_SCOPES=user.info.basic,user.info.profile\nTIKTOK_COOKIE_MAX_AGE=60\n"
    )
    from_file = TikTokSettings.from_env(env_file=dotenv, environ={})
    assert from_file.client_key == "ck-123"
    assert from_file.scopes == ("user.info.basic", "user.info.profile")
    assert from_file.cookie_max_age == 60

    overridden = TikTokSettings.from_env(
        env_file=str(dotenv), environ={"TIKTOK_CLIENT_KEY": "from-env", "TIKTOK_PKCE": "hex"}
    )
    assert (overridden.client_key, overridden.pkce, overridden.cookie_max_age) == (
        "from-env",
        "hex",
        60,
    )

    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "process-env")
    assert TikTokSettings.from_env(env_file=dotenv).client_key == "process-env"


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("TIKTOK_CLIENT_KEY", "Client key from the TikTok app console"),
        ("TIKTOK_CLIENT_SECRET", "Client secret from the TikTok app console"),
        ("TIKTOK_REDIRECT_URI", "callback URL registered in the TikTok app console"),
        ("TIKTOK_SECRET_KEY", "32+ characters, comma-separated, newest last"),
    ],
)
def test_missing_variable_names_itself_and_the_fix(name: str, fix: str) -> None:
    environ = {k: v for k, v in REQUIRED.items() if k != name}
    with pytest.raises(ValueError, match=rf"^{name} is not set: set it to .*{re.escape(fix)}"):
        TikTokSettings.from_env(environ=environ)
    with pytest.raises(ValueError, match=rf"^{name} is not set"):
        TikTokSettings.from_env(environ={**environ, name: "  "})


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("TIKTOK_COOKIE_MAX_AGE", "two weeks", "invalid literal for int"),
        ("TIKTOK_HTTP_TIMEOUT", "fast", "could not convert string to float"),
        ("TIKTOK_DISABLE_AUTO_AUTH", "maybe", "expected true/false, 1/0, yes/no or on/off"),
        ("TIKTOK_COOKIE_SECURE", "sometimes", "expected true/false"),
    ],
)
def test_malformed_variable_names_itself(name: str, value: str, fix: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}='{value}' is malformed: {fix}"):
        TikTokSettings.from_env(environ={**REQUIRED, name: value})


def test_invalid_value_keeps_the_settings_fix_and_says_where_it_came_from() -> None:
    environ = {**REQUIRED, "TIKTOK_REDIRECT_URI": "http://app.example.com/auth/tiktok/callback"}
    with pytest.raises(ValueError, match="redirect_uri must be an absolute https URL") as info:
        TikTokSettings.from_env(environ=environ)
    assert "TIKTOK_* environment variables" in str(info.value)
    with pytest.raises(ValueError, match="at least 32 characters"):
        TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_SECRET_KEY": f"{KEY_A},short"})
    with pytest.raises(ValueError, match=r"user\.info\.basic"):
        TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_SCOPES": "video.list"})


def test_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"env_file .*nope\.env.* does not exist"):
        TikTokSettings.from_env(env_file=tmp_path / "nope.env", environ=REQUIRED)


@pytest.mark.parametrize(("value", "expected"), [("", "base64url"), ("none", None), ("OFF", None)])
def test_pkce_is_on_unless_turned_off_by_name(value: str, expected: str | None) -> None:
    settings = TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_PKCE": value})
    assert settings.pkce == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "/auth/tiktok/disconnect"), ("none", None), ("Off", None), ("/bye", "/bye")],
)
def test_disconnect_path_is_on_unless_turned_off_by_name(value: str, expected: str | None) -> None:
    environ = {**REQUIRED, "TIKTOK_DISCONNECT_PATH": value}
    assert TikTokSettings.from_env(environ=environ).disconnect_path == expected
