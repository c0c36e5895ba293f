"""Serve the emulator: ``python -m tiktok_asgi.emulator --port 8790``.

Prints the base URL and the client credentials, then serves with uvicorn (the ``demo`` extra).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tiktok_asgi.emulator._config import DEFAULT_REDIRECT_URIS, DEFAULT_SCOPES
from tiktok_asgi.emulator._emulator import TikTokEmulator
from tiktok_asgi.emulator._users import EmulatorUser, sample_users

__all__ = ["main"]


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
        "--scopes", default=",".join(DEFAULT_SCOPES), help="approved scopes, comma-separated"
    )
    parser.add_argument("--app-name", default="Emulated App")
    parser.add_argument(
        "--users", type=int, default=0, metavar="N", help="N generated users instead of samples"
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        sys.exit('The emulator server needs uvicorn: pip install "tiktok-asgi[demo]"')
    try:
        emu = TikTokEmulator(
            client_key=args.client_key,
            client_secret=args.client_secret,
            redirect_uris=args.redirect_uris or DEFAULT_REDIRECT_URIS,
            approved_scopes=[s for s in args.scopes.split(",") if s],
            users=EmulatorUser.generate(args.users) if args.users > 0 else sample_users(),
            app_name=args.app_name,
        )
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    print(f"TikTok emulator at {base}", flush=True)
    print(f"  client_key:    {emu.client_key}")
    print(f"  client_secret: {emu.client_secret}")
    print(f"  authorize_url: {base}/v2/auth/authorize/")
    print(f"  token_url:     {base}/v2/oauth/token/")
    print(f"  userinfo_url:  {base}/v2/user/info/")
    print(f"  revoke_url:    {base}/v2/oauth/revoke/")
    for uri in emu.redirect_uris:
        print(f"  redirect_uri:  {uri}")
    print(f"  users:         {', '.join('@' + u.username for u in emu.users[:6])}", flush=True)
    uvicorn.run(emu, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
