"""The API reference (``docs/reference.md``) shows every public name: each name of the public
modules' ``__all__`` is rendered by a ``::: path`` line of its own or with its whole module, and
has a docstring (a member of a module rendered whole is shown only if it has one).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import re
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = [
    "tiktok_asgi",
    "tiktok_asgi.starlette",
    "tiktok_asgi.fastapi",
    "tiktok_asgi.quart",
    "tiktok_asgi.litestar",
    "tiktok_asgi.django",
    "tiktok_asgi.webhooks",
    "tiktok_asgi.events",
    "tiktok_asgi.sessions",
    "tiktok_asgi.stores",
    "tiktok_asgi.redis_store",
    "tiktok_asgi.errors",
    "tiktok_asgi.limits",
    "tiktok_asgi.emulator",
    "tiktok_asgi.pages",
    "tiktok_asgi.pytest_plugin",
]


def directives() -> list[str]:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    return re.findall(r"^::: ([\w.]+)\s*$", text, re.MULTILINE)


def lookup(path: str) -> Any:
    """The object a dotted path names: a module, or an attribute of the longest module prefix."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise LookupError(path)


@cache  # the package's sources, parsed once for all the names
def documented_assignments() -> frozenset[str]:
    """Names assigned at module level anywhere in the package and followed by a docstring."""
    names = set()
    for source in (ROOT / "src" / "tiktok_asgi").rglob("*.py"):
        body = ast.parse(source.read_text(encoding="utf-8")).body
        for statement, after in itertools.pairwise(body):
            documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            if not documented or not isinstance(after.value.value, str):
                continue
            if isinstance(statement, ast.Assign):
                names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                names.add(statement.target.id)
    return frozenset(names)


def public_names() -> list[Any]:
    return [
        pytest.param(module, name, id=f"{module}.{name}")
        for module in PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
    ]


@pytest.mark.parametrize(("module", "name"), public_names())
def test_every_public_name_is_in_the_reference(module: str, name: str) -> None:
    obj = getattr(importlib.import_module(module), name)
    rendered_alone = False
    for directive in directives():
        target = lookup(directive)
        if directive.rsplit(".", 1)[-1] == name and target is obj:
            rendered_alone = True
        elif isinstance(target, types.ModuleType) and any(
            getattr(target, member) is obj for member in target.__all__
        ):
            break
    else:
        assert rendered_alone, f"docs/reference.md renders neither {module}.{name} nor its module"
        return
    # Rendered with its module: shown only if it has a docstring.
    if inspect.isclass(obj) or inspect.isroutine(obj):
        assert inspect.getdoc(obj), f"{module}.{name} has no docstring"
    else:
        assert name in documented_assignments(), f"{module}.{name} has no docstring"


def test_every_module_rendered_is_public() -> None:
    modules = [d for d in directives() if isinstance(lookup(d), types.ModuleType)]
    assert set(modules) <= set(PUBLIC_MODULES)
