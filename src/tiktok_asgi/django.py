"""Sign in with TikTok for Django served over ASGI (the ``django`` extra: ``pip install
".[django]"`` from a checkout of tiktok-asgi).

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

This module's :func:`login_required` and :func:`require_scopes` (sync and async views) refuse
as every other adapter does, by the TikTok sign-in alone: a browser loading a page is sent to the
middleware's login path with ``next``, other requests get ``401 login_required`` JSON (Django's
``@login_required`` redirects every client), and a signed-in user without a scope gets
``403 insufficient_scope`` naming it::

    from tiktok_asgi.django import require_scopes

    @require_scopes("user.info.stats")
    async def stats(request: HttpRequest) -> JsonResponse: ...

A :class:`~tiktok_asgi.errors.TikTokAuthError` a view leaves unhandled
(``tiktok_context(request.scope).access_token()`` on an anonymous request, TikTok unreachable,
the token store down) would become Django's 500 before
``TikTokAuthMiddleware`` could see it: :class:`TikTokUserMiddleware` answers it as the middleware
does, with the same status and body (JSON for API clients, a redirect to ``error_redirect`` if
set, else the library's error page; an ``error_page`` given to the middleware is not used here).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from starlette.responses import Response
from starlette.types import Scope

from ._extras import missing_extra

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings as django_settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.signals import request_started
    from django.http import HttpRequest, HttpResponse, HttpResponseBase
    from django.utils.module_loading import import_string
except ImportError as exc:
    raise missing_extra(__name__, "django", exc) from exc

from ._adapter import check_scopes, insufficient_scope_error, missing_scopes, refusal_response
from ._responses import error_response
from .context import SCOPE_KEY, TikTokContext, tiktok_context
from .errors import LoginRequired, TikTokAuthError
from .user import TikTokUser

__all__ = ["TikTokUserMiddleware", "login_required", "require_scopes"]

logger = logging.getLogger("tiktok_asgi")

_AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
_THIS = f"{__name__}.TikTokUserMiddleware"
_WATCH = f"{__name__}._watch_middleware"

GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]
V = TypeVar("V", bound=Callable[..., Any])


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


def _context(request: HttpRequest) -> tuple[Scope, TikTokContext]:
    scope: Scope | None = getattr(request, "scope", None)
    try:
        if scope is None:
            raise RuntimeError("not an ASGI request")
        return scope, tiktok_context(scope)
    except RuntimeError:
        raise ImproperlyConfigured(
            "TikTokUserMiddleware needs Django served over ASGI and wrapped by "
            "TikTokAuthMiddleware: application = TikTokAuthMiddleware(get_asgi_application(), "
            "settings=...) in asgi.py"
        ) from None


def _django_response(response: Response) -> HttpResponse:
    """A response of the library's as Django's: the same status, body and headers (none of
    these answers sets a cookie; Django counts the length itself)."""
    answer = HttpResponse(bytes(response.body), status=response.status_code)
    for name, value in response.raw_headers:
        if name != b"content-length":
            answer.headers[name.decode("latin-1")] = value.decode("latin-1")
    return answer


def _refusal(request: HttpRequest, wanted: tuple[str, ...]) -> HttpResponse | None:
    scope, context = _context(request)
    user = context.user
    if user is None:
        error: TikTokAuthError = LoginRequired()
    else:
        missing = missing_scopes(user, wanted)
        if not missing:
            return None
        error = insufficient_scope_error(missing)
    return _django_response(refusal_response(scope, error))


def _guard(wanted: tuple[str, ...]) -> Callable[[V], V]:
    def decorate(view: V) -> V:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = _refusal(request, wanted)
                if refused is not None:
                    return refused
                return await view(request, *args, **kwargs)

            return cast(V, guarded)

        @functools.wraps(view)
        def guarded_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = _refusal(request, wanted)
            if refused is not None:
                return refused
            return view(request, *args, **kwargs)

        return cast(V, guarded_sync)

    return decorate


def login_required(view: V) -> V:
    """Run the view only for a user signed in with TikTok; see the module for how others are
    refused. (For a function-based view; use ``method_decorator`` on a class-based one.)"""
    return _guard(())(view)


def require_scopes(*scopes: str) -> Callable[[V], V]:
    """Like :func:`login_required`, and the user must have granted every one of ``scopes``
    (else ``403 insufficient_scope``)."""
    return _guard(check_scopes(scopes))


class TikTokUserMiddleware:
    """Django middleware: ``request.user`` is the signed-in :class:`~tiktok_asgi.TikTokUser`.

    Serves sync and async views, and answers a :class:`~tiktok_asgi.errors.TikTokAuthError`
    they leave unhandled; see the module for the set-up and how it coexists with Django's own
    users.
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

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A :class:`TikTokAuthError` of the view, answered as ``TikTokAuthMiddleware`` answers
        it; any other exception is left to Django."""
        if not isinstance(exception, TikTokAuthError):
            return None
        scope, context = _context(request)
        return _django_response(error_response(exception, context.settings, scope))

    @staticmethod
    def _adopt(request: HttpRequest) -> None:
        user = _context(request)[1].user
        if user is None:
            return

        async def auser() -> TikTokUser:
            return user

        # TikTokUser is not one of Django's user classes, which is what its stubs expect here.
        request.user = user  # type: ignore[assignment]
        request.auser = auser  # type: ignore[assignment]


def _watch_middleware() -> None:
    """Check ``settings.MIDDLEWARE`` at the first request Django serves inside
    ``TikTokAuthMiddleware`` (which calls this when Django is loaded): without
    :class:`TikTokUserMiddleware` ``request.user`` never becomes the TikTok user, and Django's
    ``@login_required`` sends signed-in people back to the login page, round and round."""
    request_started.connect(_check_listed, weak=False, dispatch_uid=_WATCH)


def _check_listed(sender: object, scope: Scope | None = None, **kwargs: object) -> None:
    if scope is None or SCOPE_KEY not in scope:
        return  # WSGI, or a Django that TikTokAuthMiddleware does not wrap
    request_started.disconnect(dispatch_uid=_WATCH)  # once: MIDDLEWARE is read at start-up
    if _user_middleware_listed():
        return
    logger.warning(
        "Django is served inside TikTokAuthMiddleware, but settings.MIDDLEWARE does not list "
        "%r: request.user stays Django's, so Django's @login_required sends people signed in "
        "with TikTok back to the login page; add it to MIDDLEWARE after %r",
        _THIS,
        _AUTHENTICATION,
        extra={"event": "django_user_middleware_missing"},
    )


def _user_middleware_listed() -> bool:
    """:class:`TikTokUserMiddleware`, a subclass, or the same class by another import path."""
    for entry in getattr(django_settings, "MIDDLEWARE", None) or ():
        try:
            listed = import_string(entry)
        except ImportError:
            continue  # Django itself refuses it when it loads the middleware
        if isinstance(listed, type) and issubclass(listed, TikTokUserMiddleware):
            return True
    return False
