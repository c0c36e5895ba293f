"""``python -m tiktok_asgi`` (or ``tiktok-asgi``): ``doctor`` checks a TikTok app's set-up.

python -m tiktok_asgi doctor                   # the TIKTOK_* variables, as from_env reads them
python -m tiktok_asgi doctor --app myapp:app   # also through the app's mounts, no server
python -m tiktok_asgi doctor --json            # for CI; the exit code is 0 only if all pass
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from starlette.types import ASGIApp

from ._tiktok.http import AsyncBaseTransport
from .doctor import CheckResult, diagnose, render_json, render_text
from .settings import TikTokSettings

__all__ = ["main"]

_LATER = ("reachable", "credentials", "authorize", "callback", "webhook")


class _NotAReference(Exception):
    """A ``module:attribute`` argument without its colon or one of its halves."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tiktok_asgi")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = commands.add_parser(
        "doctor",
        help="check the app's TikTok set-up against TikTok, without a user or a browser",
        description="Check the settings the app would read against TikTok: the values, "
        "TikTok reachable, the client key and secret a pair, the authorize request accepted, "
        "and (with --app) the redirect URI and webhook path reaching the middleware. One line "
        "per check; the exit code is 0 only when every check passes.",
    )
    doctor.add_argument(
        "--settings",
        metavar="MODULE:OBJECT",
        help="a TikTokSettings (or a function returning one) instead of the environment",
    )
    doctor.add_argument(
        "--env-file", metavar="PATH", help="a .env file for TikTokSettings.from_env"
    )
    doctor.add_argument(
        "--prefix", default="TIKTOK_", help="the variables' prefix (default TIKTOK_)"
    )
    doctor.add_argument(
        "--app",
        metavar="MODULE:APP",
        help="the ASGI app the middleware is part of: checks its mounts, without a server",
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable results")
    return parser


def main(argv: Sequence[str] | None = None, *, transport: AsyncBaseTransport | None = None) -> int:
    """The command line; returns the exit code. ``transport`` (an httpx2 transport) carries
    every call to TikTok, as the middleware's ``transport`` does."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "doctor":
        parser.print_help(sys.stderr)
        return 2
    # The checks provoke the middleware's refusals on purpose: its log lines are not news here.
    quiet = logging.NullHandler()
    logger = logging.getLogger("tiktok_asgi")
    logger.addHandler(quiet)
    try:
        results = _doctor(args, transport)
    finally:
        logger.removeHandler(quiet)
    out = sys.stdout
    out.write((render_json(results) if args.json else _text(results, out)) + "\n")
    out.flush()
    return 1 if any(r.status == "fail" for r in results) else 0


def _text(results: Sequence[CheckResult], out: TextIO) -> str:
    try:
        "✓✗—".encode(out.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return render_text(results, ascii_only=True)
    return render_text(results)


def _doctor(args: argparse.Namespace, transport: AsyncBaseTransport | None) -> list[CheckResult]:
    settings, first = _settings(args)
    if settings is None:
        skipped = "not checked: the settings are invalid"
        return [first, *(CheckResult(name, "skip", skipped) for name in _LATER)]
    app: ASGIApp | None = None
    app_problem: CheckResult | None = None
    if args.app:
        try:
            app = _app(_load(args.app))
        except Exception as exc:
            app_problem = CheckResult(
                "app",
                "fail",
                f"could not load --app {args.app}: {type(exc).__name__}: {exc}",
                "--app takes module:attribute of the ASGI app (importable from the current "
                "directory), as uvicorn does",
            )
    results = asyncio.run(diagnose(settings, app=app, transport=transport))
    return [first, *([app_problem] if app_problem else []), *results]


def _settings(args: argparse.Namespace) -> tuple[TikTokSettings | None, CheckResult]:
    if args.settings is None:
        source = f"the {args.prefix}* variables"
        try:
            settings = TikTokSettings.from_env(args.prefix, args.env_file)
        except ValueError as exc:
            return None, CheckResult(
                "settings", "fail", f"TikTokSettings refused {source}", str(exc)
            )
        return settings, CheckResult("settings", "pass", f"{source} are valid settings")
    try:
        found = _load(args.settings)
        settings = found if isinstance(found, TikTokSettings) else found()
        if not isinstance(settings, TikTokSettings):
            raise TypeError(f"it is a {type(settings).__name__}, not TikTokSettings")
    except ValueError as exc:
        return None, CheckResult(
            "settings", "fail", f"TikTokSettings refused {args.settings}", str(exc)
        )
    except Exception as exc:
        return None, CheckResult(
            "settings",
            "fail",
            f"could not load --settings {args.settings}: {type(exc).__name__}: {exc}",
            "--settings takes module:attribute of a TikTokSettings, or of a function returning "
            "one (importable from the current directory)",
        )
    return settings, CheckResult("settings", "pass", f"{args.settings} are valid settings")


def _load(reference: str) -> Any:
    """``module:attribute.path``, importable from the current directory as with uvicorn."""
    module_name, colon, attribute = reference.partition(":")
    if not colon or not module_name or not attribute:
        raise _NotAReference(f"{reference!r} is not module:attribute")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _app(found: Any) -> ASGIApp:
    if not callable(found):
        raise TypeError(f"it is a {type(found).__name__}, not an ASGI app")
    app: ASGIApp = found
    return app


if __name__ == "__main__":
    sys.exit(main())
