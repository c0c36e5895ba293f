"""Each user's public videos: generated from the user, identical on every run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiktok_asgi.emulator._users import EmulatorUser

__all__ = ["VIDEO_FIELDS", "Video", "page_of_videos", "video_json", "videos_of"]

VIDEO_FIELDS = frozenset(
    {
        "id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
        "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
        "share_count", "view_count",
    }
)  # fmt: skip
MAX_VIDEOS = 100  # enough to page through; keeps memory flat for users with huge counts
_NEWEST = 1_714_000_000  # a fixed instant, so create_time and cursors are reproducible
_TOPICS = ("day in my life", "quick tip", "behind the scenes", "trying the trend",
           "Q&A", "storytime", "tutorial", "before and after")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Video:
    id: str
    create_time: int
    title: str
    duration: int
    like_count: int
    comment_count: int
    share_count: int
    view_count: int


def videos_of(user: EmulatorUser) -> tuple[Video, ...]:
    """The user's videos, newest first."""
    out = []
    created = _NEWEST
    for i in range(min(user.video_count, MAX_VIDEOS)):
        h = int.from_bytes(hashlib.sha256(f"{user.open_id}/{i}".encode()).digest()[:8], "big")
        created -= 3600 + h % (3 * 86400)
        views = 500 + h % 2_000_000
        out.append(
            Video(
                id=str(7_000_000_000_000_000_000 + h % 10**18),
                create_time=created,
                title=f"{_TOPICS[h % len(_TOPICS)]} #{user.video_count - i}",
                duration=5 + h % 175,
                like_count=views // (8 + h % 20),
                comment_count=views // (150 + h % 200),
                share_count=views // (300 + h % 500),
                view_count=views,
            )
        )
    return tuple(out)


def page_of_videos(
    videos: tuple[Video, ...], cursor: int | None, max_count: int
) -> tuple[list[Video], int, bool]:
    """Videos created before ``cursor`` (ms); returns the page, the next cursor, has_more."""
    newer_than_cursor = [v for v in videos if cursor is None or v.create_time * 1000 < cursor]
    page = newer_than_cursor[:max_count]
    next_cursor = page[-1].create_time * 1000 if page else (cursor or 0)
    return page, next_cursor, len(newer_than_cursor) > len(page)


def video_json(
    video: Video, user: EmulatorUser, fields: list[str], cover_url: Callable[[Video], str]
) -> dict[str, Any]:
    """Only the requested fields, as TikTok returns them."""
    share = f"https://www.tiktok.com/@{user.username}/video/{video.id}"
    embed = f"https://www.tiktok.com/player/v1/{video.id}"
    full: dict[str, Any] = {
        "id": video.id,
        "create_time": video.create_time,
        "cover_image_url": cover_url(video),
        "share_url": share,
        "video_description": f"{video.title} by @{user.username}",
        "duration": video.duration,
        "height": 1920,
        "width": 1080,
        "title": video.title,
        "embed_html": (
            f'<blockquote class="tiktok-embed" cite="{share}" data-video-id="{video.id}">'
            "</blockquote>"
        ),
        "embed_link": embed,
        "like_count": video.like_count,
        "comment_count": video.comment_count,
        "share_count": video.share_count,
        "view_count": video.view_count,
    }
    return {name: full[name] for name in fields}
