"""Views that know nothing about TikTok but ``request.user`` and ``@login_required``."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html

from tiktok_asgi import TikTokUser


async def home(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse('<p><a href="/auth/tiktok/login?next=/me">Sign in with TikTok</a></p>')
    return HttpResponse(
        format_html(
            "<p>Hello {}! <a href='/me'>/me</a></p><form method='post' "
            "action='/auth/tiktok/logout'><button>Sign out</button></form>",
            getattr(user, "display_name", ""),  # a Django user has no display_name
        )
    )


@login_required
async def me(request: HttpRequest) -> JsonResponse:
    user = cast(TikTokUser, request.user)  # TikTokUserMiddleware put it there
    return JsonResponse(
        {
            "open_id": user.open_id,
            "display_name": user.display_name,
            "app_user_id": user.extra.get("app_user_id"),
            "type": type(user).__name__,
        }
    )


@login_required
def me_sync(request: HttpRequest) -> JsonResponse:
    user = cast(TikTokUser, request.user)
    return JsonResponse({"open_id": user.open_id, "type": type(user).__name__})


async def who(request: HttpRequest) -> JsonResponse:
    """Who Django thinks this is: the TikTok user, or Django's own (anonymous) user."""
    user = await request.auser()
    return JsonResponse({"type": type(user).__name__, "authenticated": user.is_authenticated})
