"""Serve benchmark stacks with uvicorn on 127.0.0.1: ``python serve.py STACK:PORT ...``.

All stacks run in this one process, each on its own port: stacks measured in separate processes
differ by more than the middleware costs (hash seeds, memory layout, scheduler placement).
Only one stack is under load at a time, so the process's CPU time is that stack's.
"""

from __future__ import annotations

import asyncio
import os
import sys

import stacks
import uvicorn
from starlette.types import ASGIApp

from tiktok_asgi import TikTokAuthMiddleware


def build(stack: str) -> ASGIApp:
    """``stacks.build``, and ``redis_live``: signed in with live sessions on the Redis at
    ``$BENCH_REDIS_URL``."""
    if stack != "redis_live":
        return stacks.build(stack)
    from tiktok_asgi.redis_store import RedisTokenStore

    store = RedisTokenStore(os.environ["BENCH_REDIS_URL"])
    return TikTokAuthMiddleware(stacks.starlette_app(), settings=stacks.SETTINGS, token_store=store)


async def serve(pairs: list[tuple[str, int]]) -> None:
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                build(stack),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        for stack, port in pairs
    ]
    await asyncio.gather(*(server.serve() for server in servers))


def main() -> None:
    pairs = [(stack, int(port)) for stack, port in (arg.split(":") for arg in sys.argv[1:])]
    asyncio.run(serve(pairs))


if __name__ == "__main__":
    main()
