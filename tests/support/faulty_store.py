"""A token store that fails or stalls on demand, around a real one (memory or Redis).

Every call of the inner store goes through :meth:`FaultyStore._guard`: while ``down`` every call
raises :class:`TokenStoreError`; ``fail_next`` makes the next calls of the named methods fail
once each; while ``held`` is set, calls wait for it to be released. The inner store's optional
capabilities are offered as they are (``peek`` is hidden by default: a synchronous answer could
not fail, and a store that fails is a shared store).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tiktok_asgi import TokenStoreError


class FaultyStore:
    def __init__(self, inner: Any, *, peek: bool = False) -> None:
        self.inner = inner
        self.down = False
        self.fail_next: list[str] = []
        self.held: asyncio.Event | None = None  # calls wait while it is not set
        self.held_method: str | None = None  # only calls of this method wait (None: all)
        self.calls: list[str] = []
        self._peek = peek

    def hold(self, method: str | None = None) -> None:
        self.held = asyncio.Event()
        self.held_method = method

    def release(self) -> None:
        if self.held is not None:
            self.held.set()
            self.held = None

    async def _guard(self, name: str) -> None:
        self.calls.append(name)
        if self.held is not None and self.held_method in (None, name):
            await self.held.wait()
        if self.down:
            raise TokenStoreError(f"the store is down ({name})")
        if name in self.fail_next:
            self.fail_next.remove(name)
            raise TokenStoreError(f"the store failed once ({name})")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or (name == "peek" and not self._peek):
            raise AttributeError(name)
        found = getattr(self.inner, name)
        if name == "lock":
            return self._lock
        if inspect.iscoroutinefunction(found):
            return self._wrap(name, found)
        return found

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._guard(name)
            return await method(*args, **kwargs)

        return call

    @asynccontextmanager
    async def _lock(self, key: str, timeout: float) -> AsyncIterator[None]:  # noqa: ASYNC109
        await self._guard("lock")
        async with self.inner.lock(key, timeout):
            yield
