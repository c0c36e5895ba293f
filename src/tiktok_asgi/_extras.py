"""How to install an extra, in every message that names one.

The package is not on PyPI yet: an extra installs from a checkout of its repository.
"""

from __future__ import annotations

__all__ = ["install_hint", "missing_extra"]


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f'pip install ".[{extra}]" from a checkout of tiktok-asgi'


def missing_extra(module: str, extra: str, exc: ImportError) -> ImportError:
    """The error of ``module`` imported without its ``extra``: the import that failed, and the
    command that installs it. Of the same class as ``exc``, with the same ``name``, so that
    ``except ModuleNotFoundError`` still catches it."""
    cls = ModuleNotFoundError if isinstance(exc, ModuleNotFoundError) else ImportError
    return cls(f"{module} needs the {extra!r} extra ({exc}): {install_hint(extra)}", name=exc.name)
