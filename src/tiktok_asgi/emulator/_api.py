"""``GET /v2/user/info/`` and ``POST /v2/video/list/``: the API envelope, scopes, rate limits."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tiktok_asgi.emulator._avatars import avatar_signature
from tiktok_asgi.emulator._config import FIELD_SCOPES
from tiktok_asgi.emulator._core import Core, parse_pairs
from tiktok_asgi.emulator._errors import EmulatorRejected
from tiktok_asgi.emulator._responses import (
    ENVELOPE_MESSAGES,
    envelope,
    envelope_error,
    rejection_response,
)
from tiktok_asgi.emulator._state import Grant
from tiktok_asgi.emulator._users import EmulatorUser
from tiktok_asgi.emulator._videos import VIDEO_FIELDS, Video, page_of_videos, video_json, videos_of

__all__ = ["AVATAR_URL_TTL", "avatar_url", "signed_avatar_query", "userinfo", "video_list"]

AVATAR_SIZES = {"avatar_url": 168, "avatar_url_100": 100, "avatar_large_url": 720}
AVATAR_URL_TTL = 48 * 3600  # TikTok's signed CDN URLs last about two days
MAX_VIDEO_COUNT = 20


def _refused(code: str, message: str | None = None, **headers: str) -> EmulatorRejected:
    text = message if message is not None else ENVELOPE_MESSAGES.get(code, code)
    return EmulatorRejected(code, text, render="envelope", headers=headers)


def signed_avatar_query(core: Core, open_id: str, size: int) -> str:
    """``size=…&x-expires=…&x-signature=…``: valid for about 48 hours on the emulator's clock."""
    expires = int(core.config.clock()) + AVATAR_URL_TTL
    signature = avatar_signature(core.avatar_key, open_id, size, expires)
    return f"size={size}&x-expires={expires}&x-signature={signature}"


def avatar_url(core: Core, request: Request, user: EmulatorUser, size: int = 168) -> str:
    """A signed URL of the user's avatar on this emulator (mount prefix included).

    Like TikTok's CDN URLs it expires: ``x-expires`` is about 48 hours ahead on the emulator's
    clock and ``x-signature`` covers it, so the image host refuses it later or once edited.
    """
    base = request.url_for("avatar", open_id=user.open_id)
    return f"{base}?{signed_avatar_query(core, user.open_id, size)}"


def _gate(core: Core, request: Request, endpoint: str) -> tuple[Grant, EmulatorUser]:
    """Rate limit, then the bearer token: the checks every API call passes first."""
    retry = core.state.throttle(endpoint, core.config.rate_limit)
    if retry is not None:
        raise _refused("rate_limit_exceeded", **{"Retry-After": str(retry)})
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    grant = core.state.grant_for(token.strip()) if scheme.lower() == "bearer" else None
    user = core.find_user(grant.open_id) if grant is not None else None
    if grant is None or user is None:
        raise _refused("access_token_invalid")
    return grant, user


def _fields(core: Core, request: Request, known: frozenset[str]) -> list[str]:
    values = parse_pairs(request.scope.get("query_string", b"")).get("fields", [])
    if len(values) != 1 or not values[0]:
        message = "The request must have exactly one fields parameter, e.g. fields=open_id."
        raise _refused("invalid_params", message)
    fields = list(dict.fromkeys(values[0].split(",")))
    unknown = [f for f in fields if f not in known]
    if unknown:
        message = f"Invalid fields: {','.join(unknown)!r}."
        raise _refused("invalid_params", message)
    return fields


def _user_json(
    core: Core, request: Request, user: EmulatorUser, fields: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        if name in AVATAR_SIZES:
            out[name] = avatar_url(core, request, user, AVATAR_SIZES[name])
        elif name == "profile_deep_link":
            out[name] = f"https://vm.tiktok.com/@{user.username}"
        else:
            out[name] = getattr(user, name)
    return out


async def userinfo(core: Core, request: Request, body: bytes) -> Response:
    try:
        grant, user = _gate(core, request, "userinfo")
        fields = _fields(core, request, frozenset(FIELD_SCOPES))
    except EmulatorRejected as exc:
        return rejection_response(exc, core.config.clock)
    if any(FIELD_SCOPES[f] not in grant.scopes for f in fields):
        return envelope_error("scope_not_authorized", core.config.clock)
    return envelope({"user": _user_json(core, request, user, fields)}, core.config.clock)


def _paging(core: Core, request: Request, body: bytes) -> tuple[int | None, int]:
    def bad(message: str) -> EmulatorRejected:
        return _refused("invalid_params", message)

    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise bad("Content-Type must be application/json.")
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise bad("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise bad("The request body must be a JSON object.")
    max_count = payload.get("max_count", MAX_VIDEO_COUNT)
    cursor = payload.get("cursor")
    if type(max_count) is not int or not 1 <= max_count <= MAX_VIDEO_COUNT:
        raise bad(f"max_count must be an integer from 1 to {MAX_VIDEO_COUNT}.")
    if cursor is not None and (type(cursor) is not int or cursor < 0):
        raise bad("cursor must be a non-negative integer (a UTC timestamp in milliseconds).")
    return cursor, max_count


async def video_list(core: Core, request: Request, body: bytes) -> Response:
    try:
        grant, user = _gate(core, request, "video_list")
        if "video.list" not in grant.scopes:
            return envelope_error("scope_not_authorized", core.config.clock)
        fields = _fields(core, request, VIDEO_FIELDS)
        cursor, max_count = _paging(core, request, body)
    except EmulatorRejected as exc:
        return rejection_response(exc, core.config.clock)
    page, next_cursor, has_more = page_of_videos(videos_of(user), cursor, max_count)

    def cover(video: Video) -> str:
        return str(request.url_for("cover", video_id=video.id))

    videos = [video_json(v, user, fields, cover) for v in page]
    data = {"videos": videos, "cursor": next_cursor, "has_more": has_more}
    return envelope(data, core.config.clock)
