"""Sphinx cross-reference roles in docstrings, rendered as links in the API reference.

The docstrings name other objects the way Sphinx does: ``:class:`TikTokUser```,
``:func:`~tiktok_asgi.tiktok_api```, ``:meth:`TikTokSettings.from_env```. mkdocstrings leaves such
roles as text, so this Griffe extension rewrites each one, once the package is loaded, into an
optional cross-reference: a link when the object it names is on the reference page, its name in
code otherwise (a private helper, say). Names are resolved as Python would from where the
docstring is: the object's own members, then its parents', then the module's imports.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):`(?P<target>[^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            docstring = obj.docstring
            if docstring is not None and ROLE.search(docstring.value):
                docstring.value = _rewrite(obj, docstring.value)


def _rewrite(scope: griffe.Object, text: str) -> str:
    return ROLE.sub(lambda m: _reference(scope, m["target"]), text)


def _objects(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if isinstance(member, griffe.Object):  # an import (an alias) is documented where it lives
            found.extend(_objects(member))
    return found


def _reference(scope: griffe.Object, target: str) -> str:
    """The autoref element for a role's target, written as Sphinx reads it: ``~`` shows only the
    last part of the name, ``!`` links nothing."""
    target = target.strip()
    if target.startswith("!"):
        return f"<code>{html.escape(target[1:])}</code>"
    short = target.startswith("~")
    name = target.lstrip("~")
    title = name.rsplit(".", 1)[-1] if short else name
    identifier = _resolve(scope, name)
    return (
        f'<autoref identifier="{html.escape(identifier)}" optional>'
        f"<code>{html.escape(title)}</code></autoref>"
    )


def _resolve(scope: griffe.Object, name: str) -> str:
    """The full path of ``name`` as seen from ``scope``, or ``name`` itself when it cannot be
    resolved (a reference to nothing stays plain text)."""
    if name.startswith("."):  # relative to the module's package, as in an import
        module = scope if scope.is_module else scope.module
        package = module if module.is_package else module.parent
        if package is None:
            return name
        return f"{package.path}{name}"
    first, _, rest = name.partition(".")
    if first == scope.package.name:
        path = name
    else:
        try:
            path = scope.resolve(first) + (f".{rest}" if rest else "")
        except griffe.NameResolutionError:
            return name
    try:
        found = scope.modules_collection[path]
        return found.final_target.path if found.is_alias else found.path
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return path
