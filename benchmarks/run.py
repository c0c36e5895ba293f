"""Every benchmark in one run, a table with the budgets, and ``benchmarks/results.md``.

    python benchmarks/run.py            # or: nox -s bench
    python benchmarks/run.py --quick    # fewer rounds, shorter loads (a smoke test)

Nothing here contacts another host: servers bind 127.0.0.1 on free ports and every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import callback
import inprocess
import live
import server
import server_live
import signin_floor
import slow_redis

HERE = Path(__file__).resolve().parent
LABELS = {
    "bare": "(1) bare Starlette app",
    "anonymous": "(2) TikTokAuthMiddleware, anonymous",
    "signed_in": "(3) TikTokAuthMiddleware, signed in",
    "session_auth": "(4) SessionMiddleware (user id) + AuthenticationMiddleware, signed in",
    "noop": "(5) no-op pure-ASGI middleware",
}
SERVER_LABELS = ("bare", "anonymous", "bare_with_cookie", "signed_in")


@dataclass
class Row:
    measure: str
    figure: str
    budget: str
    met: bool


class Figures(NamedTuple):
    """Every measurement of a run, as the budgets and the report read them."""

    inproc: dict[str, dict[str, dict[str, float]]]
    many: list[dict[str, float]]
    cb: dict[str, float]
    conns: dict[str, int]
    srv: dict[str, float]
    mem: dict[str, Any]


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("starlette", "authlib", "httpx2", "uvicorn")
    )
    return (
        f"{os.cpu_count()} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), {cpu}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); {versions}"
    )


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


def memory(requests: int) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603
        [sys.executable, str(HERE / "memory.py"), str(requests)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def stack_table(figures: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    lines = [
        "| Stack | µs/request (Starlette app) | overhead over bare | × bare "
        "| µs/request (trivial endpoint) | overhead over bare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in LABELS.items():
        s, t = figures["starlette"][name], figures["trivial"][name]
        lines.append(
            f"| {label} | {s['us']:.2f} | {s['over_bare']:+.2f} | {s['ratio']:.2f} "
            f"| {t['us']:.2f} | {t['over_bare']:+.2f} |"
        )
    return lines


def many_users_table(rows: list[dict[str, float]]) -> list[str]:
    lines = [
        "| Distinct users, round-robin | (3) signed in: overhead over bare "
        "| (4) Session (user id) + Authentication: overhead over bare | (3) / (4) "
        "| identity cookies held in the cache (memory counted) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['users']:,} | {r['tiktok']:+.2f} µs | {r['session_auth']:+.2f} µs "
            f"| {r['tiktok'] / r['session_auth']:.3f} | {r['cached']:,.0f} "
            f"({r['cache_kib']:,.0f} KiB) |"
        )
    return lines


def crowd_rows(many: list[dict[str, float]], mem: dict[str, Any]) -> list[Row]:
    """The budgets of many signed-in users: per-request cost beside Session + Authentication,
    and memory per user."""
    rows = []
    for users in (12_000, 100_000):
        crowd = next(r for r in many if r["users"] == users)
        ratio = crowd["tiktok"] / crowd["session_auth"]
        rows.append(
            Row(
                f"{users:,} users' cookies in turn (TikTok-sized: 3 avatar URLs of "
                f"~{crowd['avatar_url_length']:.0f} characters): signed-in overhead / stack "
                "(4)'s overhead",
                f"{crowd['tiktok']:.2f} / {crowd['session_auth']:.2f} µs = {ratio:.3f}",
                "≤ 0.5",
                ratio <= 0.5,
            )
        )
    for figure in mem["per_user"]:
        per_user = figure["bytes_per_user"]
        rows.append(
            Row(
                f"Memory per signed-in user, {figure['users']:,} users (MemoryTokenStore + "
                "caches, RSS)",
                f"{per_user:,.0f} bytes",
                "≤ 1,024 bytes",
                per_user <= 1024,
            )
        )
    return rows


def budget_rows(figures: Figures) -> list[Row]:
    inproc, many, cb, conns, srv, mem = figures
    t = inproc["trivial"]
    anon = t["anonymous"]["over_noop"]
    signed = t["signed_in"]["over_bare"]
    theirs = t["session_auth"]["over_bare"]
    beyond = cb["beyond_emulator_us"]
    growth = mem["one_user_kib"]
    return [
        Row("Anonymous request: overhead over the no-op middleware", f"{anon:.2f} µs",
            "≤ 1 µs", anon <= 1.0),
        Row("Signed-in request: overhead over bare", f"{signed:.2f} µs", "≤ 8 µs", signed <= 8.0),
        Row("Signed-in overhead / stack (4)'s overhead",
            f"{signed:.2f} / {theirs:.2f} µs = {signed / theirs:.3f}", "≤ 0.25",
            signed <= theirs / 4),
        *crowd_rows(many, mem),
        Row("Sign-in (login answer + callback, beyond TikTok's share) / its floor",
            f"{cb['floor_middleware_us']:.0f} / {cb['floor_floor_us']:.0f} µs = "
            f"{cb['floor_ratio']:.2f}", "≤ 1.7", cb["floor_ratio"] <= 1.7),
        Row("Callback: time beyond the emulator's own handling",
            f"{beyond:.0f} µs (callback {cb['callback_us']:.0f} µs, emulator "
            f"{cb['emulator_us']:.0f} µs)", "≤ 1000 µs", beyond <= 1000),
        Row(f"Connections to TikTok, {conns['sequential']} sequential sign-ins",
            str(conns["sequential_connections"]), "1 (one host)",
            conns["sequential_connections"] == 1),
        Row(f"Connections to TikTok, {conns['bursts']} bursts of {conns['concurrent']} "
            "concurrent sign-ins", str(conns["concurrent_connections"]),
            f"≤ {min(conns['concurrent'], conns['pool_size'])} (concurrency, pool "
            f"{conns['pool_size']})",
            conns["concurrent_connections"] <= min(conns["concurrent"], conns["pool_size"])),
        Row("Server throughput, anonymous / bare",
            f"{srv['anonymous_ratio_cpu']:.3f} per CPU-second; wall clock "
            f"{srv['anonymous_ratio']:.3f}", "≥ 0.97", srv["anonymous_ratio_cpu"] >= 0.97),
        Row("Server throughput, signed in / bare",
            f"{srv['signed_in_ratio_cpu']:.3f} per CPU-second; wall clock "
            f"{srv['signed_in_ratio']:.3f}", "≥ 0.90", srv["signed_in_ratio_cpu"] >= 0.90),
        Row(f"RSS growth over {mem['requests']:,} signed-in requests", f"{growth} KiB",
            "≤ 1024 KiB", growth <= 1024),
    ]  # fmt: skip


def live_rows(figures: dict[str, Any]) -> list[Row]:
    """The live-session budgets (:mod:`live`, :mod:`server_live`)."""
    rows = [Row(*row) for row in live.budgets(figures)]
    served = figures.get("server")
    if served:
        ratio, cpu = served["redis_live_ratio"], served["redis_live_ratio_cpu"]
        rows.append(Row(
            f"uvicorn + wrk, {served['users']:,} users in turn, Redis live sessions: "
            "requests/s vs bare", f"{ratio:.3f} (per CPU-second {cpu:.3f}; stateless "
            f"{served['signed_in_ratio']:.3f})", "≥ 0.75", min(ratio, cpu) >= 0.75,
        ))  # fmt: skip
    slow = figures.get("slow_redis")
    if slow:
        warm, before = slow[slow_redis.CONFIGURATIONS[1][0]], slow[slow_redis.CONFIGURATIONS[0][0]]
        share = warm["errors"] / max(1, warm["answers"])
        rows.append(Row(
            f"Redis +{slow['delay_ms']:.0f} ms each way, {slow['instances']} instances, steady "
            "load (sign-ins and token reads): answers that are errors",
            f"{100 * share:.1f} % of {warm['answers']} (the client built before the warm pool: "
            f"{100 * before['errors'] / max(1, before['answers']):.0f} % of {before['answers']})",
            "≤ 1 %", share <= 0.01,
        ))  # fmt: skip
    return rows


def live_section(figures: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The live-session table: the login session checked on every signed-in request."""
    fresh = sorted(figures["freshness_s"])
    rotating = figures["rotating"]
    served = figures.get("server") or {}
    lines = [
        "## Live login sessions",
        "",
        "With a token store, every signed-in request checks that its login session still "
        "exists: MemoryTokenStore answers in the process; RedisTokenStore (a redis-server "
        "started by the benchmark on 127.0.0.1) pushes every end of a session to every "
        "instance through a Redis stream, and an instance that follows it answers in the "
        "process. Measured around the trivial endpoint in one run with bare and Session + "
        f"Authentication ({args.rounds} interleaved rounds of {2 * args.requests:,} requests, "
        "medians of the thread's CPU time; the Redis row's wall clock includes any round trip).",
        "",
        *live.table(figures),
        "",
        f"{live.ROTATING_USERS:,} users in turn, with live sessions on Redis and none answered "
        "by the fallback cache (as if each came back after more than a second), against the "
        f"same number of stateless cookies: {rotating['redis']:+.2f} µs against "
        f"{rotating['stateless']:+.2f} µs over bare; questions to Redis per request "
        f"{rotating['asked_per_request']:.4f} (a busy loop that starves the feed's reader for "
        "0.75 s falls back to asking, by design).",
        "",
        f"A sign-out on one instance, then a request every millisecond on another sharing "
        f"Redis ({len(fresh)} trials): anonymous after a median of "
        f"{fresh[len(fresh) // 2] * 1000:.1f} ms, worst {fresh[-1] * 1000:.1f} ms. With that "
        "instance's feed cut (it falls back to asking Redis through its 0.9 s cache): worst "
        f"{max(figures['cut_s']) * 1000:.0f} ms.",
        "",
    ]
    if served:
        lines += [
            f"uvicorn in its own process on one CPU, loaded by `wrk` on another, each request "
            f"carrying the next of {served['users']:,} users' cookies (a Lua script): bare "
            f"{served['bare']:.0f} requests/s, stateless signed in {served['signed_in']:.0f}, "
            f"Redis live sessions {served['redis_live']:.0f} (per CPU-second: "
            f"{served['bare_cpu']:.0f}, {served['signed_in_cpu']:.0f}, "
            f"{served['redis_live_cpu']:.0f}).",
            "",
        ]
    return lines


def budget_table(rows: list[Row]) -> list[str]:
    lines = ["| Measure | Figure | Budget | Met |", "|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.figure} | {r.budget} | {'yes' if r.met else '**no**'} |"
              for r in rows]  # fmt: skip
    return lines


def report(
    args: argparse.Namespace,
    figures: Figures,
    seconds: float,
    loads: tuple[str, str],
    live_figures: dict[str, Any],
) -> str:
    inproc, many, cb, conns, srv, mem = figures
    rows = budget_rows(figures) + live_rows(live_figures)
    parts = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}. Run of {time.strftime('%Y-%m-%d')}, {seconds:.0f} s"
        f"{' (--quick)' if args.quick else ''}, load average {loads[0]} at the start and "
        f"{loads[1]} at the end (the machine is shared: other processes slow every figure); "
        "produced by `nox -s bench`.",
        "",
        "## Budgets",
        "",
        *budget_table(rows),
        "",
        "## Per-request cost, in process",
        "",
        f"The ASGI application is called directly ({args.requests:,} requests per stack and "
        f"round around the Starlette app, {2 * args.requests:,} around the trivial endpoint, "
        f"after a warm-up; {args.rounds} interleaved rounds, medians of the thread's CPU time; "
        "overheads are "
        "medians of per-round differences). The same stacks are measured twice: around a "
        "Starlette application with one route, and around a trivial ASGI endpoint, where the "
        "middleware's own cost is not hidden in the noise of the framework. The budgets use "
        "the trivial-endpoint figures. Requests carry a browser's headers and four unrelated "
        "cookies.",
        "",
        *stack_table(inproc),
        "",
        "## Many users, in process",
        "",
        "Signed-in requests carrying the valid cookies of many distinct users in turn "
        "(round-robin, continuing from round to round), around the trivial endpoint: "
        "TikTokAuthMiddleware and Starlette's Session + Authentication stack (the session holds "
        "only the user's id; its backend builds the user from it), each beside a bare app fed "
        "the same requests, with stacks of their own for each number of users. Profiles are "
        "TikTok-sized: three avatar URLs of "
        f"~{many[0]['avatar_url_length']:.0f} characters each, distinct for each user, as "
        "TikTok's signed CDN URLs are. The cookies are built before anything is timed "
        f"({many[0]['cookie_bytes']:.0f}-byte identity cookies, format v3); the middleware "
        "first goes through every cookie once, so its cache is as full as that many users keep "
        f"it. {args.many_rounds} interleaved rounds of {args.many_requests:,} requests, medians "
        "of per-round differences of the thread's CPU time. The verified-cookie cache keeps "
        "1 MiB of memory (cookie text and decoded users, counted as tracemalloc sees them); "
        "when full it keeps the users who come back rather than churning, so users it holds "
        "cost a lookup and the others are verified on each request.",
        "",
        *many_users_table(many),
        "",
        *live_section(live_figures, args),
        "## Sign-in",
        "",
        f"In process, {cb['sign_ins']:.0f} sign-ins against the emulator's in-process "
        f"transport: login answer {cb['login_us']:.0f} µs, callback {cb['callback_us']:.0f} µs "
        f"of which {cb['emulator_us']:.0f} µs inside the emulator (token and user-info "
        "requests, timed at the transport).",
        "",
        "Against its floor (`benchmarks/signin_floor.py`): the least work any correct sign-in "
        "does — a state and PKCE pair, the authorize URL and one signed flow cookie; then the "
        "flow cookie checked, the token POST and user-info GET through one reused httpx2 "
        "client, one signed identity cookie — written by hand, against the same emulator, "
        "in interleaved rounds, TikTok's share subtracted on both sides: middleware "
        f"{cb['floor_middleware_us']:.0f} µs, floor {cb['floor_floor_us']:.0f} µs, "
        f"{cb['floor_ratio']:.2f}×.",
        "",
        "Over loopback (emulator on uvicorn at 127.0.0.1 behind a proxy counting accepted "
        f"connections; the middleware's own pooled transport): {conns['sequential']} "
        f"sequential sign-ins opened {conns['sequential_connections']} connection(s); "
        f"{conns['bursts']} bursts of {conns['concurrent']} concurrent sign-ins opened "
        f"{conns['concurrent_connections']}.",
        "",
        "## Server level",
        "",
        f"uvicorn (asyncio, h11, no access log) on 127.0.0.1, every stack on its own port in "
        "one server process (so process-to-process differences cancel), loaded by "
        f"`wrk -t1 -c{args.connections} -d{args.seconds}s` from another process; "
        f"{args.server_rounds} interleaved rounds, medians. Requests per second as wrk saw "
        "them, and requests per CPU-second of the server process (user + system time from "
        "/proc around each load). The budgets use the second: the server is CPU-bound under "
        "this load, and its CPU time is far less disturbed than the wall clock by other "
        "processes sharing the machine. Ratios are taken per round, then the median.",
        "",
        "| Configuration | requests/s | requests/CPU-s |",
        "|---|---:|---:|",
        *(f"| {name} | {srv[name]:.0f} | {srv[name + '_cpu']:.0f} |" for name in SERVER_LABELS),
        "",
        "## Memory",
        "",
        f"RSS growth after a warm-up, in a fresh process: {mem['requests']:,} requests with one "
        f"identity cookie: {mem['one_user_kib']} KiB; {mem['many_users_requests']:,} requests "
        f"rotating over {mem['distinct_users']:,} users' cookies (more than the verified-cookie "
        f"cache holds): {mem['many_users_kib']} KiB.",
        "",
        "Memory per signed-in user: users sign in (a login session in a MemoryTokenStore with "
        "TikTok-sized tokens, an identity cookie with TikTok-sized avatar URLs) and make a "
        "request each, in a fresh process for each count; growth divided by the number of "
        "users. RSS: "
        + ", ".join(
            f"{f['users']:,} users {f['bytes_per_user']:,.0f} bytes" for f in mem["per_user"]
        )
        + f". tracemalloc (Python's own allocations), {mem['per_user_traced']['users']:,} "
        f"users: {mem['per_user_traced']['bytes_per_user']:,.0f} bytes, of which the "
        f"verified-cookie cache {mem['per_user_traced']['cache_bytes'] / 1024:,.0f} KiB in all "
        f"({mem['per_user_traced']['cache_entries']:,.0f} users). A sign-in's state adds "
        f"{mem['state_bytes']:,.0f} bytes until it expires (`flow_max_age`, 10 minutes).",
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--no-write", action="store_true", help="do not write results.md")
    args = parser.parse_args()
    args.rounds, args.requests = (5, 500) if args.quick else (40, 1000)
    args.server_rounds, args.seconds = (1, 1) if args.quick else (10, 2)
    args.many_rounds, args.many_requests = (3, 500) if args.quick else (40, 2000)
    args.connections = 16
    started, load_at_start = time.monotonic(), load_average()

    print("in-process driver ...", flush=True)
    inproc = inprocess.run(rounds=args.rounds, requests=args.requests, warmup=args.requests // 2)
    print("many users ...", flush=True)
    many = inprocess.many_users(rounds=args.many_rounds, requests=args.many_requests)
    print("sign-in path ...", flush=True)
    cb = callback.in_process(sign_ins=30 if args.quick else 300)
    print("sign-in against its floor ...", flush=True)
    floor = signin_floor.run(rounds=2 if args.quick else 6, sign_ins=30 if args.quick else 100)
    cb = {**cb, **{f"floor_{k}": v for k, v in floor.items()}}
    conns = callback.connections()
    print("server level (wrk) ...", flush=True)
    srv = server.run(rounds=args.server_rounds, seconds=args.seconds, connections=args.connections)
    print("memory ...", flush=True)
    mem = memory(10_000 if args.quick else 100_000)
    print("live login sessions (redis-server) ...", flush=True)
    live_figures = live.run(rounds=args.rounds, requests=2 * args.requests)
    print("a Redis 300 ms away ...", flush=True)
    live_figures["slow_redis"] = slow_redis.run()
    print("live login sessions under uvicorn + wrk ...", flush=True)
    live_figures["server"] = server_live.run(
        rounds=2 if args.quick else 6, seconds=1 if args.quick else 3
    )

    loads = (load_at_start, load_average())
    figures = Figures(inproc, many, cb, conns, srv, mem)
    text = report(args, figures, time.monotonic() - started, loads, live_figures)
    print()
    print(text)
    if not args.no_write and not args.quick:
        (HERE / "results.md").write_text(text, encoding="utf-8")
        print(f"written to {HERE / 'results.md'}")


if __name__ == "__main__":
    main()
