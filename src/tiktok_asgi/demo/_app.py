"""The demo application: one page behind the middleware, and the emulator mounted beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import httpx2
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send

from tiktok_asgi.context import tiktok_context
from tiktok_asgi.demo._pages import FAVICON_SVG, home_page
from tiktok_asgi.demo._setup import EMULATOR_MOUNT, DemoSetup, demo_setup
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.middleware import TikTokAuthMiddleware
from tiktok_asgi.stores import MemoryTokenStore
from tiktok_asgi.user import TikTokUser

__all__ = ["CanonicalHost", "build_app", "create_app", "page_headers"]

SIGN_OUT_EVERYWHERE = "/auth/sign-out-everywhere"
_IMAGE_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


def page_headers(*, emulated: bool) -> dict[str, str]:
    """Headers of the demo's own pages: no script at all, images and styles from here only.

    A real TikTok account's avatar is an https URL on TikTok's CDN, so images may come from
    any https origin then.
    """
    images = "'self' data:" if emulated else "'self' data: https:"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Vary": "Cookie",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


class CanonicalHost:
    """Sends browsers that arrive under another name to ``origin``.

    The login's flow cookie belongs to the host name the browser used, and TikTok returns to
    the redirect URI's host: a login started at ``localhost`` and finished at ``127.0.0.1``
    would fail as a state mismatch. Redirecting first keeps both on one name.
    """

    def __init__(self, app: ASGIApp, origin: str) -> None:
        parts = urlsplit(origin)
        self.app = app
        self.origin = origin
        self._hosts = {parts.netloc.lower()}
        if parts.port == 80:
            self._hosts.add(parts.netloc.lower().removesuffix(":80"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "").lower()
            if host not in self._hosts:
                response: Response
                if scope["method"] in ("GET", "HEAD"):
                    query = scope["query_string"].decode("latin-1")
                    target = f"{self.origin}{scope['path']}" + (f"?{query}" if query else "")
                    response = RedirectResponse(target, status_code=307)
                else:
                    response = PlainTextResponse(f"Use {self.origin}/", status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(setup: DemoSetup) -> ASGIApp:
    """The demo's ASGI app for ``setup``."""
    settings = setup.settings
    emulator = setup.emulator
    headers = page_headers(emulated=emulator is not None)

    async def home(request: Request) -> Response:
        user = request.user if isinstance(request.user, TikTokUser) else None
        page = home_page(
            user=user,
            requested=settings.scopes,
            login_path=settings.login_path,
            logout_path=settings.logout_path,
            everywhere_path=SIGN_OUT_EVERYWHERE,
            disconnect_path=settings.disconnect_path,
            qr_path=settings.qr_path,
            redirect_uri=settings.redirect_uri,
            emulator_mount=EMULATOR_MOUNT if emulator is not None else None,
            emulator_users=emulator.users if emulator is not None else (),
            emulator_avatar=(
                (lambda u: emulator.avatar_url(u, 56, base_url=EMULATOR_MOUNT))
                if emulator is not None
                else None
            ),
        )
        return HTMLResponse(page, headers=headers)

    async def sign_out_everywhere(request: Request) -> Response:
        """Ends every login session of the signed-in user: all browsers, all devices. The app
        stays connected at TikTok; "Disconnect TikTok" is the button that revokes."""
        if request.headers.get("sec-fetch-site") == "cross-site":
            return PlainTextResponse("Refused: a sign-out from another site.", status_code=403)
        if isinstance(request.user, TikTokUser):
            await tiktok_context(request).end_user_sessions(request.user.open_id)
        return RedirectResponse("/", status_code=303)

    async def favicon(request: Request) -> Response:
        return Response(FAVICON_SVG, media_type="image/svg+xml", headers=_IMAGE_HEADERS)

    routes: list[BaseRoute] = [
        Route("/", home, methods=["GET"], name="home"),
        Route("/favicon.ico", favicon, methods=["GET"], name="favicon"),
        Route(SIGN_OUT_EVERYWHERE, sign_out_everywhere, methods=["POST"], name="everywhere"),
    ]
    if emulator is not None:
        routes.append(Mount(EMULATOR_MOUNT, app=emulator, name="tiktok"))
    # A token store makes a sign-out end every copy of the cookie, and lets TikTok's
    # authorization.removed end the sessions of a user who removed the app.
    app: ASGIApp = TikTokAuthMiddleware(
        Starlette(routes=routes, lifespan=_redelivering(emulator)),
        settings=settings,
        token_store=MemoryTokenStore(),
    )
    if emulator is not None:
        if settings.webhook_path is not None:
            # The mounted emulator delivers its webhooks to this very app, in-process.
            emulator.register_webhook(
                f"{setup.origin}{settings.webhook_path}", transport=httpx2.ASGITransport(app=app)
            )
        app = CanonicalHost(app, setup.origin)
    return app


def _redelivering(emulator: TikTokEmulator | None) -> Lifespan[Starlette] | None:
    """While the demo runs, the mounted emulator delivers again the webhooks it could not."""
    if emulator is None:
        return None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        retries = asyncio.get_running_loop().create_task(emulator.run_webhook_retries())
        try:
            yield
        finally:
            retries.cancel()
            with suppress(asyncio.CancelledError):
                await retries

    return lifespan


def create_app(
    host: str = "127.0.0.1", port: int = 8000, environ: Mapping[str, str] | None = None
) -> tuple[ASGIApp, DemoSetup]:
    """The demo as served at ``http://<host>:<port>``: the app and how it was set up.

    Raises ``ValueError`` naming the fix when the ``TIKTOK_*`` variables are incomplete or wrong.
    """
    setup = demo_setup(host, port, environ)
    return build_app(setup), setup
