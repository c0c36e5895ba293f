"""The feed of ended login sessions on Redis: a stream every instance reads (see
:mod:`tiktok_asgi._session.feed`).

- ``tiktok_asgi:{ends}``: a stream with one entry per end (field ``k``: the record's key),
  trimmed to the ends younger than a cookie's lifetime (``XADD … MINID ~``);
- ``tiktok_asgi:{ends}:epoch``: when the feed began (``<ms of Redis's clock>:<random>``), made
  once by the first reader. Redis losing its data loses it too, and the next reader makes a new
  one: the followers then know the feed began again.

Both keys share one hash slot (``{ends}``), so one pipeline reads them on Redis Cluster too.
An end is published before its record is deleted, in two calls, not one transaction: on a
cluster the two keys live on different nodes, and a published end whose delete failed is only
early (the delete is retried with the held ends).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._session.feed import EndsRead

__all__ = ["EPOCH", "STREAM", "end_record", "read_ends"]

Call = Callable[..., Awaitable[Any]]

STREAM = "tiktok_asgi:{ends}"
EPOCH = STREAM + ":epoch"
_BATCH = 1000  # ends per read; fewer means the reader has caught up


async def end_record(redis: Any, call: Call, prefix: str, key: str, keep: int) -> None:
    """Publish the end of ``key``'s record, then delete the record."""
    oldest = int((time.time() - max(1, keep)) * 1000)  # trimming needs no exact clock
    await call(redis.xadd(prefix + STREAM, {"k": key}, minid=oldest, approximate=True, limit=100))
    await call(redis.delete(prefix + key))


async def read_ends(
    redis: Any, call: Call, prefix: str, bound: float, after: str, wait: float
) -> EndsRead:
    """The ends after ``after``, waiting up to ``wait`` seconds for one (``bound``: the store's
    timeout, added to the wait)."""
    block = max(1, int(wait * 1000))  # 0 would block for ever
    pipe = redis.pipeline(transaction=False)
    pipe.get(prefix + EPOCH)
    pipe.xread({prefix + STREAM: after}, count=_BATCH, block=block)
    epoch, found = await call(pipe.execute(), bound=wait + bound)
    if epoch is None:
        epoch = await _begin(redis, call, prefix)
    text = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
    entries = _entries(found)
    keys: list[str] = []
    position = after
    for entry_id, fields in entries:
        position = _text(entry_id)
        key = fields.get(b"k", fields.get("k"))
        if key is not None:
            keys.append(_text(key))
    since_ms, _, _ = text.partition(":")
    try:
        since = int(since_ms) / 1000
    except ValueError:
        since = float("inf")  # not ours: no cookie is vouched for by it
    return EndsRead(text, since, position, keys, caught_up=len(entries) < _BATCH)


async def _begin(redis: Any, call: Call, prefix: str) -> Any:
    """Make the epoch if nobody has; the one that stands."""
    seconds, micros = await call(redis.time())
    made = f"{int(seconds) * 1000 + int(micros) // 1000}:{secrets.token_hex(4)}"
    await call(redis.set(prefix + EPOCH, made, nx=True))
    return await call(redis.get(prefix + EPOCH)) or made


def _entries(found: Any) -> list[tuple[Any, dict[Any, Any]]]:
    """The entries of an ``XREAD`` answer, RESP2 (list) or RESP3 (map)."""
    if not found:
        return []
    streams = found.values() if isinstance(found, dict) else (s[1] for s in found)
    out: list[tuple[Any, dict[Any, Any]]] = []
    for entries in streams:
        for entry in entries or ():
            if isinstance(entry, list | tuple) and len(entry) == 2:
                out.append((entry[0], dict(entry[1] or {})))
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
