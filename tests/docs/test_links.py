"""Every relative link of the README, SECURITY.md, CHANGELOG.md and the guide's pages leads to a
file that exists, and its ``#section`` to a heading of that file, under the name both the
repository's pages and the documentation site give the heading.

``mkdocs build --strict`` checks the guide's links too, but not the README's (which is no page of
the site), and it knows only its own names for headings.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "SECURITY.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
FENCED = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.DOTALL | re.MULTILINE)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def text_of(path: Path) -> str:
    """A page as it is shown: the site's includes (``--8<-- "SECURITY.md"``) in place, code
    blocks left out."""
    text = path.read_text(encoding="utf-8")
    text = INCLUDE.sub(lambda m: (ROOT / m[1]).read_text(encoding="utf-8"), text)
    return FENCED.sub("", text)


def plain(heading: str) -> str:
    """A heading's text without its Markdown: code marks and link targets dropped."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return heading.replace("`", "").strip()


def site_anchor(heading: str) -> str:
    """The documentation site's name for a heading (Python-Markdown's ``toc``)."""
    value = unicodedata.normalize("NFKD", plain(heading)).encode("ascii", "ignore").decode()
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def repository_anchor(heading: str) -> str:
    """The repository pages' name for a heading: punctuation dropped, each space a hyphen."""
    value = plain(heading).lower()
    value = "".join(c for c in value if c.isalnum() or c in " -_")
    return value.replace(" ", "-")


def anchors(path: Path) -> tuple[set[str], set[str]]:
    headings = HEADING.findall(text_of(path))
    return {site_anchor(h) for h in headings}, {repository_anchor(h) for h in headings}


def links() -> list[object]:
    found = []
    for document in DOCUMENTS:
        name = document.relative_to(ROOT).as_posix()
        prose = CODE.sub("", text_of(document))
        for target in dict.fromkeys(LINK.findall(prose)):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # not https:, mailto:, …
                found.append(pytest.param(document, target, id=f"{name}->{target}"))
    return found


@pytest.mark.parametrize(("document", "target"), links())
def test_relative_link_resolves(document: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    destination = (document.parent / path).resolve() if path else document
    assert destination.exists(), f"{target}: no such file"
    if anchor:
        on_site, on_repository = anchors(destination)
        assert anchor in on_site, f"{target}: no such section on the documentation site"
        assert anchor in on_repository, f"{target}: no such section on the repository's pages"


def test_the_guide_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"SECURITY.md"}
    linked = {Path(t.partition("#")[0]).name for t in LINK.findall(readme) if t.startswith("docs/")}
    assert pages <= linked, f"pages the README does not link to: {sorted(pages - linked)}"
