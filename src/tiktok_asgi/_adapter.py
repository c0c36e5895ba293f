"""What the framework adapters share: who is signed in, and the words for refusing a request.

The framework adapters are thin shells over these functions, so that all of them answer with
the same codes, descriptions and JSON shape as the middleware itself, and send an anonymous
browser to the login page the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from ._i18n import N_
from ._responses import login_redirect_target, redirect, secure
from .context import tiktok_context
from .errors import InsufficientScope, TikTokAuthError
from .settings import TikTokSettings
from .user import TikTokUser, is_scope_name

__all__ = [
    "WS_POLICY_VIOLATION",
    "browser_login_url",
    "check_scopes",
    "insufficient_scope_error",
    "missing_scopes",
    "refusal_response",
    "setting_default",
    "user_in",
]

WS_POLICY_VIOLATION = 1008


def setting_default(name: str) -> str:
    """The default of one string setting of :class:`TikTokSettings`."""
    return str(TikTokSettings.__dataclass_fields__[name].default)


def user_in(scope: Scope) -> TikTokUser | None:
    """The signed-in TikTok user of an ``http`` or ``websocket`` scope, or None."""
    return tiktok_context(scope).user


def missing_scopes(user: TikTokUser, scopes: Iterable[str]) -> tuple[str, ...]:
    """The ``scopes`` that ``user`` did not grant, in the order asked for."""
    granted = set(user.granted_scopes)
    return tuple(s for s in scopes if s not in granted)


def insufficient_scope_error(missing: Iterable[str]) -> InsufficientScope:
    """The user is signed in but did not grant a TikTok scope this needs (403)."""
    text = N_(
        "This needs the TikTok scope {scopes}, which was not granted. Sign in again and allow it."
    )
    return InsufficientScope(description=text.format(scopes=", ".join(missing)))


def check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """Validate the arguments of a ``require_scopes``: names, not one comma-joined string."""
    if not scopes:
        raise ValueError('require_scopes needs at least one scope name, e.g. "user.info.stats"')
    for scope in scopes:
        if not is_scope_name(scope):
            raise ValueError(
                f"{scope!r} is not one TikTok scope name; pass each scope as its own argument"
            )
    return scopes


def browser_login_url(scope: Scope) -> str | None:
    """Where to send an anonymous browser, or None (then the answer is 401 JSON), exactly as
    for ``protected_paths``; follows the middleware's ``login_path``."""
    return login_redirect_target(scope, tiktok_context(scope).settings.login_path)


def refusal_response(scope: Scope, error: TikTokAuthError) -> Response:
    """The HTTP answer to ``error``: ``login_required`` on a browser's page load redirects to
    the login page with ``next``; everything else is the middleware's JSON with its status."""
    if error.code == "login_required":
        target = browser_login_url(scope)
        if target is not None:
            return redirect(target)
    return secure(JSONResponse(error.as_dict(), status_code=error.status_code), ())
