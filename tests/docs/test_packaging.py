"""Ready to publish: one version, a licence, project URLs and a README whose images the package
page can show (the build and ``twine check --strict`` run in ``nox -s build``)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

import tiktok_asgi

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_lives_only_in_the_package() -> None:
    project = _pyproject()["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert _pyproject()["tool"]["hatch"]["version"]["path"] == "src/tiktok_asgi/__init__.py"
    assert metadata("tiktok-asgi")["Version"] == tiktok_asgi.__version__


def test_licence_and_project_urls() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(project["urls"])
    assert all(url.startswith("https://") for url in project["urls"].values())


def _package_page_readme() -> str:
    """README.md as the package page shows it: after the build's substitutions."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    hook = _pyproject()["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
    for substitution in hook["substitutions"]:
        readme = re.sub(substitution["pattern"], substitution["replacement"], readme)
    return readme


def test_every_readme_image_is_absolute_on_the_package_page() -> None:
    readme = _package_page_readme()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme)
    assert images
    for image in images:
        assert image.startswith("https://"), image
        assert (ROOT / image.split("/main/", 1)[1]).is_file(), image


def test_the_demo_extra_brings_a_websocket_capable_server() -> None:
    demo = [r for r in metadata("tiktok-asgi").get_all("Requires-Dist") or [] if "demo" in r]
    assert any(r.startswith("wsproto") for r in demo), demo
    config = uvicorn.Config(Starlette(), ws="auto")
    config.load()
    assert config.ws_protocol_class is not None


def test_every_readme_link_leads_somewhere_on_the_package_page() -> None:
    """README's links are relative (they work on the repository's pages); on the package page the
    guide's pages are on the documentation site and the other files on the repository."""
    urls = _pyproject()["project"]["urls"]
    site, files = urls["Documentation"], f"{urls['Source']}/blob/main/"
    links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", _package_page_readme())
    assert any(link.startswith(site) for link in links)
    for link in links:
        assert link.startswith("https://"), link
        if link.startswith(site):
            page = link.removeprefix(site).split("#", 1)[0].strip("/") or "index"
            assert (ROOT / "docs" / f"{page}.md").is_file(), link
        elif link.startswith(files):
            assert (ROOT / link.removeprefix(files)).is_file(), link
