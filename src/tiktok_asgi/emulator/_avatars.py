"""Generated pictures: avatars (a coloured circle with initials) and video covers."""

from __future__ import annotations

import hashlib
from html import escape

__all__ = ["avatar_svg", "cover_svg"]

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
