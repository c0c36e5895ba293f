"""Deprecated names: each still works, warns once per place it is used, and names its replacement.

Every deprecated name is removed in :data:`REMOVED_IN`; the changelog lists them, old → new.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["REMOVED_IN", "moved_attribute", "warn_deprecated"]

#: The release that removes every name deprecated so far.
REMOVED_IN = "0.2.0"


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (``stacklevel`` 3: the caller of the
    function that calls this)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in tiktok-asgi {REMOVED_IN}: use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def moved_attribute(module: str, name: str, moved: Mapping[str, tuple[str, str, str]]) -> Any:
    """A module ``__getattr__``'s answer for ``name``: the object behind a deprecated name of
    ``module`` (with a warning at the line that reads it), else ``AttributeError``.

    ``moved`` maps each deprecated name to (the module holding its object, the object's name
    there, what to use instead).
    """
    try:
        home, attribute, instead = moved[name]
    except KeyError:
        raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
    warn_deprecated(f"{module}.{name}", instead, stacklevel=4)
    imported = __import__(home, fromlist=[attribute])
    return getattr(imported, attribute)
