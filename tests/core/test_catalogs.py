"""The pages' message catalogs: one per language, each complete (every message translated, none
fuzzy, the same placeholders), compiled ``.mo`` files that say what their ``.po`` sources say,
a template holding exactly the messages the code marks, and every description an error page can
show among them.

Read with the standard library only: the catalogs are written with Babel (``nox -s
translations``), which the tests do not need.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tiktok_asgi import errors
from tiktok_asgi._i18n import DOMAIN, LOCALE_DIR, available
from tiktok_asgi.advice import ADVICE

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "tiktok_asgi"
LANGUAGES = ("en", "es", "pt", "id", "ja", "ko", "de", "fr", "ar", "vi")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Babel's default keywords, the ones the code uses.
KEYWORDS = frozenset({"_", "gettext", "N_"})


@dataclass
class Entry:
    msgid: str = ""
    msgstr: str = ""
    flags: set[str] = field(default_factory=set)


def read_po(path: Path) -> list[Entry]:
    """A ``.po`` file's entries (the header's included, as msgid ""); no plural forms, contexts
    or obsolete entries: the catalogs have none, and meeting one fails."""
    entries: list[Entry] = []
    entry = Entry()
    current: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{number}"
        if not line.strip():
            continue
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#~"):
            pytest.fail(f"{where}: an obsolete entry (nox -s translations drops them)")
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid ", "msgstr ")):
            keyword, _, value = line.partition(" ")
            if keyword == "msgid" and current is not None:
                entries.append(entry)
                entry = Entry(flags=set())
            current = keyword
            setattr(entry, keyword, _string(value, where))
        elif line.startswith('"') and current is not None:
            setattr(entry, current, getattr(entry, current) + _string(line, where))
        else:
            pytest.fail(f"{where}: unexpected line {line!r}")
    if current is not None:
        entries.append(entry)
    return entries


def _string(quoted: str, where: str) -> str:
    value = ast.literal_eval(quoted.strip())
    assert isinstance(value, str), where
    return value


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def messages(entries: list[Entry]) -> dict[str, str]:
    return {e.msgid: e.msgstr for e in entries if e.msgid}


def template() -> set[str]:
    return set(messages(read_po(LOCALE_DIR / f"{DOMAIN}.pot")))


def test_each_language_has_a_catalog_and_nothing_else_does() -> None:
    shipped = {p.name for p in LOCALE_DIR.iterdir() if p.is_dir()}
    assert shipped == set(LANGUAGES)
    assert set(available()) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_catalog_is_complete(lang: str) -> None:
    entries = read_po(po_path(lang))
    header = next(e for e in entries if not e.msgid)
    assert "fuzzy" not in header.flags
    assert "charset=utf-8" in header.msgstr.lower()
    assert f"Language: {lang}\n" in header.msgstr
    found = messages(entries)
    assert set(found) == template(), "run nox -s translations and translate what it adds"
    for entry in entries:
        if not entry.msgid:
            continue
        assert "fuzzy" not in entry.flags, entry.msgid
        assert entry.msgstr.strip(), f"{lang}: untranslated: {entry.msgid!r}"
        assert Counter(PLACEHOLDER.findall(entry.msgstr)) == Counter(
            PLACEHOLDER.findall(entry.msgid)
        ), f"{lang}: placeholders differ: {entry.msgid!r} → {entry.msgstr!r}"
        if lang == "en":
            assert entry.msgstr == entry.msgid
        else:  # a translation, not the English copied over
            assert entry.msgstr != entry.msgid, f"{lang}: {entry.msgid!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalog_matches_its_source(lang: str) -> None:
    with po_path(lang).with_suffix(".mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    catalog = {k: v for k, v in vars(compiled)["_catalog"].items() if k}
    assert catalog == messages(read_po(po_path(lang))), "run nox -s translations -- compile"
    assert compiled.info()["language"] == lang


def marked_messages() -> set[str]:
    """What the extraction finds: the literal first argument of ``_``, ``gettext`` and ``N_``."""
    found = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name in KEYWORDS and isinstance(first, ast.Constant):
                assert isinstance(first.value, str), f"{path.name}:{node.lineno}"
                found.add(first.value)
    return found


def test_the_template_holds_exactly_the_marked_messages() -> None:
    assert marked_messages() == template(), "run nox -s translations"


def test_no_message_is_marked_inside_an_f_string() -> None:
    """Babel reads an f-string as one token before Python 3.12: a message inside is missed."""
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                for call in ast.walk(node):
                    if not isinstance(call, ast.Call) or not call.args:
                        continue
                    func = call.func
                    name = getattr(func, "id", None) or getattr(func, "attr", None)
                    literal = isinstance(call.args[0], ast.Constant)
                    assert not (name in KEYWORDS and literal), f"{path.name}:{node.lineno}"


# Descriptions of these are replaced on a page in another language than English (TikTok's own
# words, or ours composed of parts): see tiktok_asgi._responses.described.
REPLACED = (errors.TikTokAPIError, errors.TikTokUnavailable)
# Answered only as JSON: the native apps' exchange and TikTok's webhooks; a QR code's session,
# whose errors the QR page shows in its own words per code.
JSON_ONLY = frozenset({"webhooks.py", "_native.py", "_cookies/qr.py"})
ERROR_CLASSES = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, errors.TikTokAuthError)
}


def _module_strings(tree: ast.Module, *, everywhere: bool = False) -> dict[str, str]:
    """``NAME = "text"``, ``NAME = N_("text")`` and ``NAME = N_("…").format(…)`` at module level
    (or anywhere)."""
    strings = {}
    for node in ast.walk(tree) if everywhere else tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, text = node.targets[0], _text(node.value, {})
            if isinstance(target, ast.Name) and text is not None:
                strings[target.id] = text
    return strings


def _imported_strings(path: Path, tree: ast.Module) -> dict[str, str]:
    """The strings a module imports from the package's modules (``from ._cookies.qr import
    USED``)."""
    strings = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level and node.module:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            source = base.joinpath(*node.module.split(".")).with_suffix(".py")
            if source.is_file():
                known = _module_strings(ast.parse(source.read_text(encoding="utf-8")))
                strings |= {
                    a.asname or a.name: known[a.name] for a in node.names if a.name in known
                }
    return strings


def _text(node: ast.expr | None, strings: dict[str, str]) -> str | None:
    """A description's message: a literal, a named constant, ``N_(…)``, ``N_(…).format()`` or
    ``person_text``'s fallback."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "format":
            return _text(func.value, strings)
        if getattr(func, "id", None) == "N_" and node.args:
            return _text(node.args[0], strings)
        if getattr(func, "id", None) == "person_text" and len(node.args) == 2:
            return _text(node.args[1], strings)  # ADVICE's texts, or this fallback
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    return None


def page_descriptions() -> list[tuple[str, str | None]]:
    """(where, message) of every description given to an error a page may show."""
    found: list[tuple[str, str | None]] = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative in JSON_ONLY or relative.startswith(("emulator/", "demo/")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        strings = _module_strings(tree, everywhere=True) | _imported_strings(path, tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            cls = ERROR_CLASSES.get(node.func.id)
            if cls is None or issubclass(cls, REPLACED):
                continue
            given = next((k.value for k in node.keywords if k.arg == "description"), None)
            if given is None and len(node.args) > 1:
                given = node.args[1]
            if given is not None:
                found.append((f"{relative}:{node.lineno}", _text(given, strings)))
    return found


def test_every_description_a_page_shows_is_in_the_catalogs() -> None:
    known = template()
    descriptions = page_descriptions()
    assert len(descriptions) > 15  # the scan finds them
    for where, text in descriptions:
        assert text is not None, f"{where}: a description not known until it is raised"
        assert text in known, f"{where}: {text!r} is not in the catalogs (mark it with N_)"
    for cls in ERROR_CLASSES.values():
        if cls.default_description and not cls.__name__.startswith(("Webhook", "Qr")):
            assert cls.default_description in known, cls.__name__
    assert {advice.person for advice in ADVICE.values()} <= known
