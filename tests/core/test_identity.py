"""Who the app sees: scope["user"] / scope["auth"], from a signed identity cookie."""

from __future__ import annotations

import json
import random
import string
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

import tiktok_asgi.identity
from tests.conftest import BASE_URL, make_app, sign_in, signed_in_client, start_login
from tests.core.helpers import cookie_named, flow_serializer, identity_serializer, one
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings, TikTokUser
from tiktok_asgi._http import MockTransport
from tiktok_asgi._http import Request as HTTPRequest
from tiktok_asgi._http import Response as HTTPResponse
from tiktok_asgi.cookies import Signer
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
    value = client.cookies["tiktok_session"]
    assert isinstance(value, str)
    return value


def _me(app: Any, cookie: str) -> dict[str, Any]:
    client = TestClient(app, base_url=BASE_URL)
    response = client.get("/me", headers={"cookie": f"tiktok_session={cookie}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bad_cookies(settings: TikTokSettings, good: str) -> list[str]:
    signer = identity_serializer(settings)
    payload = signer.loads(good)
    forged = dict(payload, open_id="someone-else")
    last = good[-1]
    return [
        good[:-1] + ("A" if last != "A" else "B"),  # signature flipped
        good.replace(".", "x", 1),  # payload changed
        good[: len(good) // 2],  # truncated
        "garbage",
        "",
        "a.b.c",
        "." * 50,
        '"quoted"',
        identity_serializer(settings, ["x" * 32]).dumps(forged),  # unknown key
        flow_serializer(settings).dumps(payload),  # the flow cookie's salt
        signer.dumps([1, 2, 3]),  # signed, but not a user
        signer.dumps({}),
        signer.dumps("open_id"),
        signer.dumps({"open_id": "x", "granted_scopes": 5}),
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
    monkeypatch.setattr(tiktok_asgi.identity, "time", later)
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
    with pytest.raises(itsdangerous.BadSignature):
        identity_serializer(rotated, [OLD_KEY]).loads(fresh)
    assert _me(make_app(new_only, transport), fresh)["authenticated"] is True


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
    name, value, _ = cookie_named(response, "tiktok_session=")
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


def _callback_through(settings: TikTokSettings, transport: MockTransport) -> tuple[Any, Any]:
    client = TestClient(make_app(settings, transport), base_url=BASE_URL)
    url = start_login(client, settings)
    query = urlencode(
        {"code": "c*1!1234.va", "scopes": "user.info.basic", "state": one(url, "state")}
    )
    return client, client.get(f"{settings.callback_path}?{query}", follow_redirects=False)


def test_identity_cookie_stays_small_with_huge_avatar_urls(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    client, response = _callback_through(settings, _huge_tiktok(avatar_length=800))
    assert response.status_code == 302, response.text
    assert _cookie_size(response) < 4096
    me = client.get("/me").json()
    assert me["identity"] == "huge-open-id"
    assert me["user"]["avatar_url"].startswith("https://p16-sign.tiktokcdn-us.com/")
    assert me["user"]["username"] == "huge"


def test_an_avatar_url_too_large_for_any_cookie_still_signs_in(
    tiktok_emulator: TikTokEmulator, settings: TikTokSettings
) -> None:
    client, response = _callback_through(settings, _huge_tiktok(avatar_length=5000))
    assert response.status_code == 302, response.text
    assert _cookie_size(response) < 4096
    me = client.get("/me").json()
    assert me["identity"] == "huge-open-id"
    assert me["user"]["display_name"] == "Huge Avatar"
    assert "avatar_url" not in me["user"]  # given up rather than failing the sign-in


def test_extra_is_read_only_because_a_verified_user_is_shared_between_requests() -> None:
    user = TikTokUser(open_id="open-1", extra={"app_user_id": 7})
    with pytest.raises(TypeError):
        user.extra["app_user_id"] = 8  # type: ignore[index]
    assert user.extra == {"app_user_id": 7}
    assert user.to_dict()["extra"] == {"app_user_id": 7}


def test_no_other_spelling_of_a_valid_signature_is_accepted() -> None:
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
