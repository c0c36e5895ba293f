"""Who the app sees: scope["user"] / scope["auth"], from a signed identity cookie."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import random
import string
import time
from typing import Any
from urllib.parse import urlencode

import itsdangerous
import pytest
from itsdangerous import BadData
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, UnauthenticatedUser, requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import tiktok_asgi._cookies.identity
from tests.conftest import BASE_URL, make_app, sign_in, signed_in_client, start_login
from tests.core.helpers import (
    CLIENT_KEY,
    IDENTITY_LAYOUT,
    BadIdentity,
    IdentityCodec,
    b64url,
    cookie_named,
    flow_serializer,
    identity_mac,
    identity_serializer,
    one,
    v1_identity_serializer,
)
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi._cookies.identity import MAX_COOKIE_BYTES, Identity, IdentityCookie
from tiktok_asgi._cookies.signing import Signer
from tiktok_asgi._tiktok.http import MockTransport
from tiktok_asgi._tiktok.http import Request as HTTPRequest
from tiktok_asgi._tiktok.http import Response as HTTPResponse
from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator
from tiktok_asgi.user import SCOPE_FIELDS

OLD_KEY = "old-key-" + "o" * 40
NEW_KEY = "new-key-" + "n" * 40
ALL_FIELDS = [f for names in SCOPE_FIELDS.values() for f in names]


def _capturing_app(
    settings: TikTokSettings, transport: Any
) -> tuple[TikTokAuthMiddleware, list[tuple[Any, Any]]]:
    """The middleware over an app that keeps what it saw in ``scope["user"]`` / ``["auth"]``."""
    seen: list[tuple[Any, Any]] = []

    async def capture(request: Request) -> PlainTextResponse:
        seen.append((request.scope["user"], request.scope["auth"]))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/capture", capture)])
    return TikTokAuthMiddleware(app, settings=settings, transport=transport), seen


@pytest.fixture
def settings(tiktok_emulator: TikTokEmulator) -> TikTokSettings:
    return tiktok_emulator.settings(
        scopes=("user.info.basic", "user.info.profile", "user.info.stats")
    )


def test_signed_in_user_is_a_tiktok_user_with_every_granted_field(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    app, seen = _capturing_app(settings, tiktok_emulator.transport())
    person = tiktok_emulator.user("mayacooks")
    client = signed_in_client(app, settings, tiktok_emulator, user=person)
    assert client.get("/capture").text == "ok"
    user, auth = seen[-1]
    assert isinstance(user, TikTokUser)
    assert user.is_authenticated is True
    assert user.identity == person.open_id
    assert user.open_id == person.open_id
    assert user.union_id == person.union_id
    assert user.display_name == person.display_name
    assert user.username == person.username
    assert user.bio_description == person.bio_description
    assert user.is_verified is person.is_verified
    assert user.profile_deep_link == f"https://vm.tiktok.com/@{person.username}"
    assert user.follower_count == person.follower_count
    assert user.following_count == person.following_count
    assert user.likes_count == person.likes_count
    assert user.video_count == person.video_count
    for name in ("avatar_url", "avatar_url_100", "avatar_large_url"):
        assert getattr(user, name).startswith("https://")
    assert user.granted_scopes == settings.scopes
    assert not hasattr(user, "email")
    assert isinstance(auth, AuthCredentials)
    assert auth.scopes == ["authenticated", *settings.scopes]


def test_fields_not_granted_are_none(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    app, seen = _capturing_app(settings, tiktok_emulator.transport())
    client = signed_in_client(app, settings, tiktok_emulator, scopes=["user.info.basic"])
    client.get("/capture")
    user, auth = seen[-1]
    assert isinstance(user, TikTokUser)
    for name in SCOPE_FIELDS["user.info.profile"] + SCOPE_FIELDS["user.info.stats"]:
        assert getattr(user, name) is None, name
    for name in SCOPE_FIELDS["user.info.basic"]:
        assert getattr(user, name), name
    assert auth.scopes == ["authenticated", "user.info.basic"]
    assert not hasattr(user, "email")


def test_anonymous_request(tiktok_emulator: TikTokEmulator, settings: TikTokSettings) -> None:
    app, seen = _capturing_app(settings, tiktok_emulator.transport())
    TestClient(app, base_url=BASE_URL).get("/capture")
    user, auth = seen[-1]
    assert isinstance(user, UnauthenticatedUser)
    assert user.is_authenticated is False
    assert isinstance(auth, AuthCredentials)
    assert auth.scopes == []


def _identity_cookie(tiktok_emulator: TikTokEmulator, settings: TikTokSettings) -> str:
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    sign_in(client, settings, tiktok_emulator)
    value = client.cookies["__Host-tiktok_session"]
    assert isinstance(value, str)
    return value


def _me(app: Any, cookie: str) -> dict[str, Any]:
    client = TestClient(app, base_url=BASE_URL)
    response = client.get("/me", headers={"cookie": f"__Host-tiktok_session={cookie}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bad_cookies(settings: TikTokSettings, good: str) -> list[str]:
    signer = identity_serializer(settings)
    payload = signer.loads(good)
    forged = dict(payload, open_id="someone-else")
    last = good[-1]
    signed, _, mac = good.rpartition(".")
    head, _, issued = signed.rpartition(".")
    version, _, body = head.partition(".")
    assert version == "v3"
    assert "+" in body  # the display name's space
    open_id = payload["open_id"]
    v2_payload = b64url(json.dumps([None, open_id]).encode())
    return [
        good[:-1] + ("A" if last != "A" else "B"),  # signature flipped
        good.replace(".", "x", 1),  # payload changed
        f"{version}.{body[:-2]}{'AB' if body[-2:] != 'AB' else 'CD'}.{issued}.{mac}",  # payload
        f"{version}.{body.replace(open_id, 'someone-else')}.{issued}.{mac}",
        f"{version}.{body}|.{issued}.{mac}",  # an element more, empty
        f"{version}.{body.replace('+', '!20')}.{issued}.{mac}",  # the same text, spelled otherwise
        f"{version}.{body}.{int(issued) + 1}.{mac}",  # timestamp changed
        f"{version}.{body}.0{issued}.{mac}",  # the same timestamp, spelled otherwise
        f"v2.{body}.{issued}.{mac}",  # version changed
        f"v4.{body}.{issued}.{mac}",
        f"V3.{body}.{issued}.{mac}",
        f"{version}.{body}.{issued}",  # no signature
        f"{version}.{body}.{issued}.",
        f"{version}.{body}.{issued}.{mac}.{mac}",
        f"{version}.{body}..{mac}",
        f"v2.{v2_payload}.{issued}.{mac}",  # another format's payload under this signature
        good[: len(good) // 2],  # truncated
        good + "A",
        "garbage",
        "",
        "a.b.c",
        "v3.a.b.c",
        "v3....",
        "v2.a.b.c",
        "." * 50,
        '"quoted"',
        identity_serializer(settings, ["x" * 32]).dumps(forged),  # unknown key
        IdentityCodec(settings.secret_keys, "tiktok-asgi.flow").dumps(payload),  # other purpose
        flow_serializer(settings).dumps(payload),  # a flow cookie's value
        signer.dumps(payload, version="v4"),  # signed, but a version this code does not know
        # Signed v3 payloads that are no identity.
        signer.dumps("", raw=True),
        signer.dumps("x", raw=True),
        signer.dumps("|", raw=True),
        signer.dumps("s|", raw=True),
        signer.dumps("s|!", raw=True),  # an empty open_id
        signer.dumps("|".join(["x"] * 18), raw=True),  # an element too many
        signer.dumps("|x" + "|" * 10 + "|yes", raw=True),  # is_verified neither 1 nor 0
        signer.dumps("|x" + "|" * 11 + "|many", raw=True),  # a count that is no number
        signer.dumps("|x" + "|" * 15 + "|[1]", raw=True),  # extra not an object
        signer.dumps("|x" + "|" * 15 + "|{", raw=True),  # extra no JSON
        signer.dumps("|x!FF", raw=True),  # an escape that is no UTF-8
        signer.dumps("|x||||https://a*b", raw=True),  # avatars: no start*middle*end
        signer.dumps("|x||||a*b*c*d", raw=True),
        signer.dumps("|!!@@@", raw=True),  # base64 that is none
        # Signed v2 payloads that are no identity.
        signer.dumps([1, 2, 3], raw=True, version="v2"),
        signer.dumps({}, raw=True, version="v2"),
        signer.dumps([], raw=True, version="v2"),
        signer.dumps([None], raw=True, version="v2"),
        signer.dumps("open_id", raw=True, version="v2"),
        signer.dumps([None, ""], raw=True, version="v2"),
        signer.dumps([None, 5], raw=True, version="v2"),
        signer.dumps([5, "x"], raw=True, version="v2"),
        signer.dumps([None, "x", 5], raw=True, version="v2"),
        signer.dumps([None, "x", "", 5], raw=True, version="v2"),
        signer.dumps([None, "x", "", {}], raw=True, version="v2"),  # scopes not a list
        signer.dumps([None, "x", "", [], *([None] * 12), []], raw=True, version="v2"),
        signer.dumps(
            [None, "x", "", [], *([None] * 12), {}, "one too many"], raw=True, version="v2"
        ),
        v1_identity_serializer(settings).dumps({"open_id": "x", "granted_scopes": 5}),
        v1_identity_serializer(settings).dumps([1, 2, 3]),
    ]


def test_bad_identity_cookies_are_anonymous_never_an_error(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    good = _identity_cookie(tiktok_emulator, settings)
    app = make_app(settings, tiktok_emulator.transport())
    assert _me(app, good)["authenticated"] is True
    for bad in _bad_cookies(settings, good):
        body = _me(app, bad)
        assert body["authenticated"] is False, bad
        assert body["scopes"] == []


class _Later:
    """Stands in for the ``time`` module: the clock ``seconds`` ahead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def time(self) -> float:
        import time

        return time.time() + self.seconds


def test_expired_identity_cookie_is_anonymous(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = settings.replace(cookie_max_age=60)
    good = _identity_cookie(tiktok_emulator, short)
    app = make_app(short, tiktok_emulator.transport())
    assert _me(app, good)["authenticated"] is True  # now also remembered as verified
    later = _Later(61)
    monkeypatch.setattr(itsdangerous.timed, "time", later)
    monkeypatch.setattr(tiktok_asgi._cookies.identity, "time", later)
    assert _me(app, good)["authenticated"] is False
    fresh = make_app(short, tiktok_emulator.transport())
    assert _me(fresh, good)["authenticated"] is False


def test_key_rotation(tiktok_emulator: TikTokEmulator, settings: TikTokSettings) -> None:
    old = settings.replace(secret_key=OLD_KEY)
    rotated = settings.replace(secret_key=[OLD_KEY, NEW_KEY])
    new_only = settings.replace(secret_key=NEW_KEY)
    cookie = _identity_cookie(tiktok_emulator, old)
    transport = tiktok_emulator.transport()
    assert _me(make_app(rotated, transport), cookie)["authenticated"] is True
    assert _me(make_app(new_only, transport), cookie)["authenticated"] is False
    # After rotation the newest key signs.
    fresh = _identity_cookie(tiktok_emulator, rotated)
    assert identity_serializer(rotated, [NEW_KEY]).loads(fresh)["open_id"]
    with pytest.raises(BadIdentity):
        identity_serializer(rotated, [OLD_KEY]).loads(fresh)
    assert _me(make_app(new_only, transport), fresh)["authenticated"] is True
    # Three keys: a cookie of each still verifies, one of a key given up no longer does.
    third = "third-key-" + "t" * 40
    three = settings.replace(secret_key=[OLD_KEY, NEW_KEY, third])
    app = make_app(three, transport)
    for key in (OLD_KEY, NEW_KEY, third):
        assert _me(app, IdentityCodec([key]).dumps({"open_id": key[:3]}))["identity"] == key[:3]
    gone = IdentityCodec(["gone-key-" + "g" * 40]).dumps({"open_id": "gone"})
    assert _me(app, gone)["authenticated"] is False


def _requires_app(settings: TikTokSettings, transport: Any) -> TikTokAuthMiddleware:
    @requires("authenticated")
    async def private(request: Request) -> JSONResponse:
        return JSONResponse({"open_id": request.user.identity})

    @requires("user.info.stats")
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"followers": request.user.follower_count})

    app = Starlette(routes=[Route("/private", private), Route("/stats", stats)])
    return TikTokAuthMiddleware(app, settings=settings, transport=transport)


def test_starlette_requires_works(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    app = _requires_app(settings, tiktok_emulator.transport())
    anonymous = TestClient(app, base_url=BASE_URL)
    assert anonymous.get("/private").status_code == 403
    assert anonymous.get("/stats").status_code == 403

    person = tiktok_emulator.user("leo.skates")
    full = signed_in_client(app, settings, tiktok_emulator, user=person)
    assert full.get("/private").json() == {"open_id": person.open_id}
    assert full.get("/stats").json() == {"followers": person.follower_count}

    basic = signed_in_client(
        app, settings, tiktok_emulator, user=person, scopes=["user.info.basic"]
    )
    assert basic.get("/private").status_code == 200
    assert basic.get("/stats").status_code == 403


def _cookie_size(response: Any) -> int:
    name, value, _ = cookie_named(response, "__Host-tiktok_session=")
    return len(name) + 1 + len(value)


def test_identity_cookie_stays_small_with_a_huge_bio(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    person = EmulatorUser(
        username="long.talker",
        display_name="Long Talker " + "x" * 200,
        bio_description="word " * 2000,
    )
    tiktok_emulator.add_user(person)
    client = TestClient(make_app(settings, tiktok_emulator.transport()), base_url=BASE_URL)
    callback = tiktok_emulator.approve(
        start_login(client, settings),
        user=person,
    )
    response = client.get(callback, follow_redirects=False)
    assert response.status_code == 302, response.text
    assert _cookie_size(response) < 4096
    me = client.get("/me").json()
    assert me["identity"] == person.open_id
    assert me["display_name"] == person.display_name
    assert me["user"]["username"] == "long.talker"


def _huge_tiktok(avatar_length: int, display_name: str = "Huge Avatar") -> MockTransport:
    """A TikTok whose user info carries enormous signed avatar URLs (the emulator's are short)."""
    rng = random.Random(avatar_length)

    def handler(request: HTTPRequest) -> HTTPResponse:
        if request.url.path == "/v2/oauth/token/":
            return HTTPResponse(
                200,
                json={
                    "access_token": "act.huge",
                    "expires_in": 86400,
                    "open_id": "huge-open-id",
                    "refresh_expires_in": 31536000,
                    "refresh_token": "rft.huge",
                    "scope": "user.info.basic,user.info.profile",
                    "token_type": "Bearer",
                },
            )
        assert request.url.path == "/v2/user/info/"
        # Signed CDN URLs are random: nothing for the cookie's compression to squeeze.
        noise = "".join(
            rng.choice(string.ascii_letters + string.digits) for _ in range(avatar_length)
        )
        avatar = f"https://p16-sign.tiktokcdn-us.com/{noise}~tplv.jpeg"
        user = {
            "open_id": "huge-open-id",
            "union_id": "huge-union-id",
            "avatar_url": avatar + "?s=168",
            "avatar_url_100": avatar + "?s=100",
            "avatar_large_url": avatar + "?s=720",
            "display_name": display_name,
            "bio_description": "".join(rng.choice("abcdefgh ") for _ in range(3000)),
            "profile_deep_link": "https://vm.tiktok.com/" + "c" * 1500,
            "is_verified": False,
            "username": "huge",
        }
        body = {"data": {"user": user}, "error": {"code": "ok", "message": "", "log_id": "L1"}}
        return HTTPResponse(200, content=json.dumps(body).encode())

    return MockTransport(handler)


def _huge_user_signed_in(avatar_length: int, settings: TikTokSettings) -> dict[str, Any]:
    """Sign in through a TikTok whose avatar URLs are ``avatar_length`` random characters: the
    callback answers with an identity cookie under 4 KB; what /me then says."""
    client = TestClient(make_app(settings, _huge_tiktok(avatar_length)), base_url=BASE_URL)
    url = start_login(client, settings)
    query = urlencode(
        {"code": "c*1!1234.va", "scopes": "user.info.basic", "state": one(url, "state")}
    )
    response = client.get(f"{settings.callback_path}?{query}", follow_redirects=False)
    assert response.status_code == 302, response.text
    assert _cookie_size(response) < 4096
    me: dict[str, Any] = client.get("/me").json()
    assert me["identity"] == "huge-open-id"
    return me


def test_identity_cookie_stays_small_with_huge_avatar_urls(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    me = _huge_user_signed_in(800, settings)
    assert me["user"]["avatar_url"].startswith("https://p16-sign.tiktokcdn-us.com/")
    assert me["user"]["username"] == "huge"


def test_an_avatar_url_too_large_for_any_cookie_still_signs_in(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    me = _huge_user_signed_in(5000, settings)
    assert me["user"]["display_name"] == "Huge Avatar"
    assert "avatar_url" not in me["user"]  # given up rather than failing the sign-in


def test_extra_is_read_only_because_a_verified_user_is_shared_between_requests() -> None:
    user = TikTokUser(open_id="open-1", extra={"app_user_id": 7})
    with pytest.raises(TypeError):
        user.extra["app_user_id"] = 8  # type: ignore[index]
    assert user.extra == {"app_user_id": 7}
    assert user.to_dict()["extra"] == {"app_user_id": 7}


def test_no_other_spelling_of_a_valid_v1_signature_is_accepted() -> None:
    """Base64 ignores padding and the unused bits of its last character: without a canonical
    check, some one-character edits of a cookie would still verify."""
    signer = Signer(["k" * 40], salt="tiktok-asgi.identity")
    value = signer.dumps({"open_id": "open-1"})
    assert signer.loads(value, max_age=60)[0] == {"open_id": "open-1"}
    alphabet = string.ascii_letters + string.digits + "-_"
    spellings = [value[:-1] + ch for ch in alphabet if ch != value[-1]] + [
        value + "=",
        value + "==",
    ]
    for spelling in spellings:
        with pytest.raises(BadData):
            signer.loads(spelling, max_age=60)


# The codec, read through IdentityCookie directly -------------------------------------------------

KEY = "identity-test-key-" + "k" * 40
# What a v3 value is written with: URL characters, and "+ ! * |" (no space, quote, comma,
# semicolon or backslash, which a cookie cannot carry as they are).
COOKIE_SAFE = set(string.ascii_letters + string.digits + "-._~:/?=&%@" + "+!*|")


def _direct(**changes: Any) -> tuple[IdentityCookie, TikTokSettings]:
    settings = TikTokSettings(
        client_key=changes.pop("client_key", CLIENT_KEY),
        client_secret="cs",
        redirect_uri="https://app.example/auth/tiktok/callback",
        secret_key=changes.pop("secret_key", KEY),
        **changes,
    )
    return IdentityCookie(settings), settings


def _value(header: str) -> str:
    first = header.split(";", 1)[0]
    name, _, value = first.partition("=")
    assert name == "__Host-tiktok_session"
    return value


def _headers(value: str | bytes) -> list[tuple[bytes, bytes]]:
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    return [(b"host", b"app.example"), (b"cookie", b"theme=dark; __Host-tiktok_session=" + raw)]


FULL_USER = TikTokUser(
    open_id="open-ü-1",
    display_name='Zoë 🎈 "quoted", comma; semicolon \\ back',
    union_id="union-1",
    avatar_url="https://cdn.example/a.jpeg?x=1&y=2",
    avatar_url_100="https://cdn.example/a100.jpeg",
    avatar_large_url="https://cdn.example/a720.jpeg",
    username="zoe_1",
    bio_description="line one\nline two\ttab 日本語",
    profile_deep_link="https://vm.tiktok.com/@zoe_1",
    is_verified=True,
    follower_count=12,
    following_count=0,
    likes_count=2**40,
    video_count=3,
    granted_scopes=("user.info.basic", "user.info.profile", "user.info.stats"),
    extra={"app_user_id": 7, "roles": ["admin"], "nested": {"a": None, "b": 1.5}},
)


def test_every_field_and_extra_round_trip() -> None:
    cookie, settings = _direct()
    for user, sid in [
        (FULL_USER, "sid-" + "s" * 40),
        (FULL_USER, None),
        (TikTokUser(open_id="only-an-open-id"), None),
        (TikTokUser(open_id="o", display_name="", granted_scopes=(), is_verified=False), "x"),
        (TikTokUser(open_id="o", display_name="lone \ud800 surrogate"), None),  # JSON allows it
    ]:
        value = _value(cookie.encode(Identity(user, sid)))
        assert value.startswith("v3.")
        assert set(value) <= COOKIE_SAFE, set(value) - COOKIE_SAFE
        # Read by a fresh reader (no cache), and read again (from the cache).
        for reader in (IdentityCookie(settings), cookie, cookie):
            identity = reader.read(_headers(value))
            assert identity == Identity(user, sid)
            assert identity is not None
            assert identity.user.to_dict() == user.to_dict()
            assert type(identity.user.granted_scopes) is tuple
            for name in ("display_name", "open_id", "is_verified", "likes_count"):
                assert type(getattr(identity.user, name)) is type(getattr(user, name))
        # The independent reader sees the same payload.
        expected = user.to_dict() | ({"sid": sid} if sid is not None else {})
        assert IdentityCodec([KEY]).loads(value) == expected


def test_the_extra_of_a_user_read_from_a_cookie_is_read_only() -> None:
    cookie, _ = _direct()
    value = _value(cookie.encode(Identity(FULL_USER)))
    user = cookie.read(_headers(value)).user  # type: ignore[union-attr]
    with pytest.raises(TypeError):
        user.extra["app_user_id"] = 8  # type: ignore[index]
    plain = cookie.read(_headers(_value(cookie.encode(Identity(TikTokUser(open_id="p"))))))
    assert plain is not None
    assert plain.user.extra == {}
    with pytest.raises(TypeError):
        plain.user.extra["x"] = 1  # type: ignore[index]


def test_a_users_extra_is_copied_and_frozen() -> None:
    mine = {"a": 1}
    user = TikTokUser(open_id="o", extra=mine)
    mine["a"] = 2
    assert user.extra == {"a": 1}
    assert TikTokUser(open_id="o").extra == {}
    assert TikTokUser(open_id="o", extra={}).extra == TikTokUser(open_id="o").extra
    assert TikTokUser.from_dict(user.to_dict()) == user


def test_the_format_is_exactly_as_documented() -> None:
    cookie, _ = _direct()
    user = TikTokUser(
        open_id="o-1",
        display_name="Ann Lee",
        granted_scopes=("user.info.basic", "user.info.profile"),
        bio_description="",
        is_verified=True,
        likes_count=7,
        extra={"id": 5},
    )
    before = int(time.time())
    value = _value(cookie.encode(Identity(user, "s-1")))
    signed, _, mac = value.rpartition(".")
    head, _, issued = signed.rpartition(".")
    version, _, payload = head.partition(".")
    assert version == "v3"
    assert before <= int(issued) <= time.time()
    assert str(int(issued)) == issued
    assert "=" not in mac
    # sid|open_id|display_name|scopes|union_id|avatars×3|username|bio|link|verified|counts×4|extra
    extra = "!!" + b64url(b'{"id":5}')  # shorter than escaping its quotes and braces
    assert payload == f"s-1|o-1|Ann+Lee|user.info.basic*user.info.profile||||||!||1|||7||{extra}"
    assert mac == identity_mac(KEY, f"v3.{payload}.{issued}")
    label = f"tiktok-asgi.identity:{CLIENT_KEY}".encode()
    derived = hmac.new(KEY.encode(), label, hashlib.sha256).digest()
    expected = hmac.new(derived, f"v3.{payload}.{issued}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac + "=") == expected
    # Trailing empty elements are left out.
    plain = _value(cookie.encode(Identity(TikTokUser(open_id="o-2"))))
    assert plain.startswith("v3.|o-2.")


def test_the_layout_names_every_field_of_a_user() -> None:
    """A field added to TikTokUser must be appended to the layout (here and in identity.py)."""
    assert set(IDENTITY_LAYOUT) == {f.name for f in dataclasses.fields(TikTokUser)} | {"sid"}
    assert tiktok_asgi._cookies.identity.LAYOUT == IDENTITY_LAYOUT


def test_no_other_spelling_of_a_valid_signature_is_accepted() -> None:
    """Base64 ignores padding and the unused bits of its last character, and has two alphabets:
    only the exact text that was signed may verify."""
    cookie, settings = _direct()
    value = _value(cookie.encode(Identity(TikTokUser(open_id="open-1"))))
    assert IdentityCookie(settings).read(_headers(value)) is not None
    signed, _, mac = value.rpartition(".")
    alphabet = string.ascii_letters + string.digits + "-_+/"
    spellings = [f"{signed}.{mac[:-1]}{ch}" for ch in alphabet if ch != mac[-1]]
    spellings += [f"{value}=", f"{value}==", f"{value}===", f"{value} ", f"{signed}.{mac}\t"]
    spellings.append(f"{signed}.{mac.replace('-', '+').replace('_', '/')}=")
    spellings.append(f"{signed}.{base64.b64encode(base64.urlsafe_b64decode(mac + '=')).decode()}")
    spellings.append(f"{signed}.{mac.upper()}")
    for spelling in spellings:
        if spelling.rstrip() == value:
            continue  # the cookie header's trailing whitespace is not part of a value
        assert IdentityCookie(settings).read(_headers(spelling)) is None, spelling
        assert cookie.read(_headers(spelling)) is None, spelling  # the cache has the real one
    assert cookie.read(_headers(value)) is not None
    # The payload and the timestamp are covered by the same rule: no other spelling of them.
    _version, payload, issued, mac = value.split(".")
    for other in (payload + "|", payload.replace("-", "!2D"), payload + "A", "|open!2D1"):
        assert IdentityCookie(settings).read(_headers(f"v3.{other}.{issued}.{mac}")) is None
    for other in (f"0{issued}", f"+{issued}", f"{issued}.0", f" {issued}", f"{issued}_"):
        assert IdentityCookie(settings).read(_headers(f"v3.{payload}.{other}.{mac}")) is None


def test_values_that_are_not_ascii_are_refused() -> None:
    cookie, settings = _direct()
    value = _value(cookie.encode(Identity(TikTokUser(open_id="o"))))
    for raw in (value.encode() + b"\xe9", b"v2.\xe9\xff.1.\xe9", value.encode()[:-1] + b"\xff"):
        assert IdentityCookie(settings).read(_headers(raw)) is None
        assert cookie.read(_headers(raw)) is None


def test_a_cookie_signed_for_another_purpose_is_refused() -> None:
    cookie, settings = _direct()
    data = {"open_id": "o", "granted_scopes": ["user.info.basic"]}
    assert cookie.read(_headers(IdentityCodec([KEY]).dumps(data))) is not None
    for purpose in ("tiktok-asgi.flow", "tiktok-asgi.tokens", "tiktok-asgi.identity ", ""):
        assert cookie.read(_headers(IdentityCodec([KEY], purpose).dumps(data))) is None
    # The key itself, not derived for a purpose, signs nothing either.
    signed = f"v2.{b64url(json.dumps([None, 'o']).encode())}.{int(time.time())}"
    raw = hmac.new(KEY.encode(), signed.encode(), hashlib.sha256).digest()
    assert cookie.read(_headers(f"{signed}.{b64url(raw)}")) is None
    # A flow cookie's value (its own format and purpose) under the identity cookie's name.
    flow = flow_serializer(settings).dumps({"state": "s", "data": data})
    assert cookie.read(_headers(flow)) is None


def test_expiry_and_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie, settings = _direct(cookie_max_age=60)
    codec = IdentityCodec([KEY])
    now = int(time.time())
    data = {"open_id": "o"}
    assert cookie.read(_headers(codec.dumps(data, issued=now - 59))) is not None
    assert cookie.read(_headers(codec.dumps(data, issued=now - 62))) is None
    assert cookie.read(_headers(codec.dumps(data, issued=now + 200))) is not None  # clock skew
    assert cookie.read(_headers(codec.dumps(data, issued=now + 3600))) is None
    assert cookie.read(_headers(codec.dumps(data, issued=0))) is None
    # A cookie read (and remembered) while valid is refused once it expires, cache or not.
    value = codec.dumps(data, issued=now - 30)
    assert cookie.read(_headers(value)) is not None
    monkeypatch.setattr(tiktok_asgi._cookies.identity, "time", _Later(31))
    assert cookie.read(_headers(value)) is None
    assert IdentityCookie(settings).read(_headers(value)) is None
    assert cookie.read(_headers(value)) is None  # and it is not remembered as good again


def test_the_cache_stays_within_its_bytes_with_100_000_distinct_cookies() -> None:
    budget = 2 * 1024 * 1024
    settings = _direct()[1]
    cookie = IdentityCookie(settings, cache_bytes=budget)
    codec = IdentityCodec([KEY])
    now = int(time.time())
    # The payload text written directly (sid empty, then open_id and display_name): encoding
    # 100,000 payloads field by field took longer than the reads under test.
    values = [
        codec.dumps(f"|open-{i:06d}|User+{i:06d}", raw=True, issued=now) for i in range(100_000)
    ]
    first = {"open_id": "open-000000", "display_name": "User 000000"}
    assert values[0] == codec.dumps(first, issued=now)
    most = 0
    for i, value in enumerate(values):
        identity = cookie.read(_headers(value))
        assert identity is not None
        assert identity.user.open_id == f"open-{i:06d}"
        entries, held = cookie.cache_size()
        assert held <= budget
        most = max(most, entries)
    size = cookie.cache_size()[1] // cookie.cache_size()[0]  # all the same size here
    assert most == budget // size  # it holds as many as fit, then keeps them
    assert cookie.cache_size()[0] == most
    # The first users are remembered (each came in while there was room); the last ones not.
    remembered = {entry[4] for entry in cookie._cache.values()}
    assert values[0] in remembered
    assert values[-1] not in remembered
    # Remembered users are served from the cache: a fresh reader would verify, this one not.
    cookie._verify = None  # type: ignore[assignment,method-assign]
    assert cookie.read(_headers(values[0])) is not None


# Cookies of the format before v2 -----------------------------------------------------------------


def test_old_format_cookies_are_refused_they_are_not_bound_to_the_app() -> None:
    cookie, settings = _direct(cookie_max_age=3600)
    value = v1_identity_serializer(settings).dumps(FULL_USER.to_dict() | {"sid": "sid-1"})
    assert not value.startswith("v2.")
    assert cookie.read(_headers(value)) is None
    assert cookie.cache_size() == (0, 0)


def test_a_cookie_minted_for_another_client_key_is_refused() -> None:
    # A staging app sharing secret_key with production mints cookies for its own client key.
    cookie, _ = _direct()
    data = {"open_id": "o", "granted_scopes": ["user.info.basic"]}
    assert cookie.read(_headers(IdentityCodec([KEY], client_key=CLIENT_KEY).dumps(data)))
    for other in ("staging-client-key", CLIENT_KEY + "x", ""):
        assert cookie.read(_headers(IdentityCodec([KEY], client_key=other).dumps(data))) is None
    staging, _ = _direct(client_key="staging-client-key")
    minted = _value(staging.encode(Identity(TikTokUser(open_id="o"))))
    assert staging.read(_headers(minted)) is not None
    assert cookie.read(_headers(minted)) is None


def test_the_size_guard_drops_optional_fields_first_and_refuses_the_impossible(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cookie, _ = _direct()
    rng = random.Random(1)

    def url() -> str:  # random: nothing one URL shares with another
        return "https://cdn.example/" + "".join(rng.choices(string.ascii_letters, k=2000))

    big = dataclasses.replace(
        FULL_USER, avatar_url=url(), avatar_url_100=url(), avatar_large_url=url()
    )
    header = cookie.encode(Identity(big, "sid"))
    value = _value(header)
    assert len("__Host-tiktok_session=") + len(value) <= MAX_COOKIE_BYTES
    user = cookie.read(_headers(value)).user  # type: ignore[union-attr]
    assert user.avatar_large_url is None
    assert user.avatar_url_100 is None
    assert user.avatar_url == big.avatar_url  # kept: dropping two was enough
    assert user.bio_description == FULL_USER.bio_description
    assert "dropped avatar_large_url" in caplog.text
    huge = TikTokUser(open_id="o", extra={"blob": "x" * 4000})
    with pytest.raises(ValueError, match="does not fit"):
        cookie.encode(Identity(huge))
