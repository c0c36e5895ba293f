"""Sign in with TikTok for Django served over ASGI (``pip install "tiktok-asgi[django]"``).

``asgi.py`` wraps Django's ASGI application, and ``settings.py`` lists
:class:`TikTokUserMiddleware` after Django's ``AuthenticationMiddleware``::

    # asgi.py
    from django.core.asgi import get_asgi_application
    from tiktok_asgi import TikTokAuthMiddleware, TikTokSettings

    application = TikTokAuthMiddleware(get_asgi_application(), settings=TikTokSettings.from_env())

    # settings.py
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "tiktok_asgi.django.TikTokUserMiddleware",
    ]
    LOGIN_URL = "/auth/tiktok/login"  # the login_path setting

While someone is signed in with TikTok, ``request.user`` (and ``await request.auser()``) is the
:class:`~tiktok_asgi.TikTokUser`, so ``@login_required`` lets them in; otherwise both stay what
Django's ``AuthenticationMiddleware`` made them (a user signed in with Django's own login, or
``AnonymousUser``), and ``@login_required`` sends the browser to ``LOGIN_URL?next=...``, which is
the TikTok login page. A ``TikTokUser`` is not a Django model: it has ``is_authenticated``,
``display_name``, ``open_id`` and the rest of its fields, but no ``pk``, and it answers Django's
permission API with no permissions (active, not staff, not superuser, ``has_perm`` false), so
the admin and ``@permission_required`` refuse it as they refuse any user without the permission
(a redirect to their login page, or 403) and remain for Django's own users
(``django.contrib.auth.get_user(request)`` still reads those from Django's session).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from starlette.types import Scope

from .context import tiktok_context
from .user import TikTokUser

__all__ = ["TikTokUserMiddleware"]

_AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
_THIS = f"{__name__}.TikTokUserMiddleware"

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


def _check_order() -> None:
    """At start-up: Django's ``AuthenticationMiddleware`` must come first, or it would replace
    ``request.user`` after this middleware set it."""
    listed = list(getattr(django_settings, "MIDDLEWARE", None) or ())
    if _THIS not in listed:
        return  # a subclass or another import path: nothing to compare by name
    if _AUTHENTICATION not in listed or listed.index(_AUTHENTICATION) > listed.index(_THIS):
        raise ImproperlyConfigured(
            f"list {_THIS!r} after {_AUTHENTICATION!r} in MIDDLEWARE: Django's "
            "AuthenticationMiddleware sets request.user, and this middleware then replaces it "
            "with the TikTok user"
        )


def _tiktok_user(request: HttpRequest) -> TikTokUser | None:
    scope: Scope | None = getattr(request, "scope", None)
    try:
        if scope is None:
            raise RuntimeError("not an ASGI request")
        return tiktok_context(scope).user
    except RuntimeError:
        raise ImproperlyConfigured(
            "TikTokUserMiddleware needs Django served over ASGI and wrapped by "
            "TikTokAuthMiddleware: application = TikTokAuthMiddleware(get_asgi_application(), "
            "settings=...) in asgi.py"
        ) from None


class TikTokUserMiddleware:
    """Django middleware: ``request.user`` is the signed-in :class:`~tiktok_asgi.TikTokUser`.

    Serves sync and async views; see the module for the set-up and how it coexists with
    Django's own users.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        _check_order()
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        self._adopt(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        self._adopt(request)
        return await self.get_response(request)  # type: ignore[misc]

    @staticmethod
    def _adopt(request: HttpRequest) -> None:
        user = _tiktok_user(request)
        if user is None:
            return

        async def auser() -> TikTokUser:
            return user

        # TikTokUser is not one of Django's user classes, which is what its stubs expect here.
        request.user = user  # type: ignore[assignment]
        request.auser = auser  # type: ignore[assignment]
