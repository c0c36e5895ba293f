"""The emulator's public names, its configuration checks and its generated users."""

from __future__ import annotations

import pytest
from tests.emulator.helpers import authorize_url

import tiktok_asgi.emulator as emulator_package
from tiktok_asgi.emulator import EmulatorUser, Fault, TikTokEmulator


def test_public_names_are_pinned() -> None:
    assert sorted(emulator_package.__all__) == [
        "EmulatorRejected",
        "EmulatorUser",
        "Fault",
        "FaultKind",
        "PendingWebhook",
        "RecordedRequest",
        "TEST_SECRET_KEY",
        "TikTokEmulator",
        "WebhookAttempt",
    ]
    for name in emulator_package.__all__:
        assert getattr(emulator_package, name) is not None


def test_defaults() -> None:
    emu = TikTokEmulator()
    assert emu.client_key == "emulator-client-key"
    assert emu.client_secret == "emulator-client-secret"
    assert emu.redirect_uris == (
        "https://testserver/auth/tiktok/callback",
        "http://127.0.0.1:8000/auth/tiktok/callback",
        "http://localhost:8000/auth/tiktok/callback",
    )
    assert emu.approved_scopes == (
        "user.info.basic",
        "user.info.profile",
        "user.info.stats",
        "video.list",
    )
    assert 5 <= len(emu.users) <= 6
    assert len({u.open_id for u in emu.users}) == len(emu.users)
    assert emu.requests == []
    assert len(emulator_package.TEST_SECRET_KEY) == 48


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"client_key": ""}, "client_key"),
        ({"redirect_uris": ["https://a.example/cb?x=1"]}, "query"),
        ({"redirect_uris": ["https://a.example/cb#top"]}, "fragment"),
        ({"redirect_uris": ["http://a.example/cb"]}, "https"),
        ({"redirect_uris": ["https://a.example/" + "x" * 500]}, "512"),
        ({"redirect_uris": [f"https://a.example/{i}" for i in range(11)]}, "at most 10"),
        ({"redirect_uris": "https://a.example/cb"}, "sequence"),
        ({"approved_scopes": ["user info"]}, "scope name"),
        ({"app_type": "mobile"}, "app_type"),
        ({"pkce": "hex"}, "pkce"),
        ({"code_ttl": 0}, "code_ttl"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"token_error_status": 100}, "token_error_status"),
    ],
)
def test_configuration_is_checked(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises((ValueError, TypeError), match=words):
        TikTokEmulator(**kwargs)  # type: ignore[arg-type]


def test_registering_an_eleventh_redirect_uri_fails() -> None:
    emu = TikTokEmulator(redirect_uris=[f"https://a.example/{i}" for i in range(10)])
    with pytest.raises(ValueError, match="at most 10"):
        emu.register_redirect_uri("https://a.example/new")
    emu.register_redirect_uri("https://a.example/3")  # already there: fine


def test_generated_users_are_distinct_and_stable() -> None:
    users = EmulatorUser.generate(1000)
    assert len(users) == 1000
    for attribute in ("open_id", "union_id", "display_name", "username"):
        assert len({getattr(u, attribute) for u in users}) == 1000
    assert users == EmulatorUser.generate(1000)
    emu = TikTokEmulator(users=users)
    assert emu.user(users[999].username) == users[999]


def test_users_can_be_added_but_not_duplicated() -> None:
    emu = TikTokEmulator(users=[])
    user = EmulatorUser(username="first.one", display_name="First One", open_id="open-1")
    emu.add_user(user)
    assert emu.user("open-1") is user
    assert emu.user("@first.one") is user
    with pytest.raises(ValueError, match="already exists"):
        emu.add_user(EmulatorUser(username="first.one", display_name="Copy"))
    with pytest.raises(LookupError):
        emu.user("second")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"username": "has space", "display_name": "x"}, "username"),
        ({"username": "ok_name", "display_name": " "}, "display_name"),
        ({"username": "ok_name", "display_name": "x", "open_id": "a/b"}, "open_id"),
        ({"username": "ok_name", "display_name": "x", "follower_count": -1}, "negative"),
    ],
)
def test_user_fields_are_checked(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EmulatorUser(**kwargs)  # type: ignore[arg-type]


def test_initials() -> None:
    assert EmulatorUser(username="a_b", display_name="Maya Chen").initials == "MC"
    assert EmulatorUser(username="a_b", display_name="Sam").initials == "S"


def test_request_log_is_bounded() -> None:
    assert TikTokEmulator()._core.state.request_log_size == 10_000
    emu = TikTokEmulator(request_log_size=5)
    urls = [authorize_url(emu, state=f"s{i}") for i in range(8)]
    for url in urls:
        emu.approve(url)
    assert len(emu.requests) == 5
    assert [r.query["state"] for r in emu.requests] == [[f"s{i}"] for i in range(3, 8)]
    assert emu.count("authorize") == 5
    with pytest.raises(ValueError, match="request_log_size"):
        TikTokEmulator(request_log_size=0)


@pytest.mark.parametrize("method", ["count", "inject"])
def test_endpoint_names_are_checked(method: str) -> None:
    emu = TikTokEmulator()
    args: tuple[object, ...] = ("tokens",) if method == "count" else ("tokens", Fault.status(500))
    with pytest.raises(ValueError, match="authorize, token, revoke, userinfo, video_list"):
        getattr(emu, method)(*args)
