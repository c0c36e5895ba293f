"""User info, video list, rate limits and avatars."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from httpx2 import AsyncClient
from tests.emulator.helpers import USERINFO, VIDEOS, Api, Clock, authorize_url, callback_params

from tiktok_asgi.emulator import EmulatorUser, TikTokEmulator

LOG_ID = re.compile(r"^\d{14}[0-9A-F]{20}$")
ALL_FIELDS = (
    "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name,"
    "bio_description,profile_deep_link,is_verified,username,"
    "follower_count,following_count,likes_count,video_count"
)


def api_error(response: object, code: str, status: int) -> None:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == status, body  # type: ignore[attr-defined]
    assert body["data"] == {}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert LOG_ID.match(body["error"]["log_id"])


async def test_userinfo_returns_only_requested_fields_in_envelope(api: Api) -> None:
    token = await api.login()
    response = await api.userinfo(token["access_token"], "open_id,display_name,username")
    body = response.json()
    assert response.status_code == 200
    assert body["error"]["code"] == "ok"
    assert body["error"]["message"] == ""
    assert LOG_ID.match(body["error"]["log_id"])
    user = api.emu.users[0]
    assert body["data"] == {
        "user": {"open_id": user.open_id, "display_name": "Maya Chen", "username": "mayacooks"}
    }


async def test_userinfo_all_fields_with_all_scopes(api: Api) -> None:
    token = await api.login()
    user = (await api.userinfo(token["access_token"], ALL_FIELDS)).json()["data"]["user"]
    assert set(user) == set(ALL_FIELDS.split(","))
    assert "email" not in user
    assert user["is_verified"] is True
    assert user["follower_count"] == api.emu.users[0].follower_count
    assert user["avatar_url"].startswith("https://open.tiktokapis.com/avatars/")
    assert "?size=100&x-expires=" in user["avatar_url_100"]
    avatar = await api.client.get(user["avatar_url"])
    assert avatar.status_code == 200
    assert avatar.headers["content-type"].startswith("image/svg+xml")
    assert avatar.headers["cache-control"] == "public, max-age=3600"
    assert "<svg" in avatar.text
    assert ">MC</text>" in avatar.text


@pytest.mark.parametrize(
    ("token", "fields", "code", "status"),
    [
        ("act.unknown", "open_id", "access_token_invalid", 401),
        (None, "open_id", "access_token_invalid", 401),
        ("valid", None, "invalid_params", 400),
        ("valid", "", "invalid_params", 400),
        ("valid", "open_id,email", "invalid_params", 400),
        ("valid", "open_id, display_name", "invalid_params", 400),
    ],
)
async def test_userinfo_refusals(
    api: Api, token: str | None, fields: str | None, code: str, status: int
) -> None:
    access = (await api.login())["access_token"]
    headers = {"Authorization": f"Bearer {access if token == 'valid' else token}"} if token else {}
    params = {"fields": fields} if fields is not None else {}
    response = await api.client.get(USERINFO, params=params, headers=headers)
    api_error(response, code, status)


@pytest.mark.parametrize(
    ("granted", "field"),
    [([], "username"), ([], "follower_count"), (["user.info.stats"], "bio_description")],
)
async def test_fields_of_ungranted_scopes_are_scope_not_authorized(
    api: Api, granted: list[str], field: str
) -> None:
    token = await api.login(scopes=granted)
    response = await api.userinfo(token["access_token"], f"open_id,{field}")
    api_error(response, "scope_not_authorized", 401)


async def test_expired_access_token_is_invalid(api: Api, clock: Clock) -> None:
    token = await api.login()
    clock.advance(86400)
    api_error(await api.userinfo(token["access_token"]), "access_token_invalid", 401)


async def test_rate_limit_is_a_sliding_window_per_endpoint(clock: Clock) -> None:
    emu = TikTokEmulator(rate_limit=3, clock=clock)
    async with AsyncClient(transport=emu.transport()) as client:
        api = Api(emu, client)
        token = (await api.login())["access_token"]
        for _ in range(3):
            assert (await api.userinfo(token)).status_code == 200
            clock.advance(10)
        limited = await api.userinfo(token)
        api_error(limited, "rate_limit_exceeded", 429)
        assert limited.headers["retry-after"] == "30"
        # Video list has its own window.
        videos = await client.post(
            VIDEOS,
            params={"fields": "id"},
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert videos.status_code == 200
        clock.advance(30)
        assert (await api.userinfo(token)).status_code == 200


async def test_video_list_pages_through_the_users_videos(api: Api) -> None:
    token = await api.login()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    fields = {"fields": "id,title,create_time,cover_image_url,share_url"}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        payload = {"max_count": 20} if cursor is None else {"max_count": 20, "cursor": cursor}
        response = await api.client.post(VIDEOS, params=fields, json=payload, headers=headers)
        body = response.json()
        assert body["error"]["code"] == "ok"
        data = body["data"]
        videos = data["videos"]
        assert all(set(v) == set(fields["fields"].split(",")) for v in videos)
        seen += [v["id"] for v in videos]
        cursor = data["cursor"]
        if not data["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 100  # a cap, for users with very many videos
    cover = await api.client.get(videos[0]["cover_image_url"])
    assert cover.status_code == 200
    assert "<svg" in cover.text


async def test_video_list_is_deterministic(api: Api) -> None:
    async def first_ids() -> list[str]:
        token = await api.login()
        response = await api.client.post(
            VIDEOS,
            params={"fields": "id"},
            json={"max_count": 5},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        return [v["id"] for v in response.json()["data"]["videos"]]

    assert await first_ids() == await first_ids()


@pytest.mark.parametrize(
    ("fields", "payload", "code", "status"),
    [
        ("id", {"max_count": 21}, "invalid_params", 400),
        ("id", {"max_count": "5"}, "invalid_params", 400),
        ("id", {"cursor": -1}, "invalid_params", 400),
        ("id,email", {}, "invalid_params", 400),
        (None, {}, "invalid_params", 400),
    ],
)
async def test_video_list_refusals(
    api: Api, fields: str | None, payload: dict[str, object], code: str, status: int
) -> None:
    token = await api.login()
    response = await api.client.post(
        VIDEOS,
        params={"fields": fields} if fields else {},
        json=payload,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    api_error(response, code, status)


async def test_video_list_needs_the_video_list_scope(api: Api) -> None:
    token = await api.login(scope="user.info.basic,user.info.profile")
    response = await api.client.post(
        VIDEOS,
        params={"fields": "id"},
        json={},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    api_error(response, "scope_not_authorized", 401)


async def test_user_without_videos_has_an_empty_list(api: Api) -> None:
    api.emu.add_user(EmulatorUser(username="no_videos", display_name="No Videos"))
    redirect = api.emu.approve(authorize_url(api.emu), user="no_videos")
    access = (await api.token(code=callback_params(redirect)["code"])).json()["access_token"]
    response = await api.client.post(
        VIDEOS,
        params={"fields": "id"},
        json={},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert response.json()["data"] == {"videos": [], "cursor": 0, "has_more": False}


async def test_unknown_avatar_is_404(api: Api) -> None:
    missing = await api.client.get("https://open.tiktokapis.com/avatars/nobody.svg")
    assert missing.status_code == 404
    user = api.emu.users[1]
    too_big = await api.client.get(
        f"https://open.tiktokapis.com/avatars/{user.open_id}.svg?size=9999"
    )
    assert too_big.status_code == 404


async def test_concurrent_logins_of_many_users_stay_apart() -> None:
    users = EmulatorUser.generate(200)
    emu = TikTokEmulator(users=users, rate_limit=None)
    async with AsyncClient(transport=emu.transport()) as client:
        api = Api(emu, client)

        async def login_as(user: EmulatorUser) -> str:
            redirect = emu.approve(authorize_url(emu), user=user)
            token = (await api.token(code=callback_params(redirect)["code"])).json()
            info = await api.userinfo(token["access_token"], "open_id,username")
            return str(info.json()["data"]["user"]["username"])

        names = await asyncio.gather(*(login_as(u) for u in users))
    assert names == [u.username for u in users]
    assert emu.count("userinfo") == 200


async def test_avatar_urls_are_signed_and_expire_after_about_two_days(
    api: Api, clock: Clock
) -> None:
    token = await api.login()
    info = await api.userinfo(token["access_token"], "avatar_url,avatar_large_url")
    url = info.json()["data"]["user"]["avatar_url"]
    query = parse_qs(urlsplit(url).query)
    assert int(query["x-expires"][0]) == int(clock()) + 48 * 3600
    assert query["x-signature"][0]
    fresh = await api.client.get(url)
    assert fresh.status_code == 200
    assert fresh.headers["content-type"].startswith("image/svg+xml")
    clock.advance(47 * 3600)
    assert (await api.client.get(url)).status_code == 200
    clock.advance(2 * 3600)  # 49 hours after user info
    expired = await api.client.get(url)
    assert expired.status_code == 403
    # A fresh user-info call gives a fresh URL.
    token = (await api.refresh(token["refresh_token"])).json()
    again = await api.userinfo(token["access_token"], "avatar_url")
    assert (await api.client.get(again.json()["data"]["user"]["avatar_url"])).status_code == 200


def _other_first(signature: str) -> str:
    """``signature`` with its first character changed (always to another one)."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: {**q, "x-expires": [str(int(q["x-expires"][0]) + 86400)]},
        lambda q: {**q, "x-signature": [_other_first(q["x-signature"][0])]},
        lambda q: {**q, "size": ["720"]},
        lambda q: {k: v for k, v in q.items() if k != "x-signature"},
        lambda q: {k: v for k, v in q.items() if k != "x-expires"},
    ],
    ids=["later-expiry", "signature", "size", "no-signature", "no-expiry"],
)
async def test_tampered_avatar_url_is_403(api: Api, tamper: Any) -> None:
    token = await api.login()
    info = await api.userinfo(token["access_token"], "avatar_url")
    parts = urlsplit(info.json()["data"]["user"]["avatar_url"])
    query = tamper(parse_qs(parts.query))
    edited = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    response = await api.client.get(edited)
    assert response.status_code == 403


async def test_consent_page_avatars_are_signed_too(api: Api) -> None:
    page = (await api.client.get(authorize_url(api.emu))).text
    src = re.search(r'<img src="([^"]+)"', page)
    assert src is not None
    url = html.unescape(src.group(1))
    assert "x-signature=" in url
    assert (await api.client.get(url)).status_code == 200


async def test_avatar_url_method_signs_like_user_info(api: Api, clock: Clock) -> None:
    url = api.emu.avatar_url("leo.skates", 56, base_url="https://open.tiktokapis.com/")
    assert url.startswith(f"https://open.tiktokapis.com/avatars/{api.emu.users[1].open_id}.svg?")
    assert (await api.client.get(url)).status_code == 200
    assert api.emu.avatar_url(api.emu.users[1]).startswith("/avatars/")
    clock.advance(49 * 3600)
    assert (await api.client.get(url)).status_code == 403
    with pytest.raises(ValueError, match="size"):
        api.emu.avatar_url("leo.skates", 5000)
