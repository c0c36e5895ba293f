"""Which TikTok the demo signs in with: the built-in emulator, or a real app (environment)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.settings import TikTokSettings

__all__ = ["EMULATOR_MOUNT", "REAL_APP_VARIABLES", "DemoSetup", "demo_setup"]

EMULATOR_MOUNT = "/tiktok"
CALLBACK_PATH = "/auth/tiktok/callback"
WEBHOOK_PATH = "/auth/tiktok/webhook"
DEMO_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats")
REAL_APP_VARIABLES = ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET", "TIKTOK_REDIRECT_URI")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - names only


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoSetup:
    """Everything the demo needs to know at start: settings, the emulator if any, what to print.

    ``origin`` is the address a browser must use: the redirect URI's origin, so that the cookie
    set at login comes back on the callback (``localhost`` and ``127.0.0.1`` are different sites).
    """

    settings: TikTokSettings
    emulator: TikTokEmulator | None
    origin: str
    notes: tuple[str, ...] = ()

    @property
    def emulated(self) -> bool:
        return self.emulator is not None

    @property
    def url(self) -> str:
        return f"{self.origin}/"


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: wildcards become loopback, IPv6 gets brackets."""
    name = _WILDCARDS.get(host.strip(), host.strip())
    return f"[{name}]" if ":" in name else name


def demo_setup(host: str, port: int, environ: Mapping[str, str] | None = None) -> DemoSetup:
    """The emulator on ``http://<host>:<port>/tiktok``, unless a real TikTok app is configured.

    A real app needs ``TIKTOK_CLIENT_KEY``, ``TIKTOK_CLIENT_SECRET`` and ``TIKTOK_REDIRECT_URI``
    (every other ``TIKTOK_*`` setting is read too). Raises ``ValueError`` naming the fix.
    """
    env = os.environ if environ is None else environ
    present = [name for name in REAL_APP_VARIABLES if env.get(name, "").strip()]
    if present:
        missing = [name for name in REAL_APP_VARIABLES if name not in present]
        if missing:
            raise ValueError(
                f"{', '.join(present)} set but {', '.join(missing)} not: set all three to sign "
                "in with a real TikTok app, or none to use the built-in emulator"
            )
        return _real_app(env)
    return _emulated(host, port, env)


def _secret_key(env: Mapping[str, str], notes: list[str]) -> str | None:
    if env.get("TIKTOK_SECRET_KEY", "").strip():
        return None
    notes.append(
        "TIKTOK_SECRET_KEY is not set: using a random key for this run, so sign-ins end when "
        "the demo stops"
    )
    return secrets.token_urlsafe(48)


def _emulated(host: str, port: int, env: Mapping[str, str]) -> DemoSetup:
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    origin = f"http://{url_host(host)}:{port}"
    redirect_uri = f"{origin}{CALLBACK_PATH}"
    notes: list[str] = []
    if host.strip() in _WILDCARDS:
        notes.append(
            f"listening on every interface, but sign-in works only at {origin}: the emulator "
            "accepts plain-http redirect URIs on loopback hosts only"
        )
    if urlsplit(origin).hostname not in _LOOPBACK:
        raise ValueError(
            f"--host {host} is not a loopback address: with the emulator the demo signs in over "
            "plain http, which TikTok allows only for localhost, 127.0.0.1 and ::1; use one of "
            "those, or configure a real TikTok app (TIKTOK_CLIENT_KEY, ...) with an https "
            "redirect URI"
        )
    emulator = TikTokEmulator(redirect_uris=[redirect_uri], app_name="tiktok-asgi demo")
    settings = emulator.settings(
        redirect_uri,
        secret_key=env.get("TIKTOK_SECRET_KEY", "").strip() or secrets.token_urlsafe(48),
        base_url=f"{origin}{EMULATOR_MOUNT}",
        scopes=DEMO_SCOPES,
        webhook_path=WEBHOOK_PATH,
    )
    return DemoSetup(settings=settings, emulator=emulator, origin=origin, notes=tuple(notes))


def _real_app(env: Mapping[str, str]) -> DemoSetup:
    notes: list[str] = []
    extra: dict[str, str] = {}
    generated = _secret_key(env, notes)
    if generated is not None:
        extra["TIKTOK_SECRET_KEY"] = generated
    redirect = urlsplit(env["TIKTOK_REDIRECT_URI"].strip())
    if not env.get("TIKTOK_CALLBACK_PATH", "").strip() and redirect.path:
        # The middleware answers at the redirect URI's path, whatever it is.
        extra["TIKTOK_CALLBACK_PATH"] = redirect.path
    settings = TikTokSettings.from_env(environ={**env, **extra})
    origin = f"{redirect.scheme}://{redirect.netloc}"
    return DemoSetup(settings=settings, emulator=None, origin=origin, notes=tuple(notes))
