"""Server level: uvicorn on 127.0.0.1 in a separate process, loaded by ``wrk``.

Each configuration is loaded for a fixed, short duration over several interleaved rounds. Two
figures per configuration, each a median over rounds:

- requests per second as ``wrk`` sees them (wall clock);
- requests per CPU-second of the server process (its user + system time from ``/proc``, read
  around each load): the server's capacity, far less disturbed by other processes on a shared
  machine than the wall clock. The server is CPU-bound under this load, so both measure the same
  thing when the machine is quiet.

With two CPUs or more, every server runs on one CPU and wrk on another.

Ratios are to the bare application under the same request headers, taken per round.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import stacks

HERE = Path(__file__).resolve().parent
# The repository root, for the helpers the benchmarks share with the tests.
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))

from tests.support.processes import free_port, listening, running  # noqa: E402

# (configuration, stack served, headers sent)
CONFIGS = (
    ("bare", "bare", "anonymous"),
    ("anonymous", "anonymous", "anonymous"),
    ("bare_with_cookie", "bare", "signed_in"),
    ("signed_in", "signed_in", "signed_in"),
)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in")
_TICK = os.sysconf("SC_CLK_TCK")
_ERRORS = re.compile(r"(Non-2xx or 3xx responses|Socket errors):.*")


def _cpus() -> tuple[set[int], set[int]]:
    """CPUs for the servers and for wrk: one each when there are two or more, so that neither
    the scheduler's placement nor wrk competing with a server differs from stack to stack."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, {cpus[1]}


SERVER_CPUS, WRK_CPUS = _cpus()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@contextlib.contextmanager
def serving(names: tuple[str, ...]) -> Iterator[tuple[dict[str, int], int]]:
    """One uvicorn process serving every stack in ``names``: ``({stack: port}, pid)``."""
    ports = {name: free_port() for name in names}
    command = [sys.executable, str(HERE / "serve.py"), *(f"{n}:{p}" for n, p in ports.items())]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        # Ready once every port listens (each check runs after the previous one succeeded).
        checks = [listening(port) for port in ports.values()]
        with running(
            command,
            log=log,
            ready=lambda: all(check() for check in checks),
            timeout=15,
            name="the benchmark server",
            pin_to=SERVER_CPUS,
        ) as proc:
            yield ports, proc.pid


def wrk(
    port: int, headers: list[tuple[bytes, bytes]], seconds: int, connections: int
) -> tuple[float, int]:
    """Requests per second and the number of requests completed."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for key, value in headers:
        if key not in (b"host", b"connection"):
            args += ["-H", f"{key.decode()}: {value.decode('latin-1')}"]
    args.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(  # noqa: S603
        args,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, WRK_CPUS),
    ).stdout
    errors = _ERRORS.search(out)
    if errors:
        raise RuntimeError(f"wrk reported {errors.group(0)!r}")
    rps, total = _RPS.search(out), _TOTAL.search(out)
    if rps is None or total is None:
        raise RuntimeError(f"unexpected output from wrk:\n{out}")
    return float(rps.group(1)), int(total.group(1))


def load(
    server: tuple[int, int], headers: list[tuple[bytes, bytes]], seconds: int, connections: int
) -> tuple[float, float]:
    """Requests per wall-clock second, and per CPU-second of the server process."""
    port, pid = server
    before = cpu_seconds(pid)
    rps, total = wrk(port, headers, seconds, connections)
    return rps, total / (cpu_seconds(pid) - before)


def run(rounds: int = 10, seconds: int = 2, connections: int = 16) -> dict[str, float]:
    """Per configuration ``<name>`` (requests/s) and ``<name>_cpu`` (requests/CPU-s), and
    ``anonymous_ratio``, ``signed_in_ratio`` and their ``_cpu`` twins, against bare."""
    if shutil.which("wrk") is None:
        print("server level skipped: wrk is not installed (Debian: apt-get install wrk)")
        return _unmeasured()
    headers = {name: stacks.headers_for(name) for name in ("anonymous", "signed_in")}
    wall: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
    with serving(("bare", "anonymous", "signed_in")) as (ports, pid):
        servers = {name: (port, pid) for name, port in ports.items()}
        for _, served, sent in CONFIGS:
            load(servers[served], headers[sent], 2, connections)  # warm-up
        for r in range(rounds):
            order = CONFIGS[r % len(CONFIGS) :] + CONFIGS[: r % len(CONFIGS)]
            for name, served, sent in order:
                rps, per_cpu = load(servers[served], headers[sent], seconds, connections)
                wall[name].append(rps)
                cpu[name].append(per_cpu)
    out: dict[str, float] = {}
    for name in wall:
        out[name] = statistics.median(wall[name])
        out[f"{name}_cpu"] = statistics.median(cpu[name])
    for ours, bare in (("anonymous", "bare"), ("signed_in", "bare_with_cookie")):
        out[f"{ours}_ratio"] = _paired_ratio(wall[ours], wall[bare])
        out[f"{ours}_ratio_cpu"] = _paired_ratio(cpu[ours], cpu[bare])
    return out


def _unmeasured() -> dict[str, float]:
    """The figures of :func:`run`, every one NaN (shown as ``nan``; no budget is met)."""
    names = [name for name, _, _ in CONFIGS] + ["anonymous_ratio", "signed_in_ratio"]
    return {key: math.nan for name in names for key in (name, f"{name}_cpu")}


def _paired_ratio(ours: list[float], bare: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, bare, strict=True))


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:18s} {value:10.3f}")
