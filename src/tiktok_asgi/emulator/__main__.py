"""Serve the emulator: ``python -m tiktok_asgi.emulator --port 8790``.

Prints the base URL and the client credentials, then serves with uvicorn (the ``demo`` extra).
``--fault ENDPOINT:KIND[=VALUE][@TIMES]`` arms any fault :class:`Fault` has (see ``--help``);
``--webhook-retry-base``, ``--webhook-retry-cap`` and ``--webhook-retry-horizon`` set the
webhook redelivery schedule, which runs in the background while the server does;
``--webhook-fail-first N`` makes the first N delivery attempts fail at TikTok's side.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

from tiktok_asgi._extras import install_hint
from tiktok_asgi.emulator._config import (
    APP_TYPES,
    DEFAULT_PRODUCTS,
    DEFAULT_REDIRECT_URIS,
    PRODUCTS,
    WEBHOOK_RETRY_BASE,
    WEBHOOK_RETRY_CAP,
    WEBHOOK_RETRY_HORIZON,
)
from tiktok_asgi.emulator._emulator import TikTokEmulator
from tiktok_asgi.emulator._endpoints import ENDPOINT_NAMES, ENDPOINTS
from tiktok_asgi.emulator._faults import Fault
from tiktok_asgi.emulator._state import REQUEST_LOG_SIZE
from tiktok_asgi.emulator._users import EmulatorUser, sample_users

__all__ = ["FaultSpec", "build_emulator", "export_lines", "fault_spec", "main"]

_DEFAULT_CALLBACK_PATH = "/auth/tiktok/callback"

# Each fault kind, what its VALUE is, and what it does (the --help text).
_FAULT_HELP = {
    "latency": ("=SECONDS", "wait, then answer normally"),
    "status": ("=CODE", "HTTP CODE with a gateway's HTML page"),
    "timeout": ("[=SECONDS]", "hang (default 60), then 504"),
    "malformed_json": ("[=STATUS]", "truncated JSON (default HTTP 200)"),
    "html_error_page": ("[=STATUS]", "a load balancer's error page (default 502)"),
    "empty_body": ("[=STATUS]", "JSON content type, no body (default 200)"),
    "error_body": ("[=ERROR[/STATUS]]", "TikTok's error shape (internal_error, 200)"),
    "rate_limited": ("[=SECONDS]", "HTTP 429 with that Retry-After (default 2)"),
    "connection_refused": ("", "the connection drops before an answer"),
}


class FaultSpec(NamedTuple):
    """One ``--fault``: what :meth:`TikTokEmulator.inject` is called with."""

    endpoint: str
    fault: Fault
    times: int | None


def _float(kind: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{kind}={value}: not a number") from None


def _int(kind: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{kind}={value}: not a whole number") from None


def _fault(kind: str, value: str | None) -> Fault:
    """The :class:`Fault` of one ``KIND[=VALUE]``; ``ValueError`` from its checks."""
    if kind in ("latency", "status"):
        if value is None:
            raise argparse.ArgumentTypeError(f"{kind} needs {_FAULT_HELP[kind][0]}")
        if kind == "latency":
            return Fault.latency(_float(kind, value))
        return Fault.status(_int(kind, value))
    if kind == "connection_refused":
        if value is not None:
            raise argparse.ArgumentTypeError(f"{kind} takes no value")
        return Fault.connection_refused()
    if kind == "error_body":
        error, _, status = (value or "").partition("/")
        return Fault.error_body(error or "internal_error", _int(kind, status) if status else 200)
    if kind == "timeout":
        return Fault.timeout() if value is None else Fault.timeout(_float(kind, value))
    if kind == "rate_limited":
        return Fault.rate_limited() if value is None else Fault.rate_limited(_int(kind, value))
    # malformed_json, html_error_page and empty_body take an HTTP status.
    make = {
        "malformed_json": Fault.malformed_json,
        "html_error_page": Fault.html_error_page,
        "empty_body": Fault.empty_body,
    }[kind]
    return make() if value is None else make(_int(kind, value))


def fault_spec(text: str) -> FaultSpec:
    """``ENDPOINT:KIND[=VALUE][@TIMES]``, e.g. ``token:status=503@2`` or
    ``userinfo:latency=1.5@always``; TIMES defaults to 1."""
    endpoint, colon, rest = text.partition(":")
    if not colon or endpoint not in ENDPOINT_NAMES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ENDPOINT:KIND[=VALUE][@TIMES], ENDPOINT one of "
            f"{', '.join(ENDPOINT_NAMES)}"
        )
    rest, at, count = rest.partition("@")
    times: int | None = 1
    if at:
        if count == "always":
            times = None
        elif count.isdigit() and int(count) > 0:
            times = int(count)
        else:
            raise argparse.ArgumentTypeError(f"{text!r}: TIMES is a positive count or 'always'")
    name, eq, value = rest.partition("=")
    kind = name.replace("-", "_")
    if kind not in _FAULT_HELP:
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown fault {name!r}; known: {', '.join(_FAULT_HELP)}"
        )
    try:
        fault = _fault(kind, value if eq else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return FaultSpec(endpoint, fault, times)


def _faults_epilog() -> str:
    faults = textwrap.fill(
        "faults: --fault ENDPOINT:KIND[=VALUE][@TIMES], repeatable. ENDPOINT is one of "
        f"{', '.join(ENDPOINT_NAMES)}. TIMES is how many requests get the fault (default 1) "
        "or 'always'; faults on one endpoint queue up in order.",
        78,
    )
    kinds = "\n".join(f"  {kind + value:<29}{what}" for kind, (value, what) in _FAULT_HELP.items())
    webhooks = textwrap.fill(
        "webhooks: an event the app does not answer with 2xx is delivered again after BASE, "
        "2*BASE, 4*BASE ... seconds (at most CAP apart) until HORIZON seconds after the first "
        "attempt, each attempt signed afresh; --webhook-fail-first N makes the first N "
        "attempts fail at TikTok's side.",
        78,
    )
    example = "example: --fault token:status=503@2 --fault userinfo:latency=1.5@always"
    return f"{faults}\n{kinds}\n{example}\n\n{webhooks}"


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a count")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tiktok_asgi.emulator",
        description="An offline TikTok Login Kit v2 for local development.",
        epilog=_faults_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="web (base64url or hex PKCE) or desktop (hex PKCE, any loopback port); default web",
    )
    parser.add_argument(
        "--strict-pkce",
        action="store_true",
        help="a web app's PKCE challenge must be base64url (TikTok documents no web encoding, "
        "so hex is accepted too unless this is given)",
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
    parser.add_argument(
        "--webhook-retry-base",
        type=_non_negative,
        default=WEBHOOK_RETRY_BASE,
        metavar="SECONDS",
        help=f"wait before the first redelivery, doubled for each next one "
        f"(default {WEBHOOK_RETRY_BASE:g})",
    )
    parser.add_argument(
        "--webhook-retry-cap",
        type=_non_negative,
        default=WEBHOOK_RETRY_CAP,
        metavar="SECONDS",
        help=f"longest wait between two deliveries (default {WEBHOOK_RETRY_CAP:g})",
    )
    parser.add_argument(
        "--webhook-retry-horizon",
        type=_non_negative,
        default=WEBHOOK_RETRY_HORIZON,
        metavar="SECONDS",
        help=f"no attempt later than this after the first; then the event is dropped "
        f"(default {WEBHOOK_RETRY_HORIZON:g}, 72 hours; 0 never redelivers)",
    )
    parser.add_argument(
        "--webhook-fail-first",
        type=_count,
        default=0,
        metavar="N",
        help="the first N delivery attempts fail at TikTok's side (nothing is sent) and are "
        "retried on schedule",
    )
    parser.add_argument(
        "--fault",
        action="append",
        dest="faults",
        type=fault_spec,
        default=[],
        metavar="ENDPOINT:KIND[=VALUE][@TIMES]",
        help="inject a fault into an endpoint; repeatable (the kinds are listed below)",
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
        strict_pkce=args.strict_pkce,
        products=products,
        sandbox=args.sandbox,
        target_users=args.target_users,
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        rate_limit=args.rate_limit,
        request_log_size=args.request_log_size,
        app_name=args.app_name,
        webhook_retry_base=args.webhook_retry_base,
        webhook_retry_cap=args.webhook_retry_cap,
        webhook_retry_horizon=args.webhook_retry_horizon,
    )
    if args.webhook_url is not None:
        emulator.register_webhook(args.webhook_url)
    if args.webhook_fail_first:
        emulator.fail_webhooks(args.webhook_fail_first)
    for spec in args.faults:
        emulator.inject(spec.endpoint, spec.fault, spec.times)
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


def _describe(fault: Fault) -> str:
    if fault.kind in ("latency", "timeout"):
        return f"{fault.kind} {fault.seconds:g} s"
    if fault.kind == "rate_limited":
        return f"rate_limited, Retry-After {fault.retry_after}"
    if fault.kind == "error_body":
        return f"error_body {fault.error}, HTTP {fault.status_code}"
    if fault.kind == "connection_refused":
        return fault.kind
    return f"{fault.kind}, HTTP {fault.status_code}"


def _pkce_accepted(emu: TikTokEmulator) -> str:
    if emu.app_type == "desktop":
        return "hex challenges"
    return "base64url challenges" if emu.strict_pkce else "base64url or hex challenges"


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    try:
        import uvicorn
    except ImportError:
        sys.exit(f"The emulator server needs uvicorn: {install_hint('demo')}")
    try:
        emu = build_emulator(args)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    print(f"TikTok emulator at {base}", flush=True)
    print(f"  app_type:      {emu.app_type}")
    print(f"  pkce:          {_pkce_accepted(emu)}")
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
    print(
        f"  webhook retries: after {args.webhook_retry_base:g} s, doubling up to "
        f"{args.webhook_retry_cap:g} s, for {args.webhook_retry_horizon:g} s"
    )
    if args.webhook_fail_first:
        print(f"  webhook attempts failing at TikTok: the first {args.webhook_fail_first}")
    for spec in args.faults:
        times = "every request" if spec.times is None else f"{spec.times}x"
        print(f"  fault:         {spec.endpoint} {_describe(spec.fault)} ({times})")
    print(f"  users:         {', '.join('@' + u.username for u in emu.users[:6])}")
    print("\nFor TikTokSettings.from_env(), paste into your app's shell:")
    print("\n".join(export_lines(emu, base)), flush=True)
    uvicorn.run(emu, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
