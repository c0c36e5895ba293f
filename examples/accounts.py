"""What the three examples share: this app's own users (a tiny in-memory "database") with the
two login hooks, settings from ``TIKTOK_*`` variables (the TikTok emulator only when
``EXAMPLE_EMULATOR=1`` asks for it), and the headers of their HTML pages.

The examples never sign cookies with the emulator's published ``TEST_SECRET_KEY``: a server
started with ``--host 0.0.0.0`` would let anyone who reaches it forge a sign-in. Without
``TIKTOK_SECRET_KEY`` they use a random key for the run, so sign-ins end when the example stops.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.types import ASGIApp

from tiktok_asgi import TikTokSettings, TikTokUser
from tiktok_asgi.emulator import TEST_SECRET_KEY, TikTokEmulator

from .first_request import BuiltAtFirstRequest

DEFAULT_ORIGIN = "http://127.0.0.1:8000"


def origin() -> str:
    """Where the example is served: the emulator's redirect URI and mount follow it. ``serve``
    sets ``EXAMPLE_ORIGIN`` from --host/--port; behind a proxy, set it yourself. Under uvicorn
    or hypercorn without it, :func:`application` takes the first request's."""
    return os.environ.get("EXAMPLE_ORIGIN", DEFAULT_ORIGIN)


class Accounts:
    """This app's users by TikTok ``open_id``, and the hooks that keep them."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # TikTok open_id -> this app's user id
        self.banned: set[str] = set()
        self._next_id = itertools.count(1)

    async def on_login(self, user: TikTokUser, token: Mapping[str, Any]) -> TikTokUser | None:
        """At sign-in: refuse banned accounts, find or create the app user, keep its id."""
        if user.open_id in self.banned:
            return None  # 403 login_rejected
        if user.open_id not in self.ids:
            self.ids[user.open_id] = next(self._next_id)
        return dataclasses.replace(user, extra={"app_user_id": self.ids[user.open_id]})

    async def load_user(self, user: TikTokUser) -> TikTokUser | None:
        """On every request: a banned account is signed out at once."""
        return None if user.open_id in self.banned else user


# The pages below are plain HTML with inline nothing: a strict policy costs them nothing.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
}


def _emulated() -> bool:
    return os.environ.get("EXAMPLE_EMULATOR", "").strip().lower() in ("1", "true", "yes", "on")


def configure(served_at: str | None = None) -> tuple[TikTokSettings, TikTokEmulator | None]:
    """Real TikTok from ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` included: a missing one
    fails naming it); the emulator, to mount at ``/tiktok``, only with ``EXAMPLE_EMULATOR=1``,
    for the origin ``served_at`` (default :func:`origin`)."""
    if not _emulated():
        return _without_public_key(TikTokSettings.from_env()), None
    served_at = served_at or origin()
    emulator = TikTokEmulator()
    settings = emulator.settings(
        redirect_uri=f"{served_at}/auth/tiktok/callback",
        base_url=f"{served_at}/tiktok",
        # Not the emulator's default, the public test key: the redirect URI is loopback even
        # when the server listens on every interface.
        secret_key=os.environ.get("TIKTOK_SECRET_KEY", "").strip() or secrets.token_urlsafe(48),
    )
    return _without_public_key(settings), emulator


def _without_public_key(settings: TikTokSettings) -> TikTokSettings:
    if TEST_SECRET_KEY in settings.secret_keys:
        raise ValueError(
            "TIKTOK_SECRET_KEY is the emulator's published TEST_SECRET_KEY: anyone who can reach "
            "this server could forge a sign-in with it. Leave TIKTOK_SECRET_KEY unset (a random "
            'key for this run) or generate one: python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"'
        )
    return settings


def application(
    create_app: Callable[[TikTokSettings, TikTokEmulator | None], Any],
) -> ASGIApp:
    """The example's app, as ``uvicorn examples.<name>:app`` serves it. With the emulator and
    no ``EXAMPLE_ORIGIN``, where it is served is known at the first request only: the app is
    built then, for that request's origin (see :mod:`examples.first_request`), so the emulator
    follows uvicorn's or hypercorn's ``--host``/``--port``."""
    if not _emulated() or "EXAMPLE_ORIGIN" in os.environ:
        return create_app(*configure())
    configure()  # a refused TIKTOK_SECRET_KEY stops the server now, not at its first request
    return BuiltAtFirstRequest(lambda served_at: create_app(*configure(served_at)))


def serve(app: str, argv: Sequence[str] | None = None) -> None:
    """``python -m examples.<name> [--host H] [--port P]``: serve ``app`` (an import string) with
    uvicorn, its origin (``EXAMPLE_ORIGIN``) derived from where it listens."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(prog=f"python -m {app.partition(':')[0]}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    host = f"[{args.host}]" if ":" in args.host else args.host
    os.environ["EXAMPLE_ORIGIN"] = f"http://{host}:{args.port}"
    print(f"Open {os.environ['EXAMPLE_ORIGIN']}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port)
