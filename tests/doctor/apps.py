"""Apps for ``doctor --app``: the middleware at the root, and under a Starlette ``Mount``.

Both use the emulator's default client key and secret; ``mounted`` answers its callback at
``/app/auth/tiktok/callback``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings

ORIGIN = "https://app.example"
CALLBACK = f"{ORIGIN}/auth/tiktok/callback"
MOUNTED_CALLBACK = f"{ORIGIN}/app/auth/tiktok/callback"
WEBHOOK_PATH = "/auth/tiktok/webhook"
SECRET_KEY = "doctor-" + "k" * 40


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def settings(redirect_uri: str = CALLBACK) -> TikTokSettings:
    return TikTokSettings(
        client_key="emulator-client-key",
        client_secret="emulator-client-secret",
        redirect_uri=redirect_uri,
        secret_key=SECRET_KEY,
        webhook_path=WEBHOOK_PATH,
    )


SETTINGS = settings()
plain = TikTokAuthMiddleware(Starlette(routes=[Route("/", home)]), settings=SETTINGS)
inner = TikTokAuthMiddleware(
    Starlette(routes=[Route("/", home)]), settings=settings(MOUNTED_CALLBACK)
)
mounted = Starlette(routes=[Route("/", home), Mount("/app", app=inner)])
not_an_app = 42
