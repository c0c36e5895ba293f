"""The Django row: Django's ASGI application inside the middleware, this module its URLconf
(the settings are the example project's, shared by every Django test of the run)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import path
from starlette.types import ASGIApp

from tests.matrix.contract import SECRET, STATS
from tests.support.calls import get_access_token
from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings
from tiktok_asgi._tiktok.http import AsyncBaseTransport
from tiktok_asgi.django import require_scopes


async def secret(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SECRET, content_type="text/plain")


async def token(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"token": await get_access_token(request.scope)})  # type: ignore[attr-defined]


@require_scopes(STATS)
async def stats(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SECRET, content_type="text/plain")


urlpatterns = [
    path("admin/x", secret),
    path("admin/", secret),
    path("token", token),
    path("stats", stats),
]


@contextmanager
def serving() -> Iterator[None]:
    """Django reads its URLconf from the settings: this module's while the row is served."""
    with override_settings(ROOT_URLCONF=__name__):
        yield


def build(settings: TikTokSettings, transport: AsyncBaseTransport) -> ASGIApp:
    return TikTokAuthMiddleware(get_asgi_application(), settings=settings, transport=transport)
