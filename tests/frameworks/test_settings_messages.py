"""Settings that say everything at once: every missing or malformed variable in one error, typos
named with the variable they probably meant, and the usual shape mistakes named with their fix."""

from __future__ import annotations

import logging
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
        ("TIKTOK_CLIENT_SECERT", "TIKTOK_CLIENT_SECRET"),  # two letters swapped
        ("TIKTOK_PKC", "TIKTOK_PKCE"),
    ],
)
def test_a_typo_names_the_variable_it_probably_meant(typo: str, meant: str) -> None:
    with pytest.raises(ValueError, match=rf"^{typo} is not a setting: did you mean {meant}\?"):
        TikTokSettings.from_env(environ={**REQUIRED, typo: "x"})


@pytest.mark.parametrize(
    "name",
    ["TIKTOK_ADS_API_TOKEN", "TIKTOK_ZZZ", "TIKTOK_CLIENT_ID", "TIKTOK_SECRET", "TIKTOK_PIXEL"],
)
def test_a_variable_not_close_to_any_setting_is_another_programs_and_ignored(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tiktok_asgi"):
        settings = TikTokSettings.from_env(environ={**REQUIRED, name: "x", "OTHER_SCOPE": "y"})
    assert settings.client_key == "ck-123"
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    ignored = f"{name} is not a setting and not close to one: ignored"
    assert caplog.records[0].getMessage() == ignored
    with_a_typo = {**REQUIRED, name: "x", "TIKTOK_SCOPE": "user.info.basic"}
    with pytest.raises(ValueError, match=r"^TIKTOK_SCOPE is not a setting") as info:
        TikTokSettings.from_env(environ=with_a_typo)
    assert name not in str(info.value)  # the typo alone, not the other program's variable


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
