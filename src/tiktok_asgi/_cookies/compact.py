"""The identity cookie's payload text: fields a cookie carries as they are, and TikTok's three
avatar URLs written as one.

A field's text keeps ASCII letters, digits and ``- . _ ~ : / ? = & % @`` as they are (the
characters of a URL, which most of a profile is), writes a space as ``+``, and escapes every
other character as ``!`` and the two upper-case hex digits of each of its UTF-8 bytes
(``"Zoë"`` → ``Zo!C3!AB``); text that would grow more than base64 of its UTF-8 bytes is written
``!!`` + that base64url instead, and the empty string is ``!``. So ``|`` (between fields), ``*``
(inside a field) and ``!`` never occur in a field's text but as its structure, and reading a
field that has neither ``!`` nor ``+`` costs nothing.

TikTok's three avatar URLs of a user are one picture at three sizes: they differ in a few places
only (the size, and the parameters signing it). The first is written ``<start>*<middle>*<end>``
(what all three share at their start and end, and its own middle), the second and third as
their middles alone (:func:`avatars`).
"""

from __future__ import annotations

import binascii
import re

__all__ = ["avatars", "join_list", "split_list", "text", "untext"]

_KEPT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?=&%@ "
_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?=&%@ ]+")
_ESCAPED = re.compile(r"(?:![0-9A-F]{2})+")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PADDING = ("", "", "==", "=")


def _escape(match: re.Match[str]) -> str:
    return "!" + match[0].encode("utf-8", "surrogatepass").hex("!").upper()


def _unescape(match: re.Match[str]) -> str:
    return bytes.fromhex(match[0].replace("!", "")).decode("utf-8", "surrogatepass")


def text(value: str) -> str:
    """``value`` as a field's text (never empty: the empty string is ``!``)."""
    if not value:
        return "!"
    if value.isascii() and not value.encode("ascii").translate(None, _KEPT):
        return value.replace(" ", "+")  # nothing to escape: most of a profile
    escaped = _UNSAFE.sub(_escape, value)
    raw = value.encode("utf-8", "surrogatepass")
    if len(escaped) > 2 + (len(raw) * 4 + 2) // 3:
        return "!!" + binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).rstrip(
            b"="
        ).decode("ascii")
    return escaped.replace(" ", "+")


def untext(field: str) -> str:
    """The value of a field's text in which ``+`` is already a space again and ``!`` occurs;
    ``ValueError`` if it is no such text."""
    if field == "!":
        return ""
    if field[:2] == "!!":
        data = field[2:].replace("-", "+").replace("_", "/")
        raw = binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)
        return raw.decode("utf-8", "surrogatepass")
    return _ESCAPED.sub(_unescape, field)


def join_list(values: tuple[str, ...] | list[str]) -> str:
    return "*".join(map(text, values))


def split_list(field: str) -> tuple[str, ...]:
    """The values of a :func:`join_list` field whose ``+`` are spaces again."""
    if not field:
        return ()
    return tuple(untext(v) if "!" in v else v for v in field.split("*"))


def avatars(urls: list[str | None]) -> list[str]:
    """The fields of TikTok's three avatar URLs (``None``: absent, an empty field).

    When the first is there with another, and they share a start and an end, the first is
    written ``<start>*<its middle>*<end>`` and the others as their middles alone: reading them
    is then a few concatenations. Otherwise each is its own text.
    """
    first = urls[0]
    others = [u for u in urls[1:] if u is not None]
    if first is not None and others:
        kept = [_kept(first, u) for u in others]
        start = min(k[0] for k in kept)
        end = min(k[1] for k in kept)
        if (start + end) * len(others) > 2:  # what is shared outweighs the two "*"
            pieces = (first[:start], first[start : len(first) - end], first[len(first) - end :])
            fields = ["*".join(text(p) if p else "" for p in pieces)]  # an empty piece: nothing
            fields += ["" if u is None else text(u[start : len(u) - end]) for u in urls[1:]]
            return fields
    return ["" if u is None else text(u) for u in urls]


def _kept(base: str, url: str) -> tuple[int, int]:
    """How many characters ``url`` shares with ``base`` at its start, then at its end."""
    most = min(len(base), len(url))
    if base.isascii() and url.isascii():
        # The first difference is the highest bit of the two strings' XOR, read as numbers.
        a, b = base.encode("ascii"), url.encode("ascii")
        start = _same(int.from_bytes(a[:most], "big") ^ int.from_bytes(b[:most], "big"), most)
        rest = most - start
        end = _same(
            int.from_bytes(a[len(a) - rest :], "little")
            ^ int.from_bytes(b[len(b) - rest :], "little"),
            rest,
        )
        return start, end
    start = 0
    while start < most and base[start] == url[start]:
        start += 1
    end = 0
    while end < most - start and base[-1 - end] == url[-1 - end]:
        end += 1
    return start, end


def _same(difference: int, length: int) -> int:
    """How many leading bytes of ``length`` agree, given their XOR (most significant first)."""
    return length if not difference else length - 1 - (difference.bit_length() - 1) // 8
