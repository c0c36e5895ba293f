"""Developer tasks: ``nox -s tests``, ``lint``, ``typecheck``, ``build``, ``docs``, ``demo``,
``bench``, ``bench_telemetry``, ``stress``, ``translations``.

Sessions use the interpreter nox runs under (these machines have one CPython).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

TEST_DEPS = [
    "pytest>=8.2",
    "pytest-asyncio>=0.24",
    "pytest-xdist>=3.6",  # one worker per CPU; the browser tests share one worker
    "hypothesis>=6.100",
    "fastapi>=0.115",
    "quart>=0.19",
    "litestar>=2.15",
    "django>=4.2",
    "uvicorn>=0.30",
    "hypercorn>=0.17",
    "playwright>=1.45",
    "axe-playwright-python>=0.1.4",  # ships axe-core's axe.min.js for the accessibility checks
    "redis>=5.0",
    "websockets>=13",  # a real WebSocket client against uvicorn and Hypercorn
    "opentelemetry-api>=1.20",
    "opentelemetry-sdk>=1.20",  # spans and metric points recorded in memory
    "opentelemetry-instrumentation-asgi>=0.41b0",  # the server span the library's nest under
]

DOCS_DEPS = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, warnings are errors (see pyproject.toml), on one worker per CPU."""
    session.install("-e", ".[redis,demo,qr]", *TEST_DEPS)
    # Compiled modules (and pytest's rewritten test modules) are kept under .nox, out of the
    # checkout, so that each worker and each server a test starts does not compile them again.
    pycache = {
        "PYTHONDONTWRITEBYTECODE": None,
        "PYTHONPYCACHEPREFIX": str(session.cache_dir / "pyc"),
    }
    # One worker per CPU (``-- -n 0`` runs in one process); a module's browser tests stay on one
    # worker, which keeps their browser profiles.
    session.run("pytest", "-n", "auto", "--dist", "loadgroup", *session.posargs, env=pycache)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    # Every optional import is checked: the extras, and pytest for the shipped plugin.
    session.install(
        "-e",
        ".[redis,fastapi,quart,litestar,django,demo,qr,otel]",
        "opentelemetry-sdk>=1.20",  # the demo's --trace
        "django-stubs>=5.0",
        "pytest>=8.2",
        "mypy>=1.11",
    )
    session.run("mypy", "--strict", "src")


@nox.session
def build(session: nox.Session) -> None:
    """The sdist and wheel in ``dist/``, checked as the package index will render them."""
    session.install("build>=1.2", "twine>=5.1")
    dist = Path("dist")
    if dist.exists():
        shutil.rmtree(dist)
    session.run("python", "-m", "build")
    session.run("twine", "check", "--strict", *sorted(str(p) for p in dist.iterdir()))


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site in ``site/`` (``mkdocs build --strict``: warnings are errors).

    ``nox -s docs -- serve`` serves it with live reload instead.
    """
    session.install("-e", ".[redis,fastapi,quart,demo]", *DOCS_DEPS)
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The demo app and the built-in TikTok emulator on http://127.0.0.1:8000."""
    session.install("-e", ".[demo,qr]")
    session.run("python", "-m", "tiktok_asgi.demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks with their budgets; writes benchmarks/results.md (needs Debian's ``wrk``).

    ``nox -s bench -- --quick`` for a short smoke run that writes nothing.
    """
    session.install("-e", ".[demo,redis]")  # live sessions are measured with Redis too
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def bench_telemetry(session: nox.Session) -> None:
    """What a signed-in request costs without the ``otel`` extra, and with the SDK installed
    but nothing sampled (``ALWAYS_OFF``); prints one JSON line for each."""
    session.install("-e", ".[otel]", "opentelemetry-sdk>=1.20")
    with session.chdir("benchmarks"):
        session.run("python", "telemetry_cost.py", "--otel", "absent", *session.posargs)
        session.run("python", "telemetry_cost.py", "--otel", "sampled-off", *session.posargs)


@nox.session
def stress(session: nox.Session) -> None:
    """1,000 sign-ins at 100-way concurrency and a 100,000-request soak through uvicorn on
    127.0.0.1, with memory, descriptor and cache figures (uses Debian's ``wrk`` if present).

    ``nox -s stress -- --users 100 --concurrency 20 --requests 5000`` for a short run.
    """
    session.install("-e", ".[demo]")
    session.run("python", "-m", "stress", *session.posargs)


# The languages of the pages (TikTok's most used); English is the messages' own.
LANGUAGES = ("en", "es", "pt", "id", "ja", "ko", "de", "fr", "ar", "vi")
LOCALE_DIR = "src/tiktok_asgi/locale"
_ENGLISH_IS_ITSELF = """
import sys
from babel.messages.pofile import read_po, write_po
with open(sys.argv[1], "rb") as f:
    catalog = read_po(f)
for message in catalog:
    if message.id and not message.string:
        message.string = message.id
catalog.fuzzy = False
with open(sys.argv[1], "wb") as f:
    write_po(f, catalog, width=76)
"""


@nox.session
def translations(session: nox.Session) -> None:
    """The pages' message catalogs in ``src/tiktok_asgi/locale``: the messages extracted from the
    code into ``tiktok_asgi.pot`` (mapping in pyproject.toml), merged into each language's
    ``.po`` (a language added to ``LANGUAGES`` gets one), English filled in from the messages,
    and every ``.po`` compiled to the ``.mo`` the package reads.

    New messages arrive untranslated and a changed one loses its translation (no fuzzy guesses):
    the test suite fails until each ``.po`` has them. ``nox -s translations -- compile`` only
    compiles, after editing a ``.po``.
    """
    session.install("babel>=2.16")  # 2.16: the mapping in pyproject.toml
    domain = ["-d", LOCALE_DIR, "-D", "tiktok_asgi"]
    pot = f"{LOCALE_DIR}/tiktok_asgi.pot"
    if session.posargs[:1] != ["compile"]:
        Path(LOCALE_DIR).mkdir(exist_ok=True)
        session.run(
            "pybabel", "extract", "-F", "pyproject.toml", "-o", pot,
            "--project", "tiktok-asgi", "--copyright-holder", "tiktok-asgi contributors",
            "--msgid-bugs-address", "https://github.com/tiktok-asgi/tiktok-asgi/issues",
            "--add-location", "file", "--sort-by-file", "src/tiktok_asgi",
        )  # fmt: skip
        for lang in LANGUAGES:
            po = Path(LOCALE_DIR, lang, "LC_MESSAGES", "tiktok_asgi.po")
            if po.exists():
                merge = ["update", "--no-fuzzy-matching", "--ignore-obsolete"]
                session.run("pybabel", *merge, "-i", pot, *domain, "-l", lang)
            else:
                session.run("pybabel", "init", "-i", pot, *domain, "-l", lang)
            if lang == "en":
                session.run("python", "-c", _ENGLISH_IS_ITSELF, str(po))
    session.run("pybabel", "compile", *domain, "--statistics")
