"""Every ```python block of README.md and of the guide's pages (``docs/``) runs as it stands, with
a real emulator as TikTok, and the commands of every shell block exist as written.

Each Python block is checked on its own: it may use only names it defines or imports (no ``request``
or ``app`` borrowed from a neighbouring block), then it is executed with the ``TIKTOK_*``
variables that ``python -m tiktok_asgi.emulator`` prints. A block that wraps an ``app`` in
``TikTokAuthMiddleware`` is then signed in to, end to end: its login redirects to the emulator
(served over HTTP on 127.0.0.1, or the block's own in-process ``emu``), the consent is given
there, and the callback signs the browser in.

A shell block is not run (it installs, serves, or talks to real TikTok), but what it names is
checked: ``nox -s`` sessions of the noxfile, the extras ``pip install`` asks for, modules run with
``python -m`` (with their arguments, for the package's own command lines), and the ``TIKTOK_*``
variables it exports, which must be settings.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import importlib.util
import inspect
import os
import re
import shlex
import symtable
import sys
import textwrap
import threading
import time
import tomllib
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
import uvicorn
from starlette.testclient import TestClient

from tests.support.processes import free_port, listening, running
from tests.support.signin import Step, run_steps, sign_in_steps
from tests.tokens.conftest import RedisServer, redis_executable
from tiktok_asgi import TikTokSettings, pytest_plugin
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.emulator.__main__ import build_emulator, export_lines, parse

ROOT = Path(__file__).resolve().parents[2]
# The README and every page of the guide: a block moved from one to the other stays tested.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A fenced block, also indented inside a list item; its language decides what is done with it.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```",
    re.DOTALL | re.MULTILINE,
)
RUN = frozenset({"python"})
SHELL = frozenset({"bash", "sh"})
SHOWN = frozenset({"", "text"})  # diagrams, signatures and sample output, shown as they are
BASE_URL = "https://testserver"
CALLBACK = f"{BASE_URL}/auth/tiktok/callback"
LOGIN_PATH = "/auth/tiktok/login"
SECRET_KEY = "readme-" + "k" * 40
MODULE_NAMES = frozenset({"__name__", "__file__", "__doc__", "__builtins__"})


class Block(NamedTuple):
    page: str  # relative to the repository, e.g. "docs/fastapi.md"
    line: int
    lang: str
    source: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def all_blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(ROOT).as_posix()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start("body")) + 1
            source = textwrap.dedent(match["body"])
            blocks.append(Block(name, line, match["lang"], source))
    return blocks


def blocks_in(languages: frozenset[str]) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in all_blocks() if b.lang in languages]


def test_every_block_is_run_checked_or_plainly_shown() -> None:
    """A block in another language (``py``, ``console``) would silently escape the tests."""
    known = RUN | SHELL | SHOWN
    assert not [b.where for b in all_blocks() if b.lang not in known]
    assert {"README.md", "docs/index.md"} <= {b.page for b in all_blocks() if b.lang in RUN}


def undefined_names(source: str, filename: str = "<block>") -> set[str]:
    """Names a block reads at module level, or as globals inside its functions, without
    defining or importing them (builtins aside)."""
    top = symtable.symtable(source, filename, "exec")
    defined = {
        s.get_name()
        for s in top.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    read: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            global_read = symbol.is_global() or table is top
            if symbol.is_referenced() and global_read:
                read.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return read - defined - set(dir(builtins)) - MODULE_NAMES


class Emulator(NamedTuple):
    base: str
    environ: dict[str, str]


@pytest.fixture(scope="module")
def served_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """``python -m tiktok_asgi.emulator`` on 127.0.0.1, and the variables it tells you to set."""
    port = free_port()
    argv = ["--port", str(port), "--redirect-uri", CALLBACK, "--no-rate-limit"]
    base = f"http://127.0.0.1:{port}"
    environ = {}
    for line in export_lines(build_emulator(parse(argv)), base):
        name, _, value = line.removeprefix("export ").partition("=")
        if name != "TIKTOK_SECRET_KEY":  # generated by the shell when pasted
            environ[name] = shlex.split(value)[0]
    environ["TIKTOK_SECRET_KEY"] = SECRET_KEY
    command = [sys.executable, "-m", "tiktok_asgi.emulator", *argv, "--log-level", "warning"]
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with running(command, log=log, ready=listening(port), timeout=20):
        yield Emulator(base, environ)


def consent_at(emulator: Emulator, namespace: dict[str, Any]) -> Any:
    """Consent where the login sent the browser: the served emulator's consent form over HTTP,
    or the block's own in-process emulator."""

    def consent(authorize_url: str) -> str:
        if authorize_url.startswith(emulator.base):
            form = [*parse_qsl(urlsplit(authorize_url).query), ("action", "authorize")]
            form.append(("user", "mayacooks"))
            with httpx2.Client(trust_env=False, timeout=10) as client:
                answer = client.post(authorize_url.split("?", 1)[0], data=dict(form))
            assert answer.status_code == 302, answer.text
            return answer.headers["location"]
        own = [v for v in namespace.values() if isinstance(v, TikTokEmulator)]
        assert own, f"the login went to {authorize_url}, which no emulator of the block serves"
        return own[0].approve(authorize_url)

    return consent


@contextmanager
def served(app: Any, port: int) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1:``port``, lifespan included; its origin."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def sign_in_over_http(origin: str, consent: Any, cookie_name: str) -> None:
    with httpx2.Client(base_url=origin, trust_env=False, timeout=10) as client:

        def perform(step: Step) -> Any:
            return client.request(step.method, step.url, **step.httpx_options())

        landing = run_steps(sign_in_steps(LOGIN_PATH, consent, cookie_name=cookie_name), perform)
        assert client.get(landing).status_code == 200


def run_tests_of(namespace: dict[str, Any]) -> None:
    """A block's ``test_*`` functions, called with the fixtures the pytest plugin provides."""
    for name, function in namespace.items():
        if not (name.startswith("test_") and inspect.isfunction(function)):
            continue
        emulator = pytest_plugin.tiktok_emulator.__wrapped__()  # type: ignore[attr-defined]
        fixtures = {"tiktok_emulator": emulator, "tiktok_settings": emulator.settings()}
        wanted = inspect.signature(function).parameters
        function(**{k: v for k, v in fixtures.items() if k in wanted})


def sign_in_to(app: Any, consent: Any, cookie_name: str) -> None:
    # Inside ``with``: the app's lifespan runs, so the middleware closes its connections to TikTok.
    with TestClient(app, base_url=BASE_URL) as client:

        def perform(step: Step) -> Any:
            return client.request(step.method, step.url, **step.httpx_options())

        landing = run_steps(sign_in_steps(LOGIN_PATH, consent, cookie_name=cookie_name), perform)
        assert client.get(landing).status_code < 500


@contextmanager
def django_settings_for(block: Block) -> Iterator[None]:
    """Django's settings as a block that configures them finds them: not yet configured (the
    suite's own Django tests configure them at collection), and as they were afterwards."""
    if "django_settings.configure(" not in block.source:
        yield
        return
    from django.conf import settings
    from django.urls import clear_url_caches
    from django.utils.functional import empty

    before = settings._wrapped
    settings._wrapped = empty
    try:
        yield
    finally:
        settings._wrapped = before
        clear_url_caches()


@contextmanager
def redis_for(block: Block, monkeypatch: pytest.MonkeyPatch, directory: Path) -> Iterator[None]:
    """A real redis-server at ``REDIS_URL`` for a block that reads it."""
    if "REDIS_URL" not in block.source:
        yield
        return
    server = RedisServer(redis_executable(), directory)
    server.start()
    try:
        monkeypatch.setenv("REDIS_URL", server.url)
        yield
    finally:
        server.stop()


@pytest.mark.parametrize("block", blocks_in(RUN))
def test_python_block_runs_as_it_stands(
    block: Block,
    served_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    missing = undefined_names(block.source, block.where)
    if missing:
        pytest.fail(f"{block.where} uses names it does not define: {sorted(missing)}")
    for name in [n for n in os.environ if n.startswith("TIKTOK_")]:
        monkeypatch.delenv(name)
    for name, value in served_emulator.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    port = free_port()
    monkeypatch.setenv("EXAMPLE_ORIGIN", f"http://127.0.0.1:{port}")
    with redis_for(block, monkeypatch, tmp_path), django_settings_for(block):
        # A module of its own, as the block would be in a user's file: frameworks that read the
        # annotations back (Litestar) look them up in the module the function belongs to.
        module = types.ModuleType("doc_block_" + re.sub(r"\W", "_", block.where))
        monkeypatch.setitem(sys.modules, module.__name__, module)
        namespace: dict[str, Any] = module.__dict__
        code = compile(block.source, block.where, "exec")
        exec(code, namespace)  # noqa: S102 - the docs' own examples, the point of the test
        run_tests_of(namespace)
        app = namespace.get("app")
        if app is None or "TikTokAuthMiddleware" not in block.source:
            return
        consent = consent_at(served_emulator, namespace)
        if "EXAMPLE_ORIGIN" in block.source:  # the emulator is mounted: serve it for real
            with served(app, port) as origin:
                sign_in_over_http(origin, consent, "tiktok_session")  # plain http: no __Host-
        else:
            # The environment's redirect URI is https: the default name is __Host-.
            cookie_name = TikTokSettings.from_env(environ=served_emulator.environ).cookie_name
            sign_in_to(app, consent, cookie_name)


# --------------------------------------------------------------------------- shell blocks

OWN_COMMAND_LINES = {  # modules run with ``python -m`` whose arguments are checked
    "tiktok_asgi": "tiktok_asgi.__main__",
    "tiktok_asgi.demo": "tiktok_asgi.demo.__main__",
    "tiktok_asgi.emulator": "tiktok_asgi.emulator.__main__",
}


def commands(source: str) -> list[list[str]]:
    """The simple commands of a shell block: continuation lines joined, comments dropped, split
    at ``&&``, ``;`` and ``|``."""
    found: list[list[str]] = []
    for line in source.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command: list[str] = []
        for token in lexer:
            if token in {"&&", ";", "|", "||", "&"}:
                found.append(command)
                command = []
            else:
                command.append(token)
        found.append(command)
    return [c for c in found if c]


def nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("nox.session" in ast.unparse(d) for d in node.decorator_list)
    }


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def check_command(command: list[str]) -> None:
    program, *args = command
    if program == "export":
        settings = {f.name for f in dataclasses.fields(TikTokSettings)}
        for assignment in args:
            name = assignment.partition("=")[0]
            if name.startswith("TIKTOK_"):
                assert name.removeprefix("TIKTOK_").lower() in settings, f"{name} is no setting"
    elif program == "nox":
        assert args[:1] == ["-s"], command
        names = args[1 : args.index("--")] if "--" in args else args[1:]
        assert set(names) <= nox_sessions(), f"{names}: not sessions of noxfile.py"
    elif program == "pip" and args[:1] == ["install"]:
        extras = set(project()["optional-dependencies"])
        for requirement in args[1:]:
            wanted = re.fullmatch(r"(?:\.|tiktok-asgi)\[([\w,]+)\]", requirement)
            if wanted:
                assert set(wanted[1].split(",")) <= extras, f"{requirement}: no such extra"
    elif program in {"python", "python3"} and args[:1] == ["-m"]:
        module, arguments = args[1], args[2:]
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
        if module in OWN_COMMAND_LINES:
            parser = importlib.import_module(OWN_COMMAND_LINES[module])._parser()
            parser.parse_args(arguments)  # exits (and fails the test) on a wrong argument
    elif program in project()["scripts"]:
        parser = importlib.import_module("tiktok_asgi.__main__")._parser()
        parser.parse_args(args)


@pytest.mark.parametrize("block", blocks_in(SHELL))
def test_shell_block_names_what_exists(block: Block) -> None:
    found = commands(block.source)
    assert found, f"{block.where} has no command"
    for command in found:
        try:
            check_command(command)
        except SystemExit as exc:  # argparse refused the arguments
            pytest.fail(f"{block.where}: {shlex.join(command)} is refused ({exc})")
