"""The signed-in TikTok user, and which user-info fields each granted scope unlocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from starlette.authentication import BaseUser

__all__ = ["SCOPE_FIELDS", "TikTokUser", "fields_for_scopes"]

# TikTok's user-info fields by the scope that unlocks them. There is no e-mail in any scope.
SCOPE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "user.info.basic": (
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
    ),
    "user.info.profile": ("bio_description", "profile_deep_link", "is_verified", "username"),
    "user.info.stats": ("follower_count", "following_count", "likes_count", "video_count"),
}


def fields_for_scopes(granted: Iterable[str]) -> tuple[str, ...]:
    """The user-info ``fields`` to ask for, from the *granted* scopes only."""
    granted = set(granted)
    return tuple(f for scope, names in SCOPE_FIELDS.items() if scope in granted for f in names)


@dataclass(frozen=True, kw_only=True, slots=True)
class TikTokUser(BaseUser):
    """A TikTok account signed in to this app; ``None`` marks what its scopes did not grant.

    ``identity`` is ``open_id`` (stable per app); ``union_id`` is shared by the apps of one
    developer account. ``extra`` is a small JSON mapping the application may attach at login
    (``on_login``), e.g. its own user id; it travels in the signed identity cookie.
    """

    open_id: str
    display_name: str = ""
    union_id: str | None = None
    avatar_url: str | None = None
    avatar_url_100: str | None = None
    avatar_large_url: str | None = None
    username: str | None = None
    bio_description: str | None = None
    profile_deep_link: str | None = None
    is_verified: bool | None = None
    follower_count: int | None = None
    following_count: int | None = None
    likes_count: int | None = None
    video_count: int | None = None
    granted_scopes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        # The user of a verified cookie is shared by that cookie's requests: freeze ``extra`` so
        # a view writing to it cannot change what the next request sees.
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.open_id

    @classmethod
    def from_userinfo(cls, info: Mapping[str, Any], granted_scopes: Iterable[str]) -> TikTokUser:
        """Build from TikTok's ``data.user`` object, keeping only fields the scopes unlock."""
        scopes = tuple(granted_scopes)
        allowed = set(fields_for_scopes(scopes))
        values = {k: info[k] for k in _FIELD_NAMES if k in allowed and info.get(k) is not None}
        if not isinstance(values.get("open_id"), str) or not values["open_id"]:
            raise ValueError("TikTok's user info has no open_id")
        return cls(**values, granted_scopes=scopes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the identity cookie: granted fields only."""
        data: dict[str, Any] = {k: getattr(self, k) for k in _FIELD_NAMES}
        data = {k: v for k, v in data.items() if v is not None}
        data["granted_scopes"] = list(self.granted_scopes)
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TikTokUser:
        values = {k: data[k] for k in _FIELD_NAMES if k in data}
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise ValueError("extra must be a JSON object")
        return cls(**values, granted_scopes=tuple(data.get("granted_scopes", ())), extra=extra)


_FIELD_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(TikTokUser) if f.name not in ("granted_scopes", "extra")
)
