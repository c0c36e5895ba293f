"""Is this TikTok app set up right? Checked against TikTok itself, without a user or a browser.

``python -m tiktok_asgi doctor`` runs these checks on the settings the app would read; each is a
small function returning a :class:`CheckResult` (pass ✓, fail ✗ with the fix, or skip when it
does not apply):

1. ``settings``: the values validate as :class:`~tiktok_asgi.TikTokSettings` does at start-up;
2. ``reachable``: the token endpoint's host answers, through the transport the middleware uses;
3. ``credentials``: TikTok's client-credentials grant accepts the key and secret as a pair;
4. ``authorize``: the authorize URL the middleware would send a browser to (scopes, redirect URI,
   PKCE challenge, client key) is fetched; each item TikTok's refusal page names ("correct the
   following: …") is a failure with its fix, and a refused scope is narrowed down to the scopes
   to drop by asking for each one alone;
5. ``callback``: with the app, a request for the redirect URI's path sent through it (no server)
   is answered by the middleware's callback, not by the framework's 404;
6. ``webhook_url`` and ``webhook``: with ``webhook_path``, the webhook URL is https and, with the
   app, a POST signed with the client secret passes the receiver's signature check. Its body is
   not an event, so the receiver refuses it after the signature: nothing is handled or recorded.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urljoin, urlsplit

from starlette.routing import Mount
from starlette.types import ASGIApp

from ._tiktok.http import (
    ASGITransport,
    AsyncBaseTransport,
    AsyncClient,
    Response,
    SharedTransport,
    TimeoutException,
    TransportError,
)
from ._tiktok.provider import TikTokProvider
from .advice import ADVICE, developer_fix
from .errors import TikTokAPIError, TikTokUnavailable
from .settings import TikTokSettings
from .webhooks import sign_webhook

__all__ = [
    "CheckResult",
    "Status",
    "check_authorize",
    "check_callback",
    "check_credentials",
    "check_reachable",
    "check_webhook",
    "diagnose",
    "read_refusal",
    "render_json",
    "render_text",
]

Status = Literal["pass", "fail", "skip"]

_MAX_REDIRECTS = 5
_BASIC = "user.info.basic"
_MAX_MOUNT_DEPTH = 8
# TikTok's page is read in English; a browser-like Accept gets the page a person would see.
_BROWSER_HEADERS = {
    "accept": "text/html,application/xhtml+xml",
    "accept-language": "en-US,en;q=0.8",
    "user-agent": "Mozilla/5.0 (compatible; tiktok-asgi doctor)",
}
_PAIR_FIX = (
    "a wrong secret, or a sandbox key with a production secret (or the other way round): copy "
    "the Client key and the Client secret from the same app and the same mode (Sandbox or "
    "Production) of the TikTok app console (client_key, client_secret; TIKTOK_CLIENT_KEY, "
    "TIKTOK_CLIENT_SECRET)"
)
# The product each scope comes with (login-kit note, section 9).
_SCOPE_PRODUCTS = {
    "user.info.basic": "Login Kit",
    "user.info.profile": "Display API",
    "user.info.stats": "Display API",
    "video.list": "Display API",
    "video.publish": "Content Posting API",
    "video.upload": "Content Posting API",
}
# An error the authorize request was sent back with, as the page's item it stands for.
_ERROR_ITEMS = {
    "invalid_scope": "scope",
    "invalid_client": "client_key",
    "unauthorized_client": "client_key",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report: ``fix`` says what to change when ``status`` is ``"fail"``."""

    name: str
    status: Status
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix}


def _pass(name: str, message: str) -> CheckResult:
    return CheckResult(name, "pass", message)


def _fail(name: str, message: str, fix: str) -> CheckResult:
    return CheckResult(name, "fail", message, fix)


def _skip(name: str, message: str) -> CheckResult:
    return CheckResult(name, "skip", message)


async def diagnose(
    settings: TikTokSettings,
    *,
    app: ASGIApp | None = None,
    transport: AsyncBaseTransport | None = None,
) -> list[CheckResult]:
    """Checks 2 to 6 for valid ``settings``. ``transport`` (an httpx2 transport) carries every
    call to TikTok when given, as the middleware's ``transport`` does; ``app`` is the ASGI
    application the middleware is part of."""
    shared = SharedTransport(transport)
    try:
        async with AsyncClient(
            transport=shared.get(), timeout=settings.http_timeout, trust_env=False
        ) as client:
            reachable = await check_reachable(settings, client)
            results = [reachable]
            if reachable.status == "pass":
                results.append(await check_credentials(TikTokProvider(settings, shared)))
            else:
                results.append(_skip("credentials", "not checked: TikTok is not reachable"))
            results += await check_authorize(settings, client)
    finally:
        await shared.aclose()
    results.append(await check_callback(settings, app))
    results += await check_webhook(settings, app)
    return results


# 2. TikTok reachable


async def check_reachable(settings: TikTokSettings, client: AsyncClient) -> CheckResult:
    """Any HTTP answer from the token endpoint's host will do: only the way there is checked."""
    host = urlsplit(settings.token_url).netloc
    fix = (
        f"check that this machine reaches {host} over HTTPS (network, DNS, firewall, proxy); "
        "token_url must be TikTok's (https://open.tiktokapis.com/v2/oauth/token/)"
    )
    try:
        await client.get(settings.token_url, headers={"accept": "application/json"})
    except TimeoutException:
        return _fail("reachable", f"{host} did not answer within {settings.http_timeout:g} s", fix)
    except TransportError as exc:
        return _fail("reachable", f"{host} could not be reached ({_reason(exc)})", fix)
    return _pass("reachable", f"TikTok's token endpoint host {host} answers")


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


# 3. The key and secret are a pair


async def check_credentials(provider: TikTokProvider) -> CheckResult:
    """TikTok's client-credentials grant: the one call that proves the pair without a user."""
    settings = provider.settings
    try:
        await provider.client_token()
    except TikTokUnavailable as exc:
        return _fail("credentials", exc.description, "try again; check the network path to TikTok")
    except TikTokAPIError as exc:
        log = f", log_id {exc.log_id}" if exc.log_id else ""
        if exc.code == "invalid_client":
            return _fail(
                "credentials",
                f"TikTok refused client_key {settings.client_key!r} with this client_secret "
                f"(invalid_client{log})",
                _PAIR_FIX,
            )
        fix = developer_fix(exc, settings) or "try again later, quoting the log_id"
        return _fail(
            "credentials",
            f"TikTok's client-credentials grant failed: {exc.code} {exc.description!r}{log}",
            fix,
        )
    return _pass(
        "credentials",
        f"TikTok accepts client_key {settings.client_key!r} and its client_secret as a pair",
    )


# 4. The authorize request TikTok would get


@dataclass(frozen=True, slots=True)
class _AuthorizeAnswer:
    status: int
    refused: tuple[str, ...]  # the items TikTok's refusal page names
    error: str | None  # the error TikTok sent the browser back to the redirect URI with

    @property
    def items(self) -> tuple[str, ...]:
        if self.refused:
            return self.refused
        if self.error is not None:
            return (_ERROR_ITEMS.get(self.error, self.error),)
        return ()


async def check_authorize(settings: TikTokSettings, client: AsyncClient) -> list[CheckResult]:
    """The authorize URL exactly as the middleware builds it, fetched as a browser would."""
    host = urlsplit(settings.authorize_url).netloc
    try:
        answer = await _ask_authorize(settings, client)
        if not answer.items:
            if answer.status >= 400:
                return [
                    _fail(
                        "authorize",
                        f"TikTok answered the authorize request with HTTP {answer.status} "
                        "without naming what to correct",
                        "open the login in a browser and read TikTok's page; check "
                        "authorize_url (https://www.tiktok.com/v2/auth/authorize/)",
                    )
                ]
            scopes = ",".join(settings.scopes)
            pkce = f"PKCE {settings.pkce}" if settings.pkce else "no PKCE"
            return [
                _pass(
                    "authorize",
                    f"TikTok shows no refusal for the authorize request (redirect_uri "
                    f"{settings.redirect_uri}, scopes {scopes}, {pkce})",
                )
            ]
        return [await _refused(item, settings, client) for item in answer.items]
    except TimeoutException:
        message = f"{host} did not answer within {settings.http_timeout:g} s"
    except TransportError as exc:
        message = f"{host} could not be reached ({_reason(exc)})"
    return [_fail("authorize", message, f"check that this machine reaches {host} over HTTPS")]


async def _ask_authorize(
    settings: TikTokSettings, client: AsyncClient, scopes: Sequence[str] | None = None
) -> _AuthorizeAnswer:
    """TikTok's answer to a fresh authorize URL; redirects are followed within TikTok, never to
    the app (the redirect URI's ``error`` is read from the address)."""
    if scopes is not None:
        settings = settings.replace(scopes=tuple(scopes))
    url = TikTokProvider(settings, SharedTransport()).authorization_request().url
    for _ in range(_MAX_REDIRECTS):
        resp = await client.get(url, headers=_BROWSER_HEADERS)
        if not resp.is_redirect:
            break
        target = urljoin(url, resp.headers["location"])
        address = target.split("#", 1)[0]
        if address.split("?", 1)[0] == settings.redirect_uri:
            errors = parse_qs(urlsplit(address).query).get("error")
            return _AuthorizeAnswer(resp.status_code, (), errors[0] if errors else None)
        url = target
    return _AuthorizeAnswer(resp.status_code, read_refusal(resp.text), None)


_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(
    r"<\s*(?:br|/?(?:p|div|h[1-6]|li|ul|ol|dt|dd|dl|tr|section|main|header|footer))\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_ASK = re.compile(r"correct the following(?:\s+and\s+try\s+again)?\s*:(.*)", re.I | re.DOTALL)
_ITEM = re.compile(r"[a-z][a-z0-9_]*")
_PUNCTUATION = "\"'`{}[]().;:"
# The authorize request's parameters: what the page can name. Anything after them (the page's
# next words) ends the list.
_PARAMETERS = frozenset(
    {
        "client_key",
        "client_secret",
        "code_challenge",
        "code_challenge_method",
        "disable_auto_auth",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    }
)


def read_refusal(page: str) -> tuple[str, ...]:
    """The items TikTok's refusal page asks a developer to correct ("If you're a developer,
    correct the following [and try again]: redirect_uri"), in order; none for another page."""
    visible = html.unescape(_TAG.sub(" ", _BREAK.sub("\n", _HIDDEN.sub(" ", page))))
    found = _items_after_ask(visible)
    if found:
        return found
    # A page drawn by script carries its text in the script's data.
    return _items_after_ask(html.unescape(_TAG.sub(" ", page)).replace("\\n", "\n"))


def _items_after_ask(text: str) -> tuple[str, ...]:
    match = _ASK.search(text)
    if match is None:
        return ()
    items: list[str] = []
    first: str | None = None
    for line in match.group(1).splitlines():
        tokens = [t.strip(_PUNCTUATION) for t in re.split(r"[\s,]+", line)]
        tokens = [t for t in tokens if t]
        if not tokens:
            continue
        first = first or tokens[0]
        known = list(itertools.takewhile(_PARAMETERS.__contains__, tokens))
        items += known
        if len(known) < len(tokens):
            break
    if not items and first is not None:
        # A name this module does not know yet is still a refusal.
        items = [first if _ITEM.fullmatch(first) else "request"]
    return tuple(dict.fromkeys(items))


async def _refused(item: str, settings: TikTokSettings, client: AsyncClient) -> CheckResult:
    """One item of TikTok's refusal page, with what to change."""
    name = f"authorize.{item}"
    if item == "redirect_uri":
        uri = settings.redirect_uri
        return _fail(
            name,
            f"TikTok does not accept redirect_uri {uri}",
            f"register {uri} in the TikTok app console exactly as written (scheme, host, port, "
            "path, trailing slash; sandbox and production keep separate lists), or set "
            "redirect_uri (TIKTOK_REDIRECT_URI) to a URI registered there",
        )
    if item == "client_key":
        return _fail(
            name,
            f"TikTok does not know client_key {settings.client_key!r}",
            "copy the Client key from the TikTok app console (client_key, TIKTOK_CLIENT_KEY); "
            "a sandbox app has its own key and secret",
        )
    if item == "scope":
        return await _refused_scope(settings, client)
    if item in ("code_challenge", "code_challenge_method"):
        if settings.pkce is None:
            fix = ADVICE["code_challenge"].developer + " (TIKTOK_PKCE)"
        else:
            other = "hex" if settings.pkce == "base64url" else "base64url"
            fix = (
                f"TikTok refused the PKCE challenge as pkce={settings.pkce!r}: try "
                f"pkce={other!r} (desktop apps need 'hex')"
            )
        return _fail(name, f"TikTok refused the authorize request's {item}", fix)
    if item in ("response_type", "state", "client_secret"):
        fix = (
            "TikTok refused a parameter tiktok-asgi sets itself: report it as a tiktok-asgi "
            "bug, with TikTok's page"
        )
    else:
        fix = developer_fix(TikTokAPIError(item, ""), settings) or (
            f"open the login in a browser, read TikTok's page and correct {item} in the TikTok "
            "app console or the settings"
        )
    return _fail(name, f"TikTok refused the authorize request's {item}", fix)


async def _refused_scope(settings: TikTokSettings, client: AsyncClient) -> CheckResult:
    """TikTok's page names no scope: each one is asked for beside user.info.basic (which every
    sign-in needs) to find the ones to drop."""
    scopes = tuple(settings.scopes)
    if len(scopes) > 1 and "scope" not in (await _ask_authorize(settings, client, (_BASIC,))).items:
        drop = []
        for scope in scopes:
            if scope != _BASIC:
                answer = await _ask_authorize(settings, client, (_BASIC, scope))
                if "scope" in answer.items:
                    drop.append(scope)
    else:
        drop = [_BASIC]
    if _BASIC in drop:
        return _fail(
            "authorize.scope",
            f"TikTok refuses even {_BASIC}: the app lacks Login Kit",
            "add the Login Kit product to the app in the TikTok app console (and, for a "
            "sandbox, to the sandbox)",
        )
    if not drop:
        return _fail(
            "authorize.scope",
            f"TikTok refuses scopes {','.join(scopes)} together",
            ADVICE["scope"].developer.format(scopes=",".join(scopes)),
        )
    keep = [s for s in scopes if s not in drop]
    products = sorted({_SCOPE_PRODUCTS.get(s, "") for s in drop} - {""})
    add = f"add the {' and '.join(products)} product" if products else "get them approved"
    note = " (TikTok no longer offers it to new apps)" if products == ["Display API"] else ""
    return _fail(
        "authorize.scope",
        f"TikTok refuses scope {', '.join(drop)}: the app lacks the product it needs",
        f"drop {', '.join(drop)} from scopes (TIKTOK_SCOPES={','.join(keep)}), or {add} "
        f"in the TikTok app console{note}",
    )


# 5. The redirect URI reaches the callback through the app's mounts


async def _through_app(
    app: ASGIApp,
    settings: TikTokSettings,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> Response:
    """One request sent straight into ``app`` (no server), on the redirect URI's origin."""
    parts = urlsplit(settings.redirect_uri)
    async with AsyncClient(
        transport=ASGITransport(app=app), base_url=f"{parts.scheme}://{parts.netloc}"
    ) as client:
        return await client.request(method, path, headers=headers, content=content)


def _error_code(resp: Response) -> tuple[str | None, str]:
    """The middleware's JSON error answer: ``(error, error_description)``."""
    try:
        body = resp.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None, ""
    description = body.get("error_description")
    return body["error"], description if isinstance(description, str) else ""


async def _callback_answers(app: ASGIApp, settings: TikTokSettings, path: str) -> Response:
    # Without state the middleware's callback refuses with its own code, touching nothing.
    return await _through_app(app, settings, "GET", path, headers={"accept": "application/json"})


def _is_callback(resp: Response) -> bool:
    return _error_code(resp)[0] == "state_missing"


async def check_callback(settings: TikTokSettings, app: ASGIApp | None) -> CheckResult:
    """The redirect URI's path, sent through the app, reaches the middleware's callback."""
    if app is None:
        return _skip(
            "callback",
            "not checked: give the app (--app module:app) to check that redirect_uri reaches "
            "the middleware through its mounts",
        )
    parts = urlsplit(settings.redirect_uri)
    path = parts.path
    try:
        resp = await _callback_answers(app, settings, path)
    except Exception as exc:
        return _fail(
            "callback",
            f"GET {path} through the app raised {type(exc).__name__}: {exc}",
            "the app must answer the redirect URI's path; run it once and read its log",
        )
    if _is_callback(resp):
        return _pass("callback", f"redirect_uri's path {path} reaches the middleware's callback")
    message = f"GET {path} through the app answered HTTP {resp.status_code}, not the middleware"

    async def answered(candidate: str) -> bool:
        return _is_callback(await _callback_answers(app, settings, candidate))

    found = await _under_a_mount(app, settings.callback_path, answered)
    if found is not None:
        fix = (
            f"the middleware answers its callback at {found} (under a mount): set redirect_uri "
            f"to {parts.scheme}://{parts.netloc}{found} and register that URI in the TikTok app "
            f"console (callback_path stays {settings.callback_path!r}, the path below the mount)"
        )
    else:
        fix = (
            f"wrap the app (or the Mount) that serves {path} in TikTokAuthMiddleware, with "
            "callback_path the path below any mount; under a Mount, redirect_uri includes the "
            "mount's prefix"
        )
    return _fail("callback", message, fix)


async def _under_a_mount(
    app: ASGIApp, below: str, answered: Callable[[str], Awaitable[bool]]
) -> str | None:
    """The path under one of the app's mounts, ``below`` it, where the middleware answers."""
    for prefix in _mount_prefixes(app, "", 0):
        try:
            if await answered(prefix + below):
                return prefix + below
        except Exception:  # noqa: S112 - another mount may still be the one
            continue
    return None


def _mount_prefixes(app: Any, prefix: str, depth: int) -> list[str]:
    """Starlette's (and FastAPI's) mounts, through wrapping middleware, deepest last."""
    found: list[str] = []
    if depth > _MAX_MOUNT_DEPTH:
        return found
    for route in _routes_of(app):
        if isinstance(route, Mount):
            full = prefix + route.path
            found.append(full)
            found += _mount_prefixes(route.app, full, depth + 1)
    return found


def _routes_of(app: Any) -> list[Any]:
    for _ in range(_MAX_MOUNT_DEPTH):
        routes = getattr(app, "routes", None)
        if isinstance(routes, list):
            return routes
        app = getattr(app, "app", None)
        if app is None:
            break
    return []


# 6. Webhook path and secret


def _origin(settings: TikTokSettings) -> str:
    parts = urlsplit(settings.redirect_uri)
    return f"{parts.scheme}://{parts.netloc}"


def _mount_prefix(settings: TikTokSettings) -> str:
    """What the redirect URI's path has in front of callback_path: the app's mount."""
    path = urlsplit(settings.redirect_uri).path
    return path[: len(path) - len(settings.callback_path)]


async def check_webhook(settings: TikTokSettings, app: ASGIApp | None) -> list[CheckResult]:
    """The webhook URL is https; a POST signed with the client secret passes the receiver."""
    if settings.webhook_path is None:
        return [_skip("webhook", "webhook_path is not set: no webhooks to check")]
    parts = urlsplit(settings.redirect_uri)
    path = _mount_prefix(settings) + settings.webhook_path
    url = f"{parts.scheme}://{parts.netloc}{path}"
    if parts.scheme == "https":
        results = [_pass("webhook_url", f"the webhook URL {url} is https")]
    else:
        results = [
            _fail(
                "webhook_url",
                f"the webhook URL {url} is not https",
                "TikTok delivers webhooks only to https URLs: serve the app over https (a tunnel "
                f"for local work) and register https://{parts.netloc}{path} as the callback URL "
                "in the TikTok app console",
            )
        ]
    if app is None:
        results.append(
            _skip("webhook", "not checked: give the app (--app module:app) to send it a webhook")
        )
    else:
        results.append(await _signed_post(settings, app, path))
    return results


async def _signed_post(settings: TikTokSettings, app: ASGIApp, path: str) -> CheckResult:
    # Signed like TikTok's, but no event (no event name): verified, then refused unhandled.
    body = json.dumps(
        {
            "client_key": settings.client_key,
            "event": "",
            "create_time": int(time.time()),
            "user_openid": "",
            "content": "{}",
        }
    ).encode("utf-8")
    headers = {
        "content-type": "application/json",
        "tiktok-signature": sign_webhook(settings.client_secret, body, int(time.time())),
    }
    try:
        resp = await _through_app(app, settings, "POST", path, headers=headers, content=body)
    except Exception as exc:
        return _fail(
            "webhook",
            f"POST {path} through the app raised {type(exc).__name__}: {exc}",
            "the app must answer webhook_path; run it once and read its log",
        )
    code, description = _error_code(resp)
    if resp.status_code == 200 or (
        code == "webhook_event_invalid" and "client_key" not in description
    ):
        return _pass("webhook", f"{path} verifies TikTok's signature made with this client_secret")
    if code == "webhook_signature_invalid":
        return _fail(
            "webhook",
            f"{path} refused a signature made with this client_secret",
            "run the app with the same client_secret as these settings (TIKTOK_CLIENT_SECRET), "
            "and keep its clock right (older signatures than webhook_tolerance are refused)",
        )
    if code == "webhook_event_invalid":
        return _fail(
            "webhook",
            f"{path} belongs to a middleware with another client_key",
            "run the app with the same client_key and client_secret as these settings",
        )
    message = (
        f"POST {path} through the app answered HTTP {resp.status_code}, not the middleware's "
        "webhook receiver"
    )

    async def answered(candidate: str) -> bool:
        # Unsigned: the receiver refuses it before reading anything.
        unsigned = await _through_app(app, settings, "POST", candidate, content=b"{}")
        return _error_code(unsigned)[0] == "webhook_signature_invalid"

    found = await _under_a_mount(app, settings.webhook_path or "", answered)
    if found is not None:
        return _fail(
            "webhook",
            message,
            f"the middleware receives webhooks at {found} (under a mount): register "
            f"{_origin(settings)}{found} as the callback URL in the TikTok app console, and "
            "put the mount's prefix in redirect_uri too",
        )
    return _fail(
        "webhook",
        message,
        "set webhook_path on the middleware the app's mounts reach (under a Mount, the webhook "
        "URL includes the mount's prefix), and register that URL in the TikTok app console",
    )


# The report


_MARKS = {"pass": "✓", "fail": "✗", "skip": "-"}
_ASCII_MARKS = {"pass": "ok", "fail": "FAIL", "skip": "skip"}


def render_text(results: Sequence[CheckResult], *, ascii_only: bool = False) -> str:
    """One line per check, its fix after a failure; then one summary line."""
    marks = _ASCII_MARKS if ascii_only else _MARKS
    dash = "--" if ascii_only else "—"
    lines = []
    for result in results:
        line = f"{marks[result.status]} {result.name}: {result.message}"
        if result.fix:
            line += f" {dash} fix: {result.fix}"
        lines.append(line)
    failed = sum(r.status == "fail" for r in results)
    lines.append(
        "All checks passed." if not failed else f"{failed} check{'s' * (failed > 1)} failed."
    )
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult]) -> str:
    """``{"ok": …, "checks": [{"name", "status", "message", "fix"}, …]}``."""
    ok = not any(r.status == "fail" for r in results)
    return json.dumps({"ok": ok, "checks": [r.as_dict() for r in results]}, indent=2)
