"""Servers in subprocesses on a free loopback port: start, wait until ready, always stop.

A server writes its standard output and error to one log file; when it exits before it is
ready, or is not ready in time, the error carries the end of that log.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

Check = Callable[[], bool]

START_TIMEOUT = 30.0  # seconds for a server to become ready
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM, then again after SIGKILL
POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 40


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int, host: str = "127.0.0.1") -> Check:
    """Ready once a TCP connection to ``host:port`` is accepted."""

    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def answering(url: str) -> Check:
    """Ready once ``GET url`` answers 200 (straight to the server, never through a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def check() -> bool:
        try:
            with opener.open(url, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, http.client.HTTPException):
            return False

    return check


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``log``, or a note that there is none."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:]) or f"({log} is empty)"


def start_process(
    command: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    pin_to: Collection[int] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` (no shell) with its output and errors appended to ``log``; ``pin_to``
    restricts it to those CPUs."""
    cpus = None if pin_to is None else set(pin_to)
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - argument lists written by the tests
            list(command),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
        )


def wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: Check,
    *,
    log: Path,
    timeout: float = START_TIMEOUT,
    name: str = "the server",
) -> None:
    """Return once ``ready()`` is true; raise if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(
                f"{name} exited with {process.returncode} before it was ready; "
                f"the end of {log}:\n{log_tail(log)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{name} was not ready within {timeout:g} s; the end of {log}:\n{log_tail(log)}"
            )
        time.sleep(POLL_INTERVAL)


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait up to ``timeout``; then SIGKILL and wait again. Nothing if it has exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextmanager
def running(
    command: Sequence[str],
    *,
    log: Path,
    ready: Check,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    name: str = "the server",
    pin_to: Collection[int] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``ready``, yield the process; always stop it afterwards."""
    process = start_process(command, log=log, env=env, cwd=cwd, pin_to=pin_to)
    try:
        wait_until_ready(process, ready, log=log, timeout=timeout, name=name)
        yield process
    finally:
        stop_process(process)


def without_tiktok_settings(**extra: str) -> dict[str, str]:
    """This process's environment minus every ``TIKTOK_*`` variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    env.update(extra)
    return env
