"""Settings that say everything at once: every missing or malformed variable in one error, typos
named with the variable they probably meant, and the usual shape mistakes named with their fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tiktok_asgi import TikTokSettings

KEY = "k" * 40
REQUIRED = {
    "TIKTOK_CLIENT_KEY": "ck-123",
    "TIKTOK_CLIENT_SECRET": "cs-456",
    "TIKTOK_REDIRECT_URI": "https://app.example.com/auth/tiktok/callback",
    "TIKTOK_SECRET_KEY": KEY,
}
SETTINGS = {
    "client_key": "ck",
    "client_secret": "cs",
    "redirect_uri": "https://app.example.com/auth/tiktok/callback",
    "secret_key": KEY,
}


def test_every_missing_and_malformed_variable_in_one_error() -> None:
    environ = {
        "TIKTOK_CLIENT_KEY": "ck-123",
        "TIKTOK_COOKIE_MAX_AGE": "two weeks",
        "TIKTOK_COOKIE_SECURE": "sometimes",
    }
    with pytest.raises(ValueError, match=r"^5 problems") as info:
        TikTokSettings.from_env(environ=environ)
    message = str(info.value)
    assert message.startswith("5 problems with the TIKTOK_* environment variables:")
    for expected in (
        "TIKTOK_CLIENT_SECRET is not set: set it to the Client secret",
        "TIKTOK_REDIRECT_URI is not set",
        "TIKTOK_SECRET_KEY is not set",
        "TIKTOK_COOKIE_MAX_AGE='two weeks' is malformed",
        "TIKTOK_COOKIE_SECURE='sometimes' is malformed: expected true/false",
    ):
        assert f"\n  - {expected}" in message


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("TIKTOK_SCOPE", "TIKTOK_SCOPES"),
        ("TIKTOK_CLIENTKEY", "TIKTOK_CLIENT_KEY"),
        ("TIKTOK_REDIRECT_URL", "TIKTOK_REDIRECT_URI"),
        ("TIKTOK_PROTECTED_PATH", "TIKTOK_PROTECTED_PATHS"),
    ],
)
def test_a_typo_names_the_variable_it_probably_meant(typo: str, meant: str) -> None:
    with pytest.raises(ValueError, match=rf"^{typo} is not a setting: did you mean {meant}\?"):
        TikTokSettings.from_env(environ={**REQUIRED, typo: "x"})


def test_an_unrelated_variable_lists_the_settings_and_other_prefixes_are_ignored() -> None:
    with pytest.raises(ValueError, match="TIKTOK_ZZZ is not a setting: the settings are ") as info:
        TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_ZZZ": "1"})
    assert "TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET" in str(info.value)
    assert "another prefix" in str(info.value)
    settings = TikTokSettings.from_env(environ={**REQUIRED, "OTHER_SCOPE": "x", "TIKTOKEN": "y"})
    assert settings.client_key == "ck-123"


def test_a_typo_in_the_env_file_is_reported_with_the_missing_variables(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TIKTOK_CLIENT_KEY=ck\nTIKTOK_SCOPE=user.info.basic\n")
    with pytest.raises(ValueError, match=r"^4 problems") as info:
        TikTokSettings.from_env(env_file=dotenv, environ={})
    message = str(info.value)
    assert message.startswith("4 problems")
    assert "TIKTOK_SCOPE is not a setting: did you mean TIKTOK_SCOPES?" in message
    assert "TIKTOK_SECRET_KEY is not set" in message


def test_a_string_for_protected_paths_names_the_fix() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "protected_paths must be a sequence of path prefixes, not one string: "
            "write protected_paths=('/app',)"
        ),
    ):
        TikTokSettings(**SETTINGS, protected_paths="/app")
    assert TikTokSettings(**SETTINGS, protected_paths=("/app",)).protected_paths == ("/app",)


def test_space_separated_scopes_name_the_fix() -> None:
    fix = (
        "scope 'user.info.basic user.info.profile' holds several scope names: give each one on "
        "its own, scopes=('user.info.basic', 'user.info.profile'), or in TIKTOK_SCOPES "
        "separated by commas"
    )
    with pytest.raises(ValueError, match=re.escape(fix)):
        TikTokSettings(**SETTINGS, scopes=("user.info.basic user.info.profile",))
    with pytest.raises(ValueError, match=re.escape(fix)):
        TikTokSettings.from_env(
            environ={**REQUIRED, "TIKTOK_SCOPES": "user.info.basic user.info.profile"}
        )
    with pytest.raises(ValueError, match="not one string"):
        TikTokSettings(**SETTINGS, scopes="user.info.basic")
