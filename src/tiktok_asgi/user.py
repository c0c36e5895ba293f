"""The signed-in TikTok user, and which user-info fields each granted scope unlocks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeVar

from starlette.authentication import BaseUser

__all__ = ["SCOPE_FIELDS", "TikTokUser", "fields_for_scopes", "is_scope_name"]

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


_T = TypeVar("_T")

# The ``extra`` of every user without one: read-only, so one instance serves them all.
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _no_extra() -> Mapping[str, Any]:
    return _NO_EXTRA


def read_only(extra: dict[str, Any]) -> Mapping[str, Any]:
    """``extra`` as a user keeps it: a read-only view of a dict no one else may hold."""
    return MappingProxyType(extra) if extra else _NO_EXTRA


def is_scope_name(value: object) -> bool:
    """One TikTok scope name such as ``user.info.basic``: not empty, not a joined list."""
    return isinstance(value, str) and bool(value) and "," not in value and " " not in value


def fields_for_scopes(granted: Iterable[str]) -> tuple[str, ...]:
    """The user-info ``fields`` to ask for, from the *granted* scopes only."""
    granted = set(granted)
    return tuple(f for scope, names in SCOPE_FIELDS.items() if scope in granted for f in names)


class NoPermissions:
    """Django's permission API, answered for a person signed in with TikTok: active, but no
    staff, superuser, group or permission, so Django's admin and ``@permission_required`` refuse
    them as they refuse any user without the permission (a redirect to a login page, or 403).

    The answers live on the user itself rather than on a Django-only copy of it, so that
    ``request.user`` stays the very object (and type) the rest of the library hands out; they
    need no Django. Permissions of this app's own come from its own users (see ``on_login``).
    """

    __slots__ = ()

    @property
    def is_active(self) -> bool:
        return True

    @property
    def is_staff(self) -> bool:
        return False

    @property
    def is_superuser(self) -> bool:
        return False

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_user_permissions(self, obj: object = None) -> set[str]:
        return set()

    def get_group_permissions(self, obj: object = None) -> set[str]:
        return set()

    def get_all_permissions(self, obj: object = None) -> set[str]:
        return set()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        # As Django's users: a string is a mistake, and no permissions asked for are all held.
        if isinstance(perm_list, str) or not isinstance(perm_list, Iterable):
            raise ValueError("perm_list must be an iterable of permissions.")
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return False

    async def aget_user_permissions(self, obj: object = None) -> set[str]:
        return self.get_user_permissions(obj)

    async def aget_group_permissions(self, obj: object = None) -> set[str]:
        return self.get_group_permissions(obj)

    async def aget_all_permissions(self, obj: object = None) -> set[str]:
        return self.get_all_permissions(obj)

    async def ahas_perm(self, perm: str, obj: object = None) -> bool:
        return self.has_perm(perm, obj)

    async def ahas_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, app_label: str) -> bool:
        return self.has_module_perms(app_label)


@dataclass(frozen=True, kw_only=True, slots=True)
class TikTokUser(NoPermissions, BaseUser):
    """A TikTok account signed in to this app; ``None`` marks what its scopes did not grant.

    ``identity`` is ``open_id`` (stable per app); ``union_id`` is shared by the apps of one
    developer account. ``extra`` is a small JSON mapping the application may attach at login
    (``on_login``), e.g. its own user id; it travels in the signed identity cookie. It answers
    Django's permission API with no permissions (see :class:`NoPermissions`), and
    ``get_username()`` is ``open_id``.
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
    extra: Mapping[str, Any] = field(default_factory=_no_extra, hash=False, compare=True)

    def __post_init__(self) -> None:
        # The user of a verified cookie is shared by that cookie's requests: freeze ``extra`` so
        # a view writing to it cannot change what the next request sees. An empty one is shared.
        extra = self.extra
        if extra is not _NO_EXTRA:
            object.__setattr__(self, "extra", read_only(dict(extra)))

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.open_id

    def get_username(self) -> str:
        # Django's unique name of a user: TikTok's ``username`` may be absent (a scope not
        # granted) or change, ``open_id`` is always there and stable.
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


def trusted_builder(names: Sequence[str]) -> Callable[..., TikTokUser]:
    """A fast constructor for users whose values were checked already (a verified cookie's).

    The function returned takes the values of the fields ``names``, in that order, as positional
    arguments, and stores them without ``__init__``'s keyword binding or ``__post_init__``: the
    caller passes a tuple of strings as ``granted_scopes`` and :func:`read_only`'s answer as
    ``extra``. Fields not in ``names`` take their defaults. See :func:`frozen_builder`.
    """
    return frozen_builder(TikTokUser, names)


def frozen_builder(cls: type[_T], names: Sequence[str]) -> Callable[..., _T]:
    """A fast constructor of the frozen, slotted dataclass ``cls`` from trusted values.

    Generated code, as ``dataclasses`` itself writes it: one straight line per field costs half
    of a loop over them. The object is built as a writable twin of ``cls`` (a subclass adding no
    storage, whose attribute writes are Python's plain ones: a few instructions each, where a
    frozen class's setters cost a call each) and then made a ``cls``; nobody ever sees the twin.
    Where ``__class__`` cannot be switched so, the fields' own setters are called instead.
    """
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    for name in names:
        if name not in known or not name.isidentifier():
            raise ValueError(f"{cls.__name__} has no field {name!r}")
    twin = type(
        f"_Writable{cls.__name__}",
        (cls,),
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )
    build = _generated(cls, names, known, twin)
    try:
        made = build(*([None] * len(names)))
    except TypeError:
        made = None
    if type(made) is not cls:
        build = _generated(cls, names, known, None)
    return build


def _generated(
    cls: type[_T], names: Sequence[str], known: dict[str, Any], twin: type | None
) -> Callable[..., _T]:
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    arguments = ", ".join(f"v{i}" for i in range(len(names)))
    values = [(name, f"v{i}") for i, name in enumerate(names)]
    for name, f in known.items():
        if name not in names:
            env[f"_default_{name}"] = f.default_factory if f.default is MISSING else f.default
            values.append((name, f"_default_{name}{'()' if f.default is MISSING else ''}"))
    if twin is not None:
        body = ["    made = _new(_twin)"]
        body += [f"    made.{name} = {value}" for name, value in values]
        body.append("    made.__class__ = _cls")
    else:
        body = ["    made = _new(_cls)"]
        for name, value in values:
            env[f"_set_{name}"] = cls.__dict__[name].__set__
            body.append(f"    _set_{name}(made, {value})")
    body.append("    return made")
    # What the code looks up is passed as keyword-only defaults: read as fast as locals.
    bound = ", ".join(f"{name}={name}" for name in env)
    head = f"def build({arguments}, *, {bound}):" if arguments else f"def build(*, {bound}):"
    exec("\n".join([head, *body]), env)  # noqa: S102 - field names only, checked above
    build: Callable[..., _T] = env["build"]
    return build
