"""The language of the pages people see: the ``locale`` setting, else the request's
``Accept-Language``, matched against the catalogs shipped in ``locale/<lang>/LC_MESSAGES``.

Only what a person reads is translated: error codes, JSON bodies and log lines stay English (they
are an API, and what support and searches need). A message is its English text (gettext's msgid);
:func:`N_` marks one for extraction where it is defined, and the page that shows it translates
it. The compiled ``.mo`` files are read with the standard library's :mod:`gettext`.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape
from pathlib import Path
from typing import Literal

from starlette.types import Scope

__all__ = [
    "DEFAULT",
    "N_",
    "Direction",
    "Language",
    "Markup",
    "available",
    "check_locale",
    "fill",
    "for_request",
    "html_attributes",
    "language",
    "match",
    "negotiate",
    "text",
]

DOMAIN = "tiktok_asgi"
LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT = "en"
_RTL = frozenset({"ar"})
_ALIASES = {"in": "id"}  # Indonesian's withdrawn code, still sent by older Android browsers
# The header is anyone's text: a bounded share of it is read, and its answers cached.
_MAX_HEADER = 1024
_MAX_RANGES = 32
_Q_VALUE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Direction = Literal["ltr", "rtl"]


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs where it is defined; it is translated where shown."""
    return message


@cache
def available() -> tuple[str, ...]:
    """The languages with a compiled catalog (English always: it is the messages' own)."""
    found = {path.parents[1].name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return tuple(sorted(found | {DEFAULT}))


def match(tag: str) -> str | None:
    """The available language for a language tag: itself, else its language without the region
    or script (``pt-BR`` → ``pt``); None when there is none."""
    tag = tag.strip().lower().replace("_", "-")
    known = available()
    if tag in known:
        return tag
    primary = tag.split("-", 1)[0]
    primary = _ALIASES.get(primary, primary)
    return primary if primary in known else None


@lru_cache(maxsize=512)
def negotiate(accept_language: str) -> str:
    """The language an ``Accept-Language`` header prefers among the available ones: by q-value,
    then in the header's order; a region falls back to its language; English otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        tag, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                weight = float(value) if _Q_VALUE.fullmatch(value) else 0.0
        tag = tag.strip()
        if tag and weight > 0:
            ranked.append((-weight, position, tag))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return DEFAULT  # any language will do: the messages' own
        found = match(tag)
        if found is not None:
            return found
    return DEFAULT


def check_locale(value: object) -> str | None:
    """The ``locale`` setting: None (each browser's ``Accept-Language``) or an available
    language, as a tag (``pt-BR`` is Portuguese); anything else fails naming the languages."""
    if value is None:
        return None
    found = match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(
            f"locale {value!r} is not a language of the pages; use one of "
            f"{', '.join(available())}, or None (the default) to follow each browser's "
            "Accept-Language"
        )
    return found


@dataclass(frozen=True, eq=False)
class Language:
    """One language's messages: ``code`` is the page's ``lang``, ``dir`` its direction."""

    code: str
    dir: Direction
    messages: Mapping[str, str]
    _templates: list[tuple[re.Pattern[str], str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        templates = [
            (_template_pattern(msgid), msgstr)
            for msgid, msgstr in self.messages.items()
            if _PLACEHOLDER.search(msgid)
        ]
        object.__setattr__(self, "_templates", templates)

    def gettext(self, message: str) -> str:
        """``message`` in this language (as it is when the catalog lacks it)."""
        return self.messages.get(message) or message

    def known(self, text: str) -> str | None:
        """``text`` in this language when the catalog has it, as it is or as a message with
        placeholders filled in (``Use POST for this address.``); None when it does not."""
        found = self.messages.get(text)
        if found:
            return found
        for pattern, translated in self._templates:
            filled = pattern.fullmatch(text)
            if filled is not None:
                return translated.format(**filled.groupdict())
        return None


def _template_pattern(msgid: str) -> re.Pattern[str]:
    """A regular expression matching ``msgid`` with any text in each placeholder."""
    parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, …, literal
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(pattern, re.DOTALL)


@cache
def _load(code: str) -> Language:
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
    messages: dict[str, str] = {}
    if path.is_file():
        with path.open("rb") as mo:
            catalog: dict[object, str] = vars(gettext.GNUTranslations(mo))["_catalog"]
        messages = {k: v for k, v in catalog.items() if isinstance(k, str) and k and v}
    return Language(code, "rtl" if code in _RTL else "ltr", messages)


def language(tag: str) -> Language:
    """The language for a tag (its language without the region); English when none fits."""
    return _load(match(tag) or DEFAULT)


def for_request(scope: Scope, locale: str | None) -> Language:
    """The language of a page answering ``scope``: ``locale`` when set, else negotiated from the
    request's ``Accept-Language``."""
    if locale is not None:
        return language(locale)
    values = [v for k, v in scope.get("headers", ()) if k == b"accept-language"]
    if not values:
        return _load(DEFAULT)
    return _load(negotiate(b",".join(values).decode("latin-1")))


class Markup(str):
    """HTML that :func:`fill` puts in as it is."""

    __slots__ = ()


def text(value: str) -> str:
    """``value`` as the text of an element (quotes need no escaping there)."""
    return escape(value, quote=False)


def fill(template: str, /, **values: object) -> str:
    """A translated ``template`` as the text of an element, its ``{placeholders}`` filled in: the
    template and the values are escaped, but for :class:`Markup` values."""
    return text(template).format(
        **{k: v if isinstance(v, Markup) else text(str(v)) for k, v in values.items()}
    )


def html_attributes(lang: Language) -> str:
    """``<html>``'s attributes for ``lang``: ``dir`` only for right-to-left (left to right is
    the default)."""
    return f'lang="{lang.code}" dir="rtl"' if lang.dir == "rtl" else f'lang="{lang.code}"'
