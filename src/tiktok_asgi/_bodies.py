"""Request bodies the library reads itself (webhooks, native code exchanges): bounded in size,
in pieces and in JSON nesting, so a hostile POST costs little and is refused, never a 500."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Receive

__all__ = ["BodyRefused", "load_json", "read_body"]

_MAX_CHUNKS = 1024  # body messages read at most (empty ones would otherwise never end)


class BodyRefused(ValueError):
    """The body is too large, too deep, in too many pieces, or never came; says which."""


async def read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for _ in range(_MAX_CHUNKS):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyRefused("The request ended before its body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyRefused("The body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
    raise BodyRefused("The body came in too many pieces.")


def load_json(text: str | bytes, max_depth: int) -> Any:
    """JSON no deeper than ``max_depth``; :class:`ValueError` for anything else (deep nesting
    would otherwise end in a RecursionError)."""
    chars = text.decode("utf-8") if isinstance(text, bytes) else text  # ValueError if not UTF-8
    if chars.count("{") + chars.count("[") > max_depth and _depth(chars) > max_depth:
        raise BodyRefused(f"The JSON is nested deeper than {max_depth} levels.")
    return json.loads(chars)


def _depth(chars: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in chars:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
