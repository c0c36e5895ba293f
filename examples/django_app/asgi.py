"""Sign in with TikTok in a Django project: ``TikTokAuthMiddleware`` around Django's ASGI
application, ``TikTokUserMiddleware`` in ``settings.MIDDLEWARE``.

Run it from the repository root, then open http://127.0.0.1:8000::

    EXAMPLE_EMULATOR=1 uvicorn examples.django_app.asgi:app

It talks to TikTok with the app of the ``TIKTOK_*`` variables (``TIKTOK_SECRET_KEY`` too). With
``EXAMPLE_EMULATOR=1`` it signs in against the TikTok emulator mounted at ``/tiktok`` beside
Django instead.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from examples.accounts import Accounts, application
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi.emulator import TikTokEmulator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")


def create_app(
    settings: TikTokSettings, emulator: TikTokEmulator | None = None, **middleware_options: Any
) -> TikTokAuthMiddleware:
    """The application; ``emulator`` is mounted at ``/tiktok`` when given."""
    accounts = Accounts()
    django_app: ASGIApp = get_asgi_application()
    if emulator is not None:
        django_app = Starlette(routes=[Mount("/tiktok", app=emulator), Mount("", app=django_app)])
    return TikTokAuthMiddleware(
        django_app,
        settings=settings,
        on_login=accounts.on_login,
        load_user=accounts.load_user,
        **middleware_options,
    )


app = application(create_app)
