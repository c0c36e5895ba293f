"""Generated pictures (avatars with initials, video covers) and the signing of avatar URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape

__all__ = ["avatar_signature", "avatar_svg", "avatar_url_valid", "cover_svg"]

_PALETTE = (
    "#fe2c55", "#25b8c6", "#7b61ff", "#ff8a00", "#1aa260", "#e0457b", "#3d7eff", "#b8860b",
)  # fmt: skip


def _colour(seed: str) -> str:
    return _PALETTE[hashlib.sha256(seed.encode()).digest()[0] % len(_PALETTE)]


def avatar_svg(seed: str, initials: str, size: int) -> str:
    """A round avatar ``size`` pixels wide; the colour is stable for one ``seed``."""
    font = round(size * 0.4)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" aria-label="{escape(initials)}">'
        f'<circle cx="{size / 2}" cy="{size / 2}" r="{size / 2}" fill="{_colour(seed)}"/>'
        f'<text x="50%" y="50%" dy=".35em" text-anchor="middle" fill="#fff" '
        f'font-family="Helvetica,Arial,sans-serif" font-weight="700" font-size="{font}">'
        f"{escape(initials)}</text></svg>"
    )


def cover_svg(seed: str, title: str) -> str:
    """A 9:16 video cover with the video's title."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="540" height="960" viewBox="0 0 540 960" '
        f'role="img" aria-label="{escape(title)}">'
        f'<rect width="540" height="960" fill="{_colour(seed)}"/>'
        '<rect y="760" width="540" height="200" fill="#00000055"/>'
        '<text x="32" y="860" fill="#fff" font-family="Helvetica,Arial,sans-serif" '
        f'font-size="34" font-weight="700">{escape(title[:28])}</text></svg>'
    )


def avatar_signature(key: bytes, open_id: str, size: int, expires: int) -> str:
    """The ``x-signature`` of an avatar URL: an HMAC over who, how big and until when."""
    message = f"{open_id}:{size}:{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).rstrip(b"=").decode("ascii")


def avatar_url_valid(
    key: bytes, open_id: str, size: int, expires: str | None, signature: str | None, now: float
) -> bool:
    """Whether a signed avatar URL is intact and not yet expired."""
    if expires is None or signature is None or not expires.isdigit():
        return False
    expected = avatar_signature(key, open_id, size, int(expires))
    return hmac.compare_digest(expected, signature) and now < int(expires)
