"""Settings from environment variables (and an optional ``.env`` file).

Generic over the settings class (any keyword-only dataclass), so that it needs nothing from
:mod:`tiktok_asgi.settings`, which calls it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from starlette.config import Config

from ._i18n import available, match

__all__ = ["settings_from_env"]

logger = logging.getLogger("tiktok_asgi")

_S = TypeVar("_S")

_REQUIRED_HELP = {
    "client_key": "the Client key from the TikTok app console",
    "client_secret": "the Client secret from the TikTok app console",
    "redirect_uri": "the callback URL registered in the TikTok app console",
    "secret_key": "one or more random keys of 32+ characters, comma-separated, newest last",
}
_LIST_FIELDS = frozenset(
    {"scopes", "secret_key", "protected_paths", "allowed_origins", "native_redirect_uris"}
)
_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS |= {"0": False, "false": False, "no": False, "off": False}


def _as_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _as_bool(value: str) -> bool:
    try:
        return _BOOLS[value.strip().lower()]
    except KeyError:
        raise ValueError("expected true/false, 1/0, yes/no or on/off") from None


def _as_pkce(value: str) -> str | None:
    """``none`` or ``off`` turns PKCE off; other values are checked by the settings."""
    return None if value.strip().lower() in ("none", "off") else value.strip()


def _as_locale(value: str) -> str | None:
    """``auto`` follows each browser's ``Accept-Language``; else a language of the pages."""
    if value.strip().lower() == "auto":
        return None
    found = match(value)
    if found is None:
        raise ValueError(
            f"expected one of {', '.join(available())}, or auto to follow each browser's "
            "Accept-Language"
        )
    return found


def _as_limits(value: str, default: object) -> object:
    """``off`` turns every request limit off; ``on`` keeps the defaults (set others in code)."""
    switch = _as_bool(value)
    return default if switch else None


def _converter(field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    if field.name == "limits":
        return lambda value: _as_limits(value, field.default)
    if field.name in _LIST_FIELDS:
        return _as_list
    if field.name == "locale":
        return _as_locale
    if field.name in ("pkce", "qr_path", "exchange_path"):
        return _as_pkce  # "none" or "off" turns either off
    if field.name == "disconnect_path":
        return _as_pkce  # "none" or "off" turns it off (empty keeps the default)
    kind = field.default
    if field.name == "cookie_secure" or isinstance(kind, bool):
        return _as_bool
    if isinstance(kind, int):
        return int
    if isinstance(kind, float):
        return float
    return str


def settings_from_env(
    cls: Callable[..., _S],
    prefix: str,
    env_file: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None,
) -> _S:
    """Read every setting from ``<prefix><NAME>`` (e.g. ``TIKTOK_CLIENT_KEY``).

    Lists (``SCOPES``, ``SECRET_KEY``, ``PROTECTED_PATHS``) are comma-separated; booleans accept
    true/false, 1/0, yes/no, on/off; an empty value means "unset" for optional settings. Real
    environment variables win over the ``.env`` file. Every missing or malformed variable, and
    every one that looks like a typo of a setting's name, is reported at once, in one
    ``ValueError``; other ``<prefix>*`` variables are another program's, and ignored.
    """
    if env_file is not None and not Path(env_file).is_file():
        raise ValueError(f"env_file {os.fspath(env_file)!r} does not exist; create it or pass None")
    environ = os.environ if environ is None else environ
    config = Config(
        None if env_file is None else Path(env_file), environ=environ, env_prefix=prefix
    )
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    problems = _unknown_variables(prefix, [f.name for f in fields], [*environ, *config.file_values])
    values: dict[str, Any] = {}
    for field in fields:
        variable = prefix + field.name.upper()
        raw = config(field.name.upper(), default=None)
        if raw is None or raw.strip() == "":
            if field.name in _REQUIRED_HELP:
                problems.append(f"{variable} is not set: set it to {_REQUIRED_HELP[field.name]}")
            continue
        try:
            value = _converter(field)(raw)
        except ValueError as exc:
            problems.append(f"{variable}={raw!r} is malformed: {exc}")
            continue
        if field.name == "secret_key" and len(value) == 1:
            value = value[0]
        values[field.name] = value
    if problems:
        raise ValueError(_one_message(prefix, problems))
    try:
        return cls(**values)
    except ValueError as exc:
        raise ValueError(f"{exc} (from the {prefix}* environment variables)") from None


def _unknown_variables(prefix: str, names: Sequence[str], present: Iterable[str]) -> list[str]:
    """The variables with the prefix that look like a typo of a setting's (``TIKTOK_SCOPE``):
    left alone, that setting would silently keep its default.

    The closeness rule, on the names without the shared prefix: a name is a typo when at most
    :data:`_MAX_EDITS` single-character edits away from a setting's (a character inserted,
    dropped or replaced, or two neighbours swapped; ``_`` counts as a character), at most one
    for a setting's name of :data:`_SHORT` characters or fewer. So ``TIKTOK_SCOPE``,
    ``TIKTOK_CLIENT_SECERT`` and ``TIKTOK_REDIRECT_URL`` are refused, naming the setting meant;
    any other name (``TIKTOK_ADS_API_TOKEN``) belongs to something else, and is ignored.
    """
    suffixes = [name.upper() for name in names]
    known = {prefix + suffix for suffix in suffixes}
    problems = []
    for variable in sorted(set(present)):
        if not variable.startswith(prefix) or variable in known:
            continue
        # Compared without the shared prefix, which would make every name look alike.
        meant = _typo_of(variable[len(prefix) :], suffixes)
        if meant is None:
            logger.debug("%s is not a setting and not close to one: ignored", variable)
            continue
        problems.append(
            f"{variable} is not a setting: did you mean {prefix}{meant}? (a {prefix}* variable "
            f"this close to a setting's name is taken for a typo; if it is another program's, "
            f"rename it)"
        )
    return problems


_MAX_EDITS = 2
_SHORT = 6  # PKCE, SCOPES: two edits would turn such names into unrelated words


def _typo_of(name: str, settings: Sequence[str]) -> str | None:
    """The setting ``name`` is a typo of, by the rule of :func:`_unknown_variables`."""
    best: tuple[int, str] | None = None
    for setting in settings:
        allowed = 1 if len(setting) <= _SHORT else _MAX_EDITS
        edits = _edits(name, setting, allowed)
        if edits <= allowed and (best is None or edits < best[0]):
            best = (edits, setting)
    return None if best is None else best[1]


def _edits(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap of neighbours) from ``a`` to ``b``; any count above
    ``limit`` is reported as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if before is not None and j > 1 and char == b[j - 2] and a[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, previous = previous, current
    return min(previous[-1], limit + 1)


def _one_message(prefix: str, problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    listed = "".join(f"\n  - {problem}" for problem in problems)
    return f"{len(problems)} problems with the {prefix}* environment variables:{listed}"
