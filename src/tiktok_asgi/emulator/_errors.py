"""The one refusal the emulator raises, carrying how TikTok would show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

__all__ = ["EmulatorRejected", "Rendering"]

# "flat": the token and revoke endpoints' ``{error, error_description, log_id}`` body.
# "envelope": the API's ``{data: {}, error: {code, message, log_id}}``.
# "page": the authorize endpoint's HTML refusal page ("We couldn't log in with TikTok").
Rendering = Literal["flat", "envelope", "page"]


class EmulatorRejected(Exception):
    """A request the emulator refuses, as TikTok would refuse it.

    ``error`` is TikTok's error value (``invalid_request``, ``invalid_scope``,
    ``non_sandbox_target``, ``access_token_invalid`` …) and ``description`` says why. ``render``
    is how the answer looks: the flat OAuth error body (token, revoke), the API envelope (user
    info, video list) or the consent page's refusal page (authorize). ``field`` is the request
    parameter the refusal page tells a developer to correct (e.g. ``code_challenge``, ``scope``);
    ``redirect`` is where the page's "back to the app" link goes, when it offers one. ``status``
    and ``headers`` override the HTTP status and add headers.

    :meth:`TikTokEmulator.approve` and :meth:`TikTokEmulator.deny` raise it for an authorize
    request TikTok would refuse, instead of returning a redirect.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        render: Rendering = "flat",
        field: str | None = None,
        redirect: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.render: Rendering = render
        self.field = field
        self.redirect = redirect
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
