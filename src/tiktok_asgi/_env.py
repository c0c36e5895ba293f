"""Settings from environment variables (and an optional ``.env`` file).

Generic over the settings class (any keyword-only dataclass), so that it needs nothing from
:mod:`tiktok_asgi.settings`, which calls it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from starlette.config import Config

__all__ = ["settings_from_env"]

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


def _converter(field: dataclasses.Field[Any]) -> Callable[[str], Any]:
    if field.name in _LIST_FIELDS:
        return _as_list
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
    environment variables win over the ``.env`` file. Every missing, malformed or unknown
    variable is reported at once, in one ``ValueError``.
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
    """A variable with the prefix that names no setting is most likely a typo (``TIKTOK_SCOPE``):
    left alone, its setting would silently keep its default."""
    suffixes = [name.upper() for name in names]
    known = [prefix + suffix for suffix in suffixes]
    problems = []
    for variable in sorted(set(present)):
        if not variable.startswith(prefix) or variable in known:
            continue
        # Compared without the shared prefix, which would make every name look alike.
        guess = difflib.get_close_matches(variable[len(prefix) :], suffixes, n=1, cutoff=0.6)
        hint = (
            f"did you mean {prefix}{guess[0]}?" if guess else f"the settings are {', '.join(known)}"
        )
        problems.append(
            f"{variable} is not a setting: {hint} (from_env reads every {prefix}* variable; "
            f"keep other variables under another prefix)"
        )
    return problems


def _one_message(prefix: str, problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    listed = "".join(f"\n  - {problem}" for problem in problems)
    return f"{len(problems)} problems with the {prefix}* environment variables:{listed}"
