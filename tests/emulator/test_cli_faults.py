"""The command line arms every fault, sets the webhook redelivery schedule and can make the
first webhook deliveries fail; the standalone server redelivers in the background."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, get_args

import httpx2
import pytest
import uvicorn
from tests.emulator.helpers import TOKEN, USERINFO
from tests.emulator.test_webhook_retries import Receiver, verifies
from tests.support.processes import free_port, listening, running, stop_process
from tests.support.serving import serving

from tiktok_asgi.emulator import Fault, FaultKind, TikTokEmulator
from tiktok_asgi.emulator.__main__ import build_emulator, fault_spec, main, parse


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("userinfo:latency=1.5", Fault.latency(1.5)),
        ("token:status=503", Fault.status(503)),
        ("token:timeout", Fault.timeout()),
        ("token:timeout=3", Fault.timeout(3)),
        ("token:malformed_json", Fault.malformed_json()),
        ("token:malformed_json=500", Fault.malformed_json(500)),
        ("authorize:html_error_page", Fault.html_error_page()),
        ("authorize:html_error_page=503", Fault.html_error_page(503)),
        ("revoke:empty_body", Fault.empty_body()),
        ("revoke:empty_body=502", Fault.empty_body(502)),
        ("token:error_body", Fault.error_body()),
        ("token:error_body=invalid_client", Fault.error_body("invalid_client")),
        ("video_list:error_body=invalid_params/400", Fault.error_body("invalid_params", 400)),
        ("userinfo:rate_limited", Fault.rate_limited()),
        ("userinfo:rate_limited=9", Fault.rate_limited(9)),
        ("userinfo:rate-limited=9", Fault.rate_limited(9)),
        ("token:connection_refused", Fault.connection_refused()),
    ],
)
def test_every_fault_kind_is_spelled_on_the_command_line(spec: str, fault: Fault) -> None:
    parsed = fault_spec(spec)
    assert parsed.endpoint == spec.split(":")[0]
    assert parsed.fault == fault
    assert parsed.times == 1


def test_help_lists_every_fault_kind_and_the_webhook_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for kind in get_args(FaultKind):
        assert f"\n  {kind}" in out, kind
    for flag in (
        "--fault ENDPOINT:KIND[=VALUE][@TIMES]",
        "--webhook-retry-base SECONDS",
        "--webhook-retry-cap SECONDS",
        "--webhook-retry-horizon SECONDS",
        "--webhook-fail-first N",
    ):
        assert flag in out
    assert "(default 259200, 72 hours" in out


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("nowhere:status=503", "ENDPOINT one of authorize, token"),
        ("token", "expected ENDPOINT:KIND"),
        ("token:bogus", "unknown fault 'bogus'"),
        ("token:status", "status needs =CODE"),
        ("token:latency", "latency needs =SECONDS"),
        ("token:status=abc", "not a whole number"),
        ("token:latency=soon", "not a number"),
        ("token:status=99", "between 100 and 599"),
        ("token:latency=-1", "must not be negative"),
        ("token:rate_limited=-1", "must not be negative"),
        ("token:connection_refused=1", "takes no value"),
        ("token:status=503@0", "TIMES is a positive count"),
        ("token:status=503@often", "TIMES is a positive count"),
    ],
)
def test_a_wrong_fault_exits_with_the_reason(
    spec: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["--fault", spec])
    assert exited.value.code == 2
    assert reason in capsys.readouterr().err


async def test_faults_from_the_command_line_answer_in_order_and_count_down() -> None:
    emu = build_emulator(
        parse(
            [
                "--fault", "token:status=503@2",
                "--fault", "token:html_error_page",
                "--fault", "userinfo:rate_limited=7@always",
            ]
        )
    )  # fmt: skip
    async with httpx2.AsyncClient(transport=emu.transport()) as client:
        answers = [await client.post(TOKEN, data={"code": "x"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [503, 503, 502, 200]
        assert answers[3].json()["error"] == "invalid_client"  # the real endpoint again
        for _ in range(3):
            limited = await client.get(USERINFO, params={"fields": "open_id"})
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "7"
        emu.clear_faults()
        after = await client.get(USERINFO, params={"fields": "open_id"})
        assert after.status_code == 401


def test_webhook_flags_set_the_schedule() -> None:
    emu = build_emulator(parse([]))
    config = emu._core.config
    assert (config.webhook_retry_base, config.webhook_retry_cap) == (1.0, 3600.0)
    assert config.webhook_retry_horizon == 72 * 3600
    emu = build_emulator(
        parse(
            [
                "--webhook-retry-base", "0.5", "--webhook-retry-cap", "60",
                "--webhook-retry-horizon", "600",
            ]
        )
    )  # fmt: skip
    config = emu._core.config
    assert (config.webhook_retry_base, config.webhook_retry_cap) == (0.5, 60.0)
    assert config.webhook_retry_horizon == 600.0


async def test_webhook_fail_first_fails_that_many_attempts() -> None:
    emu = build_emulator(parse(["--webhook-fail-first", "2"]))
    receiver = Receiver()
    emu.register_webhook("https://testserver/hook", transport=httpx2.ASGITransport(app=receiver))
    assert await emu.remove_app("mayacooks") is None
    assert [a.error for a in emu.webhook_attempts] == ["injected"]
    assert receiver.received == []


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--webhook-retry-base", "0"], "webhook_retry_base must be a positive"),
        (["--webhook-retry-base", "10", "--webhook-retry-cap", "5"], "webhook_retry_cap"),
    ],
)
def test_an_inconsistent_schedule_exits_with_the_reason(argv: list[str], reason: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert reason in str(exited.value.code)


@pytest.mark.parametrize(
    "argv",
    [
        ["--webhook-retry-horizon", "-1"],
        ["--webhook-retry-base", "soon"],
        ["--webhook-fail-first", "-1"],
    ],
)
def test_a_wrong_webhook_number_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2


def test_the_banner_shows_the_schedule_and_the_faults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    main(
        [
            "--webhook-retry-base", "2", "--webhook-fail-first", "3",
            "--fault", "token:status=503@2", "--fault", "userinfo:latency=1.5@always",
            "--fault", "revoke:error_body=invalid_request",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "webhook retries: after 2 s, doubling up to 3600 s, for 259200 s" in out
    assert "webhook attempts failing at TikTok: the first 3" in out
    assert "fault:         token status, HTTP 503 (2x)" in out
    assert "fault:         userinfo latency 1.5 s (every request)" in out
    assert "fault:         revoke error_body invalid_request, HTTP 200 (1x)" in out
    assert isinstance(served[0], TikTokEmulator)


async def test_the_standalone_server_redelivers_in_the_background(tmp_path: Path) -> None:
    receiver = Receiver()
    async with serving(receiver) as origin:
        port = free_port()
        command = [
            sys.executable, "-m", "tiktok_asgi.emulator", "--host", "127.0.0.1",
            "--port", str(port), "--client-secret", "local-secret", "--no-rate-limit",
            "--webhook-url", f"{origin}/hook", "--webhook-retry-base", "0.05",
            "--webhook-fail-first", "2", "--fault", "token:status=503",
            "--log-level", "warning",
        ]  # fmt: skip
        log = tmp_path / "emulator.log"
        with running(command, log=log, ready=listening(port), timeout=20) as process:
            base = f"http://127.0.0.1:{port}"
            async with httpx2.AsyncClient(base_url=base, trust_env=False, timeout=10) as client:
                removed = await client.post("/apps/remove", data={"user": "mayacooks"})
                assert "delivered=failed" in removed.headers["location"]
                # Real time: two failed attempts, then one 0.05 + 0.1 s later.
                for _ in range(200):  # bounded: 10 s
                    if receiver.received:
                        break
                    await asyncio.sleep(0.05)
                assert (await client.post("/v2/oauth/token/", data={})).status_code == 503
                # An event still being redelivered does not hold up the shutdown.
                receiver.then = 500
                removed = await client.post("/apps/remove", data={"user": "leo.skates"})
                assert "delivered=500" in removed.headers["location"]
            stop_process(process, timeout=5)
            assert process.returncode != -signal.SIGKILL
    (body, signature), *_ = receiver.received
    assert verifies("local-secret", body, signature)
    assert b"mayacooks" not in body  # the open_id, not the username
    out = log.read_text(encoding="utf-8")
    assert "webhook retries: after 0.05 s, doubling up to 3600 s, for 259200 s" in out
    assert "Traceback" not in out
