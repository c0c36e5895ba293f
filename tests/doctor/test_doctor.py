"""``python -m tiktok_asgi doctor`` against the emulator: in-process (``main`` with argv and the
emulator's transport) and once as a subprocess against ``python -m tiktok_asgi.emulator``."""

from __future__ import annotations

import importlib
import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.doctor.apps import CALLBACK, MOUNTED_CALLBACK, WEBHOOK_PATH
from tests.support.processes import free_port, listening, running, without_tiktok_settings
from tiktok_asgi.__main__ import main
from tiktok_asgi.doctor import read_refusal
from tiktok_asgi.emulator import TikTokEmulator
from tiktok_asgi.emulator.__main__ import build_emulator, export_lines, parse

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_CALLBACK = "http://127.0.0.1:8000/auth/tiktok/callback"
WITHOUT_WEBHOOK_URL = ["settings", "reachable", "credentials", "authorize", "callback", "webhook"]
ALL_CHECKS = [*WITHOUT_WEBHOOK_URL[:-1], "webhook_url", "webhook"]

Env = Callable[..., None]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Env:
    """``TIKTOK_*`` variables of a working app; ``env(NAME=value)`` changes one (None: unset)."""
    for name in [n for n in os.environ if n.startswith("TIKTOK_")]:
        monkeypatch.delenv(name)

    def set_env(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(f"TIKTOK_{name}", raising=False)
            else:
                monkeypatch.setenv(f"TIKTOK_{name}", value)

    set_env(
        CLIENT_KEY="emulator-client-key",
        CLIENT_SECRET="emulator-client-secret",
        REDIRECT_URI=CALLBACK,
        SECRET_KEY="doctor-" + "k" * 40,
        WEBHOOK_PATH=WEBHOOK_PATH,
    )
    return set_env


@pytest.fixture
def emu() -> TikTokEmulator:
    return TikTokEmulator(redirect_uris=[CALLBACK, MOUNTED_CALLBACK, LOOPBACK_CALLBACK])


Doctor = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def doctor(emu: TikTokEmulator, capsys: pytest.CaptureFixture[str]) -> Doctor:
    """``doctor --json ARGS`` in-process against ``emu``: the exit code and the checks by
    name."""

    def run(*args: str, emulator: TikTokEmulator | None = None) -> tuple[int, dict[str, Any]]:
        transport = (emulator or emu).transport()
        code = main(["doctor", "--json", *args], transport=transport)
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] is (code == 0)
        return code, {check["name"]: check for check in report["checks"]}

    return run


def failed(checks: dict[str, Any]) -> list[str]:
    return [name for name, check in checks.items() if check["status"] == "fail"]


def test_every_check_passes_against_the_emulator(
    env: Env, emu: TikTokEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--app", "tests.doctor.apps:plain"], transport=emu.transport())
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-1] == "All checks passed."
    assert [line.split(":")[0] for line in lines[:-1]] == [f"✓ {name}" for name in ALL_CHECKS]
    # The pair is proved by the client-credentials grant: no user, no code exchanged.
    assert emu.count("token", grant_type="client_credentials") == 1
    assert emu.count("token") == 1
    assert emu.count("authorize") == 1


def test_a_wrong_secret_is_named_with_its_likely_causes(env: Env, doctor: Doctor) -> None:
    env(CLIENT_SECRET="production-secret")
    code, checks = doctor("--app", "tests.doctor.apps:plain")
    assert code == 1
    assert failed(checks) == ["credentials", "webhook"]
    assert "invalid_client" in checks["credentials"]["message"]
    fix = checks["credentials"]["fix"]
    assert "a wrong secret, or a sandbox key with a production secret" in fix
    assert "(or the other way round)" in fix
    # The app's receiver verifies with the app's secret, which is not this one.
    assert "refused a signature made with this client_secret" in checks["webhook"]["message"]
    assert "same client_secret" in checks["webhook"]["fix"]


def test_a_wrong_client_key_fails_the_pair_and_the_authorize_request(
    env: Env, doctor: Doctor
) -> None:
    env(CLIENT_KEY="someone-elses-key")
    code, checks = doctor()
    assert code == 1
    assert failed(checks) == ["credentials", "authorize.client_key"]
    assert "someone-elses-key" in checks["authorize.client_key"]["message"]
    assert "copy the Client key" in checks["authorize.client_key"]["fix"]


def test_an_unregistered_redirect_uri_is_named(env: Env, doctor: Doctor) -> None:
    unregistered = "https://app.example/auth/tiktok/callback/"
    env(REDIRECT_URI=unregistered, CALLBACK_PATH="/auth/tiktok/callback/")
    code, checks = doctor()
    assert code == 1
    assert failed(checks) == ["authorize.redirect_uri"]
    check = checks["authorize.redirect_uri"]
    assert unregistered in check["message"]
    assert f"register {unregistered} in the TikTok app console exactly as written" in check["fix"]
    assert "trailing slash" in check["fix"]


def test_a_scope_whose_product_the_app_lacks_is_named_to_drop(env: Env, doctor: Doctor) -> None:
    without_display_api = TikTokEmulator(redirect_uris=[CALLBACK], products=["login_kit"])
    env(SCOPES="user.info.basic,user.info.profile")
    code, checks = doctor(emulator=without_display_api)
    assert code == 1
    assert failed(checks) == ["authorize.scope"]
    check = checks["authorize.scope"]
    assert "user.info.profile" in check["message"]
    assert "drop user.info.profile from scopes (TIKTOK_SCOPES=user.info.basic)" in check["fix"]
    assert "Display API" in check["fix"]
    # Narrowed down by asking for each scope beside user.info.basic.
    asked = [r.query["scope"] for r in without_display_api.requests if r.endpoint == "authorize"]
    assert asked == [
        ["user.info.basic,user.info.profile"],
        ["user.info.basic"],
        ["user.info.basic,user.info.profile"],
    ]


def test_an_authorize_request_without_pkce_is_refused_with_the_fix(
    env: Env, doctor: Doctor
) -> None:
    env(PKCE="none")
    code, checks = doctor()
    assert code == 1
    assert failed(checks) == ["authorize.code_challenge"]
    assert "pkce='base64url'" in checks["authorize.code_challenge"]["fix"]


def test_a_missing_mount_prefix_names_the_redirect_uri_that_reaches_the_callback(
    env: Env, doctor: Doctor
) -> None:
    code, checks = doctor("--app", "tests.doctor.apps:mounted")
    assert code == 1
    assert failed(checks) == ["callback", "webhook"]
    assert "HTTP 404" in checks["callback"]["message"]
    assert f"set redirect_uri to {MOUNTED_CALLBACK}" in checks["callback"]["fix"]
    assert "https://app.example/app/auth/tiktok/webhook" in checks["webhook"]["fix"]


def test_the_mount_prefix_in_the_redirect_uri_reaches_the_callback_and_the_webhook(
    env: Env, doctor: Doctor
) -> None:
    env(REDIRECT_URI=MOUNTED_CALLBACK, CALLBACK_PATH="/auth/tiktok/callback")
    code, checks = doctor("--app", "tests.doctor.apps:mounted")
    assert code == 0, checks
    assert "/app/auth/tiktok/callback" in checks["callback"]["message"]
    assert checks["webhook_url"]["message"] == (
        "the webhook URL https://app.example/app/auth/tiktok/webhook is https"
    )
    assert checks["webhook"]["status"] == "pass"


def test_a_plain_http_webhook_url_fails(env: Env, doctor: Doctor) -> None:
    env(REDIRECT_URI=LOOPBACK_CALLBACK)
    code, checks = doctor()
    assert code == 1
    assert failed(checks) == ["webhook_url"]
    assert "https://127.0.0.1:8000/auth/tiktok/webhook" in checks["webhook_url"]["fix"]


def test_json_shape(env: Env, doctor: Doctor) -> None:
    env(WEBHOOK_PATH=None)
    code, checks = doctor()
    assert code == 0
    assert list(checks) == WITHOUT_WEBHOOK_URL
    for check in checks.values():
        assert set(check) == {"name", "status", "message", "fix"}
        assert check["status"] in ("pass", "skip")
        assert check["fix"] is None
        assert isinstance(check["message"], str)
        assert check["message"]
    # Without the app and without a webhook path, those checks say why they did not run.
    assert checks["callback"]["status"] == "skip"
    assert "--app module:app" in checks["callback"]["message"]
    assert checks["webhook"]["status"] == "skip"


def test_invalid_settings_fail_first_and_nothing_reaches_tiktok(
    env: Env, emu: TikTokEmulator, doctor: Doctor
) -> None:
    env(REDIRECT_URI=None)
    code, checks = doctor()
    assert code == 1
    assert checks["settings"]["status"] == "fail"
    assert "TIKTOK_REDIRECT_URI is not set" in checks["settings"]["fix"]
    assert {c["status"] for name, c in checks.items() if name != "settings"} == {"skip"}
    assert emu.requests == []


def test_settings_from_an_object_or_a_function(env: Env, doctor: Doctor) -> None:
    env(REDIRECT_URI=None)  # not read: --settings replaces the environment
    for reference in ("tests.doctor.apps:SETTINGS", "tests.doctor.apps:settings"):
        code, checks = doctor("--settings", reference, "--app", "tests.doctor.apps:plain")
        assert code == 0, checks
        assert checks["settings"]["message"] == f"{reference} are valid settings"


def test_settings_and_app_that_cannot_be_loaded(env: Env, doctor: Doctor) -> None:
    code, checks = doctor("--settings", "tests.doctor.apps:not_an_app")
    assert code == 1
    assert "--settings takes module:attribute" in checks["settings"]["fix"]
    code, checks = doctor("--settings", "no colon")
    assert "is not module:attribute" in checks["settings"]["message"]
    code, checks = doctor("--app", "tests.doctor.no_such_module:app")
    assert code == 1
    assert failed(checks) == ["app"]
    assert "ModuleNotFoundError" in checks["app"]["message"]
    code, checks = doctor("--app", "tests.doctor.apps:not_an_app")
    assert "not an ASGI app" in checks["app"]["message"]


def test_an_env_file_is_read(env: Env, doctor: Doctor, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"TIKTOK_REDIRECT_URI={MOUNTED_CALLBACK}\n", encoding="utf-8")
    env(REDIRECT_URI=None)
    code, checks = doctor("--env-file", str(env_file), "--app", "tests.doctor.apps:mounted")
    assert code == 0, checks


def test_exit_code_2_without_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--no-such-option"])
    assert exited.value.code == 2


@pytest.mark.parametrize(
    ("page", "items"),
    [
        # As people report TikTok's page.
        (
            "<div><h2>Something went wrong</h2><p>We couldn't log in with TikTok. This may be "
            "due to specific app settings.</p><p>If you're a developer, correct the following "
            "and try again:</p><p>redirect_uri</p><p>Refer to our <a href='/doc'>Developer "
            "Documentation</a> for more information.</p></div>",
            ("redirect_uri",),
        ),
        (
            "<p>If you&#x27;re a developer, correct the following: scope, code_challenge</p>"
            "<dl><dt>error</dt><dd>invalid_scope</dd></dl>",
            ("scope", "code_challenge"),
        ),
        (
            '<div id="app"></div><script>window.__INIT__={"message":"If you\'re a developer, '
            'correct the following and try again:\\n\\nclient_key"}</script>',
            ("client_key",),
        ),
        ("<p>correct the following: app_review_status</p>", ("app_review_status",)),
        ("<h1>Authorize Emulated App</h1><button>Authorize</button>", ()),
    ],
)
def test_read_refusal(page: str, items: tuple[str, ...]) -> None:
    assert read_refusal(page) == items


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``python -m tiktok_asgi.emulator`` on 127.0.0.1, and the variables it tells you to set."""
    port = free_port()
    argv = ["--port", str(port), "--no-rate-limit"]
    base = f"http://127.0.0.1:{port}"
    values = {"TIKTOK_SECRET_KEY": "doctor-" + "k" * 40}
    for line in export_lines(build_emulator(parse(argv)), base)[:-1]:  # the last: SECRET_KEY
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = shlex.split(value)[0]
    command = [sys.executable, "-m", "tiktok_asgi.emulator", *argv, "--log-level", "warning"]
    with running(command, log=tmp_path / "emulator.log", ready=listening(port), timeout=20):
        yield base, values


def test_the_command_against_a_standalone_emulator(
    standalone: tuple[str, dict[str, str]],
) -> None:
    base, values = standalone
    command = [sys.executable, "-m", "tiktok_asgi", "doctor", "--json"]
    command += ["--app", "tests.doctor.apps:plain"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=ROOT, env=without_tiktok_settings(**values), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert report["ok"] is True
    assert statuses == {
        "settings": "pass",
        "reachable": "pass",
        "credentials": "pass",
        "authorize": "pass",
        "callback": "pass",
        "webhook": "skip",
    }
    assert "127.0.0.1" in report["checks"][1]["message"]

    wrong = without_tiktok_settings(**{**values, "TIKTOK_CLIENT_SECRET": "not-the-secret"})
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command[:-2], cwd=ROOT, env=wrong, capture_output=True, timeout=60
    )
    assert done.returncode == 1
    checks = {check["name"]: check for check in json.loads(done.stdout)["checks"]}
    assert checks["credentials"]["status"] == "fail"
    assert "sandbox key with a production secret" in checks["credentials"]["fix"]
    assert base.removeprefix("http://") in checks["reachable"]["message"]


def test_the_console_script_is_main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, _, name = project["scripts"]["tiktok-asgi"].partition(":")
    assert getattr(importlib.import_module(module), name) is main
