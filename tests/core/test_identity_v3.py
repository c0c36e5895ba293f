"""The identity cookie's ``v3`` format at TikTok's real size, ``v2`` cookies still read, and the
verified-cookie cache's policy."""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import json
import random
import re
import string
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import tiktok_asgi._cookies.identity as identity_module
from tests.conftest import BASE_URL, make_app
from tests.core.helpers import CLIENT_KEY, IDENTITY_LAYOUT, IdentityCodec, b64url
from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi._cookies.compact import text
from tiktok_asgi._cookies.identity import SWEEP_SECONDS, Identity, IdentityCookie
from tiktok_asgi.emulator import TikTokEmulator

KEY = "identity-v3-test-key-" + "k" * 40
OLD_KEY = "identity-v3-old-key-" + "o" * 40
COOKIE = "__Host-tiktok_session"
# What a v3 value is written with: URL characters and "+ ! * |", nothing a cookie or an
# Authorization header cannot carry as it is.
SAFE = set(string.ascii_letters + string.digits + "-._~:/?=&%@" + "+!*|")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "how-it-works.md"


def tiktok_avatars(seed: str) -> tuple[str, str, str]:
    """Three avatar URLs as TikTok gives them today (~290 characters, one picture at three
    sizes, each signed on its own)."""
    rng = random.Random(seed)

    def chars(n: int, alphabet: str = "0123456789abcdef") -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    picture = chars(32)
    urls = [
        f"https://p16-common-sign.tiktokcdn-us.com/tos-maliva-avt-0068/{picture}"
        f"~tplv-tiktokx-cropcenter:{size}:{size}.jpeg?dr={rng.randint(9000, 9999)}"
        f"&refresh_token={chars(8)}&x-expires=1786885200"
        f"&x-signature={chars(28, string.ascii_letters + string.digits)}%3D&t=4d5b0474"
        "&ps=13740610&shp=a5d48078&shcp=81f88b70&idc=useast5"
        for size in (168, 100, 1080)
    ]
    return urls[0], urls[1], urls[2]


def tiktok_user(seed: str = "maya", **changes: Any) -> TikTokUser:
    small, medium, large = tiktok_avatars(seed)
    user = TikTokUser(
        open_id="-000Ld9tNs3cVTqTKnOO9X8cK6zTZ4rVTHnG",
        union_id="c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
        display_name="Maya Chen",
        avatar_url=small,
        avatar_url_100=medium,
        avatar_large_url=large,
        username="maya.cooks",
        bio_description="Weeknight recipes in 60 seconds",
        profile_deep_link="https://vm.tiktok.com/ZMexample/",
        is_verified=False,
        follower_count=1_284_310,
        following_count=212,
        likes_count=48_902_117,
        video_count=412,
        granted_scopes=("user.info.basic", "user.info.profile", "user.info.stats"),
    )
    return dataclasses.replace(user, **changes)


def settings(**changes: Any) -> TikTokSettings:
    return TikTokSettings(
        client_key=changes.pop("client_key", CLIENT_KEY),
        client_secret="cs",
        redirect_uri="https://app.example/auth/tiktok/callback",
        secret_key=changes.pop("secret_key", KEY),
        **changes,
    )


def value_of(cookie: IdentityCookie, identity: Identity) -> str:
    header = cookie.encode(identity)
    name, _, value = header.split(";", 1)[0].partition("=")
    assert name == COOKIE
    return value


def headers(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"app.example"), (b"cookie", f"theme=dark; {COOKIE}={value}".encode())]


def fresh(value: str) -> str:
    """The same text as another ``str`` object, as each request brings its own."""
    return "".join(list(value))


class Clock:
    """Stands in for the ``time`` module of the identity cookie."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


# v3 at TikTok's size -----------------------------------------------------------------------------


def test_a_tiktok_sized_profile_round_trips_in_about_half_of_v2s_length() -> None:
    cookie = IdentityCookie(settings())
    user = tiktok_user()
    assert all(280 <= len(url) <= 300 for url in tiktok_avatars("maya"))
    value = value_of(cookie, Identity(user, "s" * 43))
    assert value.startswith("v3.")
    assert set(value) <= SAFE
    v2 = IdentityCodec([KEY]).dumps(user.to_dict() | {"sid": "s" * 43}, version="v2")
    assert len(value) < 0.6 * len(v2), (len(value), len(v2))
    assert len(value) < 900  # the three URLs share most of their text
    for reader in (IdentityCookie(settings()), cookie, cookie):
        identity = reader.read(headers(fresh(value)))
        assert identity == Identity(user, "s" * 43)
    assert IdentityCodec([KEY]).loads(value) == user.to_dict() | {"sid": "s" * 43}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"avatar_url_100": None, "avatar_large_url": None},  # only the main URL
        {"avatar_url": None},  # the others without it
        {"avatar_large_url": None},
        {"avatar_url_100": "https://elsewhere.example/a.png"},  # nothing shared
        {"avatar_url_100": tiktok_avatars("maya")[0]},  # the same as avatar_url
        {"avatar_url": "", "avatar_url_100": "", "avatar_large_url": ""},
        {
            "avatar_url": "https://a.example/x*y|z!+ é~.jpg",
            "avatar_large_url": "https://a.example/x*Y|z!+ é~.jpg",
        },
        {"bio_description": "", "username": "", "union_id": "", "profile_deep_link": ""},
        {"display_name": "", "granted_scopes": (), "is_verified": True, "video_count": 0},
        {"display_name": "小明 🎈", "bio_description": "日本語のテキスト" * 9},  # base64 wins
        {"display_name": "!!x", "username": "!", "bio_description": 'a+b c|d*e!f%20;,"\\'},
        {"extra": {"app_user_id": 7, "roles": ["admin"], "note": "a b+c|d", "n": {"x": None}}},
        {"display_name": "lone \ud800 surrogate"},
    ],
)
def test_every_shape_of_profile_round_trips(changes: dict[str, Any]) -> None:
    cookie = IdentityCookie(settings())
    user = tiktok_user(**changes)
    for sid in (None, "sid-" + "x" * 39, ""):
        value = value_of(cookie, Identity(user, sid))
        assert set(value) <= SAFE, set(value) - SAFE
        identity = IdentityCookie(settings()).read(headers(value))
        assert identity == Identity(user, sid)
        assert identity is not None
        assert identity.user.to_dict() == user.to_dict()
        assert IdentityCodec([KEY]).loads(value) == user.to_dict() | (
            {} if sid is None else {"sid": sid}
        )


def test_text_keeps_url_characters_and_escapes_the_rest() -> None:
    rng = random.Random(3)
    alphabet = string.printable + "é中🎈\ud800|*!+"
    for _ in range(500):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        written = text(value)
        assert written
        assert set(written) <= SAFE - {"|", "*"}
        assert "|" not in written
        assert "*" not in written
    url = tiktok_avatars("x")[0]
    assert text(url) == url
    assert text("Maya Chen") == "Maya+Chen"
    assert text("a+b") == "a!2Bb"
    assert text("Zoë") == "Zo!C3!AB"
    assert text("") == "!"


def test_the_documented_format_of_the_avatars() -> None:
    cookie = IdentityCookie(settings())
    user = tiktok_user()
    value = value_of(cookie, Identity(user))
    payload = value[3 : value.rfind(".", 0, value.rfind("."))]
    elements = payload.split("|")
    first, medium, large = elements[5:8]
    head, middle, tail = first.split("*")
    assert head + middle + tail == user.avatar_url
    assert head + medium == user.avatar_url_100[: -len(tail)]
    assert user.avatar_large_url == head + large + tail
    assert len(head) > 100  # what one picture's three URLs share
    assert len(tail) > 50


def test_every_documented_attribute_of_the_user_is_there() -> None:
    documented = re.search(r"with the attributes `([^`]+)`", " ".join(DOCS.read_text().split()))
    assert documented is not None
    names = [n.strip() for n in documented.group(1).split(",")]
    assert set(names) == {f.name for f in dataclasses.fields(TikTokUser)}
    cookie = IdentityCookie(settings())
    full = tiktok_user(extra={"app_user_id": 7})
    bare = TikTokUser(open_id="only-an-open-id")
    for user in (full, bare):
        for sid in (None, "sid-1"):
            read = cookie.read(headers(fresh(value_of(cookie, Identity(user, sid)))))
            assert read is not None
            got = read.user
            assert type(got) is TikTokUser
            for name in names:
                assert getattr(got, name) == getattr(user, name), name
                assert type(getattr(got, name)) is type(getattr(user, name)), name
            assert got.is_authenticated is True
            assert got.identity == got.open_id == got.get_username() == user.open_id
            assert got.display_name == user.display_name
            assert not got.has_perm("any.permission")
            assert hash(got) == hash(user)
            assert got == user
            with pytest.raises(dataclasses.FrozenInstanceError):
                got.open_id = "someone-else"  # type: ignore[misc]
            with pytest.raises(TypeError):
                got.extra["x"] = 1  # type: ignore[index]
    assert bare.avatar_url is None
    assert bare.granted_scopes == ()
    assert bare.extra == {}


def test_a_changed_character_anywhere_is_refused() -> None:
    cookie = IdentityCookie(settings())
    value = value_of(cookie, Identity(tiktok_user(), "s" * 43))
    assert cookie.read(headers(value)) is not None  # remembered
    rng = random.Random(7)
    for at in range(len(value)):
        other = rng.choice([c for c in sorted(SAFE) if c != value[at]])
        changed = value[:at] + other + value[at + 1 :]
        assert cookie.read(headers(changed)) is None, at
        assert IdentityCookie(settings()).read(headers(changed)) is None, at
    # Elements dropped, added, swapped or moved; a v2 label on a v3 text.
    signed, _, mac = value.rpartition(".")
    head, _, issued = signed.rpartition(".")
    elements = head[3:].split("|")
    for variant in (
        elements[:-1],
        [*elements, ""],
        [elements[1], elements[0], *elements[2:]],
        [*elements[:5], elements[6], elements[5], *elements[7:]],
    ):
        forged = f"v3.{'|'.join(variant)}.{issued}.{mac}"
        assert cookie.read(headers(forged)) is None
    assert cookie.read(headers(f"v2.{head[3:]}.{issued}.{mac}")) is None
    assert cookie.read(headers(value)) is not None  # the real one still is


def test_key_rotation() -> None:
    old = IdentityCookie(settings(secret_key=OLD_KEY))
    rotated = IdentityCookie(settings(secret_key=[OLD_KEY, KEY]))
    new_only = IdentityCookie(settings(secret_key=KEY))
    user = tiktok_user()
    minted = value_of(old, Identity(user, "s-1"))
    assert rotated.read(headers(minted)) == Identity(user, "s-1")
    assert new_only.read(headers(minted)) is None
    renewed = value_of(rotated, Identity(user, "s-1"))  # the newest key signs
    assert new_only.read(headers(renewed)) == Identity(user, "s-1")
    assert old.read(headers(renewed)) is None
    # v2 cookies rotate the same way.
    v2 = IdentityCodec([OLD_KEY]).dumps(user.to_dict(), version="v2")
    assert rotated.read(headers(v2)) == Identity(user)
    assert new_only.read(headers(v2)) is None


# v2 cookies, still read -------------------------------------------------------------------------


def v2_value(user: TikTokUser, sid: str | None, issued: int, key: str = KEY) -> str:
    """A v2 value exactly as the middleware wrote it: a base64url JSON array, trailing defaults
    left out."""
    values: list[Any] = [sid, *(getattr(user, n) for n in IDENTITY_LAYOUT[1:])]
    values[3], values[-1] = list(user.granted_scopes), dict(user.extra)
    defaults = [None, None, "", [], *([None] * 12), {}]
    while len(values) > 2 and values[-1] == defaults[len(values) - 1]:
        values.pop()
    body = b64url(json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode())
    signed = f"v2.{body}.{issued}"
    label = f"tiktok-asgi.identity:{CLIENT_KEY}".encode()
    import hmac

    derived = hmac.new(key.encode(), label, hashlib.sha256).digest()
    return f"{signed}.{b64url(hmac.new(derived, signed.encode(), hashlib.sha256).digest())}"


def test_v2_cookies_are_still_read_until_they_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = IdentityCookie(settings(cookie_max_age=3600))
    clock = Clock()
    monkeypatch.setattr(identity_module, "time", clock)
    for user in (tiktok_user(), TikTokUser(open_id="o"), tiktok_user(extra={"id": 5})):
        for sid in (None, "sid-" + "s" * 40):
            value = v2_value(user, sid, int(clock.now) - 60)
            assert value.startswith("v2.")
            assert IdentityCookie(settings()).read(headers(value)) == Identity(user, sid)
            read = cookie.read(headers(fresh(value)))
            assert read == Identity(user, sid)
            assert read is not None
            assert read.issued == int(clock.now) - 60
            assert cookie.read(headers(fresh(value))) is read  # remembered
    value = v2_value(tiktok_user(), None, int(clock.now) - 60)
    tampered = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    assert cookie.read(headers(tampered)) is None
    assert cookie.read(headers(v2_value(tiktok_user(), None, int(clock.now), OLD_KEY))) is None
    clock.now += 3600 - 59  # an hour after it was signed
    assert cookie.read(headers(value)) is None
    assert IdentityCookie(settings(cookie_max_age=3600)).read(headers(value)) is None


def test_a_browser_with_a_v2_cookie_stays_signed_in(
    tiktok_emulator: TikTokEmulator, tiktok_settings: TikTokSettings
) -> None:
    app = make_app(tiktok_settings, tiktok_emulator.transport())
    user = tiktok_user()
    key = tiktok_settings.secret_keys[-1]
    label = f"tiktok-asgi.identity:{tiktok_settings.client_key}".encode()
    assert label == f"tiktok-asgi.identity:{CLIENT_KEY}".encode()
    value = v2_value(user, None, int(time.time()), key)
    client = TestClient(app, base_url=BASE_URL)
    me = client.get("/me", headers={"cookie": f"{tiktok_settings.cookie_name}={value}"}).json()
    assert me["authenticated"] is True
    assert me["identity"] == user.open_id
    assert me["user"]["avatar_large_url"] == user.avatar_large_url


# The verified-cookie cache -------------------------------------------------------------------


def many(cookie: IdentityCookie, count: int, issued: int | None = None) -> list[str]:
    codec = IdentityCodec([KEY])
    when = int(time.time()) if issued is None else issued
    return [
        codec.dumps({"open_id": f"open-{i:06d}", "display_name": f"User {i:06d}"}, issued=when)
        for i in range(count)
    ]


def counting(cookie: IdentityCookie) -> list[str]:
    """Records each value the cookie verifies (misses), and still verifies it."""
    verified: list[str] = []
    real = cookie._verify

    def verify(value: str) -> Any:
        verified.append(value)
        return real(value)

    cookie._verify = verify  # type: ignore[method-assign]
    return verified


def test_with_more_users_than_fit_the_cache_keeps_serving_the_same_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(identity_module, "time", clock)
    values = many(IdentityCookie(settings()), 400)
    probe = IdentityCookie(settings())
    probe.read_value(values[0])
    size = probe.cache_size()[1]
    cookie = IdentityCookie(settings(), cache_bytes=100 * size)
    for value in values:  # round-robin, more users than fit
        assert cookie.read_value(fresh(value)) is not None
    assert cookie.cache_size()[0] == 100
    kept = set(cookie._cache)
    verified = counting(cookie)
    for _ in range(5):
        clock.now += 1
        for value in values:
            assert cookie.read_value(fresh(value)) is not None
    # The first hundred are hits every round; the other 300 are verified each time: no churn.
    assert set(cookie._cache) == kept
    assert len(verified) == 5 * 300
    assert set(verified) == set(values[100:])
    assert cookie.cache_size()[1] <= 100 * size


def test_a_sweep_lets_go_of_idle_entries_at_most_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(identity_module, "time", clock)
    values = many(IdentityCookie(settings()), 30)
    probe = IdentityCookie(settings())
    probe.read_value(values[0])
    size = probe.cache_size()[1]
    cookie = IdentityCookie(settings(), cache_bytes=10 * size)
    for value in values[:10]:
        cookie.read_value(value)
    assert cookie.cache_size() == (10, 10 * size)
    # Full: the first sweep finds every entry in use (each counts as used when it comes in).
    assert cookie.read_value(values[10]) is not None
    assert cookie.cache_size()[0] == 10
    # Half of them come back; then, before a minute has passed, nothing new gets in.
    for value in values[:5]:
        cookie.read_value(fresh(value))
    clock.now += SWEEP_SECONDS - 1
    assert cookie.read_value(values[11]) is not None
    assert values[11][-43:] not in cookie._cache
    # A minute after the last sweep: the five idle ones go, the newcomer gets in.
    clock.now += 1
    assert cookie.read_value(values[12]) is not None
    assert {entry[4] for entry in cookie._cache.values()} == {*values[:5], values[12]}
    assert cookie.cache_size() == (6, 6 * size)
    # Room left: newcomers get in at once, without a sweep.
    for value in values[13:17]:
        cookie.read_value(value)
    assert cookie.cache_size()[0] == 10


def test_expired_entries_are_never_served_and_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(identity_module, "time", clock)
    cookie = IdentityCookie(settings(cookie_max_age=100))
    values = many(cookie, 20, issued=int(clock.now) - 50)
    for value in values:
        assert cookie.read_value(value) is not None
    assert cookie.cache_size()[0] == 20
    clock.now += 51
    assert cookie.read_value(fresh(values[0])) is None
    assert cookie.cache_size()[0] == 19
    for value in values:
        assert cookie.read_value(value) is None
    assert cookie.cache_size() == (0, 0)


def test_a_value_forged_around_a_remembered_mac_is_no_hit() -> None:
    cookie = IdentityCookie(settings())
    value = value_of(cookie, Identity(tiktok_user(), "sid-1"))
    assert cookie.read(headers(value)) is not None
    forged = value.replace("Maya+Chen", "Mallory", 1)
    assert forged[-43:] == value[-43:]
    assert cookie.read(headers(forged)) is None
    assert cookie.read(headers(value[1:])) is None
    read = cookie.read(headers(fresh(value)))
    assert read is not None
    assert read.user.display_name == "Maya Chen"


def test_the_cache_counts_its_memory_honestly() -> None:
    """What an entry is counted as is what it holds (tracemalloc), give or take a sixth, never
    much less."""
    for user in (tiktok_user(), TikTokUser(open_id="o"), tiktok_user(avatar_url_100=None)):
        cookie = IdentityCookie(settings(), cache_bytes=1 << 30)
        values = [
            value_of(cookie, Identity(dataclasses.replace(user, open_id=f"o-{i:05d}"), "s" * 43))
            for i in range(500)
        ]
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for value in values:
                cookie.read_value(fresh(value))
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        entries, counted = cookie.cache_size()
        assert entries == 500
        assert 0.95 * held <= counted <= 1.2 * held, (user.avatar_url, held, counted)


def test_bearer_tokens_are_v3_under_their_own_key() -> None:
    codec = IdentityCookie(settings(), purpose=b"tiktok-asgi.bearer")
    cookie = IdentityCookie(settings())
    token = codec.encode_value(Identity(tiktok_user(), "sid-9"))
    assert token.startswith("v3.")
    assert set(token) <= SAFE
    assert codec.read_value(token) == Identity(tiktok_user(), "sid-9")
    assert cookie.read_value(token) is None
    assert codec.read_value(cookie.encode_value(Identity(tiktok_user()))) is None
    raw = base64.urlsafe_b64decode(token[-43:] + "=")
    assert len(raw) == 32
