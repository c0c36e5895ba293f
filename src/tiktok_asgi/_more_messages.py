"""Descriptions that modules raise without marking them for the catalogs, listed so that the
extraction finds them: the error page shows them in the page's language. Each must stay the
raising module's text to the character, or the page shows it in English."""

from __future__ import annotations

from ._i18n import N_

__all__ = ["MESSAGES"]

MESSAGES = (
    # _cookies/flow.py: the callback's state
    N_("The sign-in answer carries no state."),
    N_("The sign-in answer carries an unknown state."),
    N_(
        "No sign-in started in this browser matches this answer. Cookies may be blocked, or the "
        "sign-in began on another site address or in another browser."
    ),
    N_("The sign-in took too long. Please start again."),
    N_("The sign-in cookie was altered."),
    N_("The sign-in answer does not match this browser."),
    # _cookies/qr.py: a QR code's session (USED)
    N_("This QR code was used already. Please get a new code."),
    # _session/tokens.py: a view's access token, when it cannot be had
    N_("The TikTok access expired and cannot be renewed."),
    N_("TikTok refused to renew the access."),
    N_("This sign-in has ended."),
    N_("This sign-in has no TikTok access any more."),
)
