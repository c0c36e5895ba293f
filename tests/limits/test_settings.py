"""A wrong limit fails at start-up with a message naming the fix; the environment can turn the
limits off."""

from __future__ import annotations

from typing import Any

import pytest

from tiktok_asgi import TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.limits import Rate, RequestLimits

REQUIRED = {
    "TIKTOK_CLIENT_KEY": "key",
    "TIKTOK_CLIENT_SECRET": "secret",
    "TIKTOK_REDIRECT_URI": "https://example.com/auth/tiktok/callback",
    "TIKTOK_SECRET_KEY": "k" * 40,
}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"per_client": 0}, r"per_client must be a whole number, 1 or more \(e\.g\. Rate\("),
        ({"per_client": 2.5}, "per_client must be a whole number"),
        ({"per_client": True}, "per_client must be a whole number"),
        ({"per_client": 5, "per_browser": 0}, "per_browser must be a whole number.*or None"),
        ({"per_client": 5, "per_browser": 6}, "lower per_browser or raise per_client"),
        ({"per_client": 5, "window": 0}, "window must be a whole number"),
        ({"per_client": 5, "window": 7200}, "use a shorter window and a smaller count"),
    ],
)
def test_a_wrong_rate_names_the_fix(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rate(**arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"login": 100}, r"login must be a Rate, e\.g\. Rate\(per_client=600.*or None"),
        ({"max_query_bytes": 100}, "max_query_bytes must be at least 1024"),
        ({"max_query_bytes": "8k"}, "max_query_bytes must be a whole number"),
        ({"max_tracked": 10}, "max_tracked must be at least 1000"),
    ],
)
def test_wrong_limits_name_the_fix(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RequestLimits(**arguments)


def test_the_settings_take_limits_or_none(tiktok_emulator: TikTokEmulator) -> None:
    assert tiktok_emulator.settings().limits == RequestLimits()
    assert tiktok_emulator.settings(limits=None).limits is None
    with pytest.raises(ValueError, match=r"limits must be a RequestLimits .* or None"):
        tiktok_emulator.settings(limits={"login": 5})
    tight = RequestLimits(login=Rate(per_client=5))
    assert tiktok_emulator.settings(limits=tight).replace(scopes=("user.info.basic",)).limits == (
        tight
    )


def test_the_defaults_leave_room_for_many_people_behind_one_address() -> None:
    limits = RequestLimits()
    assert limits.login == Rate(per_client=1200, per_browser=30, window=60)
    assert limits.qr_status is not None
    assert limits.qr_status.per_browser == 120  # 6 x the page's poll every 3 s
    assert limits.max_query_bytes == 8192


@pytest.mark.parametrize(("value", "expected"), [("off", None), ("on", RequestLimits())])
def test_the_environment_turns_them_off(value: str, expected: RequestLimits | None) -> None:
    settings = TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_LIMITS": value})
    assert settings.limits == expected


def test_a_malformed_switch_names_the_values() -> None:
    with pytest.raises(ValueError, match=r"TIKTOK_LIMITS='some' is malformed: expected .*on/off"):
        TikTokSettings.from_env(environ={**REQUIRED, "TIKTOK_LIMITS": "some"})
