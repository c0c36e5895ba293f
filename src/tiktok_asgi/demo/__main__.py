"""``python -m tiktok_asgi.demo [--host 127.0.0.1] [--port 8000] [--trace]``: serve the demo with
uvicorn (``--trace``: the library's spans printed to the console)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tiktok_asgi._extras import install_hint
from tiktok_asgi.demo._app import create_app
from tiktok_asgi.demo._trace import INSTALL_SDK, print_spans

__all__ = ["main"]

INSTALL_HINT = f"The demo is served by uvicorn, which is not installed: {install_hint('demo')}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok_asgi.demo",
        description=(
            "A small app that signs in with TikTok: against the built-in TikTok emulator, or "
            "with a real TikTok app when TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET and "
            "TIKTOK_REDIRECT_URI are set."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print the spans of each sign-in step (needs opentelemetry-sdk)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        sys.exit(INSTALL_HINT)
    if args.trace:
        try:
            print_spans()  # before the app: its middleware finds the provider
        except ImportError:
            sys.exit(INSTALL_SDK)
    try:
        app, setup = create_app(args.host, args.port)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    if setup.emulator is not None:
        print("tiktok-asgi demo, signing in with the built-in TikTok emulator")
        print(f"  emulator:      {setup.origin}/tiktok/")
        accounts = ", ".join(f"@{user.username}" for user in setup.emulator.users)
        print(f"  accounts:      {accounts}")
    else:
        print("tiktok-asgi demo, signing in with the TikTok app of TIKTOK_CLIENT_KEY")
        print(f"  listening on:  {args.host}:{args.port}")
    print(f"  redirect URI:  {setup.settings.redirect_uri}")
    if setup.settings.qr_path is not None:
        print(f"  TV sign-in:    {setup.origin}{setup.settings.qr_path} (a QR code to scan)")
    print(f"  scopes:        {','.join(setup.settings.scopes)}")
    for note in setup.notes:
        print(f"  note: {note}")
    print(f"\n  Open {setup.url} in your browser (Ctrl+C stops the demo)\n", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
