"""Serve the emulator: ``python -m tiktok_asgi.emulator --port 8790``.

Prints the base URL and the client credentials, then serves with uvicorn (the ``demo`` extra).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from tiktok_asgi.emulator._config import (
    APP_TYPES,
    DEFAULT_PRODUCTS,
    DEFAULT_REDIRECT_URIS,
    PRODUCTS,
)
from tiktok_asgi.emulator._emulator import TikTokEmulator
from tiktok_asgi.emulator._endpoints import ENDPOINTS
from tiktok_asgi.emulator._state import REQUEST_LOG_SIZE
from tiktok_asgi.emulator._users import EmulatorUser, sample_users

__all__ = ["build_emulator", "export_lines", "main"]

_DEFAULT_CALLBACK_PATH = "/auth/tiktok/callback"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok_asgi.emulator",
        description="An offline TikTok Login Kit v2 for local development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8790, help="port (default 8790)")
    parser.add_argument("--client-key", default="emulator-client-key")
    parser.add_argument("--client-secret", default="emulator-client-secret")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="a registered redirect URI; repeat for several (default: the emulator's three)",
    )
    parser.add_argument(
        "--app-type",
        choices=APP_TYPES,
        default="web",
        help="web (base64url PKCE) or desktop (hex PKCE, any loopback port); default web",
    )
    parser.add_argument(
        "--products",
        default=None,
        metavar="LIST",
        help=f"the app's products, comma-separated, from {','.join(PRODUCTS)} "
        f"(default {','.join(DEFAULT_PRODUCTS)})",
    )
    parser.add_argument(
        "--no-display-api",
        action="store_true",
        help="an app without the Display API, as new apps are since 2026 (only user.info.basic)",
    )
    parser.add_argument(
        "--scopes",
        default=None,
        help="approved scopes, comma-separated (default: every scope of the products)",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="a sandbox app: only target users may sign in"
    )
    parser.add_argument(
        "--target-user",
        action="append",
        dest="target_users",
        default=[],
        metavar="NAME",
        help="a sandbox target user (username or open_id); repeat for several, at most 10",
    )
    parser.add_argument(
        "--access-token-ttl", type=int, default=7200, metavar="SECONDS", help="default 7200"
    )
    parser.add_argument(
        "--refresh-token-ttl",
        type=int,
        default=15_552_000,
        metavar="SECONDS",
        help="default 15552000 (180 days)",
    )
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument(
        "--rate-limit", type=int, default=600, metavar="N", help="requests a minute per endpoint"
    )
    limit.add_argument(
        "--no-rate-limit",
        dest="rate_limit",
        action="store_const",
        const=None,
        help="turn the rate limit off",
    )
    parser.add_argument(
        "--request-log-size",
        type=int,
        default=REQUEST_LOG_SIZE,
        metavar="N",
        help=f"requests kept for inspection (default {REQUEST_LOG_SIZE})",
    )
    parser.add_argument("--app-name", default="Emulated App")
    parser.add_argument(
        "--users", type=int, default=0, metavar="N", help="N generated users instead of samples"
    )
    parser.add_argument(
        "--webhook-url",
        default=None,
        metavar="URL",
        help="the app's webhook callback URL: removing the app at /apps sends it a signed "
        "authorization.removed",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    return parser


def _split(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def build_emulator(args: argparse.Namespace) -> TikTokEmulator:
    """The emulator the parsed command line asks for (``ValueError`` if it is inconsistent)."""
    products = _split(args.products) if args.products is not None else list(DEFAULT_PRODUCTS)
    if args.no_display_api:
        if args.products is not None and "display_api" in products:
            raise ValueError("--no-display-api contradicts --products with display_api")
        products = [p for p in products if p != "display_api"]
    emulator = TikTokEmulator(
        client_key=args.client_key,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uris or DEFAULT_REDIRECT_URIS,
        approved_scopes=_split(args.scopes) if args.scopes is not None else None,
        users=EmulatorUser.generate(args.users) if args.users > 0 else sample_users(),
        app_type=args.app_type,
        products=products,
        sandbox=args.sandbox,
        target_users=args.target_users,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        rate_limit=args.rate_limit,
        request_log_size=args.request_log_size,
        app_name=args.app_name,
    )
    if args.webhook_url is not None:
        emulator.register_webhook(args.webhook_url)
    return emulator


def export_lines(emu: TikTokEmulator, base: str) -> list[str]:
    """Shell lines that point :meth:`TikTokSettings.from_env` at this emulator.

    ``TIKTOK_SECRET_KEY`` is the app's own cookie key, so it is generated where it is pasted.
    """
    # A desktop app's wildcard port (``http://127.0.0.1:*/cb``) accepts any port: pick one.
    concrete = [uri.replace(":*", ":8000", 1) for uri in emu.redirect_uris]
    loopback = [uri for uri in concrete if urlsplit(uri).scheme == "http"]
    redirect_uri = (loopback or concrete or [""])[0]
    values = {
        "TIKTOK_CLIENT_KEY": emu.client_key,
        "TIKTOK_CLIENT_SECRET": emu.client_secret,
        "TIKTOK_REDIRECT_URI": redirect_uri,
        "TIKTOK_SCOPES": ",".join(emu.approved_scopes),
        "TIKTOK_PKCE": "hex" if emu.app_type == "desktop" else "base64url",
    }
    callback_path = urlsplit(redirect_uri).path
    if redirect_uri and callback_path != _DEFAULT_CALLBACK_PATH:
        values["TIKTOK_CALLBACK_PATH"] = callback_path
    for endpoint in ENDPOINTS:
        if endpoint.setting:
            values[f"TIKTOK_{endpoint.setting.upper()}"] = base + endpoint.path
    values["TIKTOK_API_BASE_URL"] = base
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    generate = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    lines.append(f'export TIKTOK_SECRET_KEY="$({generate})"')
    return lines


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    try:
        import uvicorn
    except ImportError:
        sys.exit('The emulator server needs uvicorn: pip install "tiktok-asgi[demo]"')
    try:
        emu = build_emulator(args)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    print(f"TikTok emulator at {base}", flush=True)
    print(f"  app_type:      {emu.app_type}")
    print(f"  client_key:    {emu.client_key}")
    print(f"  client_secret: {emu.client_secret}")
    for endpoint in ENDPOINTS:
        if endpoint.setting:
            print(f"  {endpoint.setting + ':':<15}{base}{endpoint.path}")
    for uri in emu.redirect_uris:
        print(f"  redirect_uri:  {uri}")
    print(f"  products:      {', '.join(emu.products)}")
    print(f"  scopes:        {','.join(emu.approved_scopes)}")
    if emu.sandbox:
        print(f"  sandbox, target users: {', '.join(emu.target_users) or '(none)'}")
    rate = "off" if args.rate_limit is None else f"{args.rate_limit} a minute per endpoint"
    print(f"  rate limit:    {rate}")
    print(f"  connected apps: {base}/apps (webhook: {args.webhook_url or 'none registered'})")
    print(f"  users:         {', '.join('@' + u.username for u in emu.users[:6])}")
    print("\nFor TikTokSettings.from_env(), paste into your app's shell:")
    print("\n".join(export_lines(emu, base)), flush=True)
    uvicorn.run(emu, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
