"""Redis as it is deployed, as real processes on 127.0.0.1: a Redis Cluster of three masters, and
a primary with replicas watched by a Sentinel that fails it over.

Every server runs in a directory of its own, without persistence, and is stopped by
:meth:`stop` (call it in ``finally``). Readiness and state are read with short polls, never
fixed sleeps. The caller passes the ``redis-server`` executable (``redis-cli`` is looked for
beside it).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from tests.support.processes import (
    POLL_INTERVAL,
    free_port,
    log_tail,
    start_process,
    stop_process,
    wait_until_ready,
)

SERVICE = "mymaster"
_STATE_TIMEOUT = 20.0  # seconds for a cluster, a replica or a failover to settle
SENTINEL_PERIODS_MS = {"INFO-PERIOD": 500, "PUBLISH-PERIOD": 250}  # Redis's: 10 s and 2 s


def cluster_port() -> int:
    """A free port for a cluster node: at most 55535, and its cluster bus port (10000 higher)
    free too."""
    for _ in range(100):
        port = random.randint(20000, 55535)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise AssertionError("no free port pair for a cluster node")


def redis_cli(redis_server: str) -> str:
    """``redis-cli`` beside ``redis-server`` (or on the PATH)."""
    beside = Path(redis_server).with_name("redis-cli")
    found = str(beside) if beside.exists() else shutil.which("redis-cli")
    if found is None:
        raise AssertionError("redis-cli is needed beside redis-server")
    return found


def command(port: int, *args: str, timeout: float = 2.0) -> bytes | int | list[object] | None:
    """One command to the server on ``port``, its answer parsed (RESP2); errors raise."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        sock.sendall(b"".join(parts))
        return _read(sock.makefile("rb"))


def _read(stream: BinaryIO) -> bytes | int | list[object] | None:
    line = stream.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        return stream.read(size + 2)[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read(stream) for _ in range(count)]
    raise RuntimeError(f"unexpected answer {line!r}")


def answers(port: int, *args: str) -> bytes | int | list[object] | None:
    """:func:`command`, or None while the server cannot be reached or refuses."""
    try:
        return command(port, *args, timeout=0.5)
    except (OSError, RuntimeError):
        return None


def wait_for(check: Callable[[], bool], what: str, timeout: float = _STATE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(POLL_INTERVAL)


class RedisProcess:
    """One ``redis-server`` on 127.0.0.1 with ``extra`` arguments, in its own directory."""

    def __init__(
        self, executable: str, directory: Path, extra: Sequence[str] = (), port: int | None = None
    ) -> None:
        self.executable = executable
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port() if port is None else port
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def arguments(self) -> list[str]:
        return [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            *self.extra,
        ]

    def start(self) -> None:
        assert self.process is None
        self.process = start_process(self.arguments(), log=self.log)
        try:
            wait_until_ready(
                self.process,
                lambda: answers(self.port, "PING") == b"PONG",
                log=self.log,
                timeout=10,
                name=f"redis-server :{self.port}",
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            stop_process(process)

    def info(self, section: str) -> dict[str, str]:
        text = answers(self.port, "INFO", section)
        if not isinstance(text, bytes):
            return {}
        lines = text.decode().splitlines()
        return {k: v for k, _, v in (line.partition(":") for line in lines) if _}


class RedisClusterDeployment:
    """``masters`` cluster-enabled servers joined by ``redis-cli --cluster create``, no
    replicas: the slots are spread over all of them."""

    def __init__(self, executable: str, directory: Path, masters: int = 3) -> None:
        self.cli = redis_cli(executable)
        self.directory = directory
        clustered = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.nodes = [
            RedisProcess(executable, directory / f"node{i}", clustered, cluster_port())
            for i in range(masters)
        ]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            log = self.directory / "cluster-create.log"
            with log.open("wb") as out:
                created = subprocess.run(  # noqa: S603 - arguments written here
                    [self.cli, "--cluster", "create",
                     *(f"127.0.0.1:{port}" for port in self.ports),
                     "--cluster-replicas", "0", "--cluster-yes"],
                    stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False,
                )  # fmt: skip
            if created.returncode != 0:
                raise AssertionError(f"redis-cli --cluster create failed:\n{log_tail(log)}")
            wait_for(self._ok, "the cluster's state to be ok on every node")
        except BaseException:
            self.stop()
            raise

    def _ok(self) -> bool:
        for port in self.ports:
            info = answers(port, "CLUSTER", "INFO")
            if not isinstance(info, bytes) or b"cluster_state:ok" not in info:
                return False
        return True

    def keys_on(self, port: int) -> list[bytes]:
        found = answers(port, "KEYS", "*")
        return [k for k in found if isinstance(k, bytes)] if isinstance(found, list) else []

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SentinelDeployment:
    """A primary, ``replicas`` replicas of it, and one Sentinel (quorum 1) watching them as
    ``mymaster``, with short down-after and failover timeouts."""

    def __init__(self, executable: str, directory: Path, replicas: int = 1) -> None:
        self.executable = executable
        self.directory = directory
        # A replica is sent the data at once, not after Redis's 5 s wait for more replicas.
        at_once = ["--repl-diskless-sync-delay", "0"]
        self.primary = RedisProcess(executable, directory / "primary", at_once)
        self.replicas = [
            RedisProcess(
                executable,
                directory / f"replica{i}",
                [*at_once, "--replicaof", "127.0.0.1", str(self.primary.port)],
            )
            for i in range(replicas)
        ]
        self.sentinel_port = free_port()
        self.sentinel_dir = directory / "sentinel"
        self.sentinel_process: subprocess.Popen[bytes] | None = None

    @property
    def servers(self) -> list[RedisProcess]:
        return [self.primary, *self.replicas]

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.sentinel_port)]

    def start(self) -> None:
        try:
            self.primary.start()
            for replica in self.replicas:
                replica.start()
            wait_for(self._replicas_online, "the replicas to be in sync")
            self._start_sentinel()
            wait_for(self._sentinel_sees_replicas, "the sentinel to know every replica")
        except BaseException:
            self.stop()
            raise

    def _start_sentinel(self) -> None:
        self.sentinel_dir.mkdir(parents=True, exist_ok=True)
        config = self.sentinel_dir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.sentinel_dir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 2\n",
            encoding="utf-8",
        )
        log = self.sentinel_dir / "sentinel.log"
        self.sentinel_process = start_process([self.executable, str(config), "--sentinel"], log=log)
        wait_until_ready(
            self.sentinel_process,
            lambda: answers(self.sentinel_port, "PING") == b"PONG",
            log=log,
            timeout=10,
            name="redis-sentinel",
        )
        # Sentinel demotes an old primary once it has reported itself a primary for four
        # publish periods (8 s by default) and read its INFO again (every 10 s): Redis 7's
        # SENTINEL DEBUG shortens both. An older Redis refuses it and keeps its own periods.
        for period, ms in SENTINEL_PERIODS_MS.items():
            answers(self.sentinel_port, "SENTINEL", "DEBUG", period, str(ms))

    def _replicas_online(self) -> bool:
        info = self.primary.info("replication")
        return info.get("connected_slaves") == str(len(self.replicas)) and all(
            r.info("replication").get("master_link_status") == "up" for r in self.replicas
        )

    def _sentinel_sees_replicas(self) -> bool:
        found = answers(self.sentinel_port, "SENTINEL", "REPLICAS", SERVICE)
        if not isinstance(found, list) or len(found) != len(self.replicas):
            return False
        for entry in found:
            assert isinstance(entry, list)
            fields = dict(zip(entry[::2], entry[1::2], strict=True))
            if fields.get(b"flags") != b"slave" or fields.get(b"master-link-status") != b"ok":
                return False
        return True

    def primary_port(self) -> int | None:
        """The primary's port as the sentinel tells it."""
        found = answers(self.sentinel_port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        if isinstance(found, list) and len(found) == 2 and isinstance(found[1], bytes):
            return int(found[1])
        return None

    def failover(self) -> int:
        """``SENTINEL FAILOVER``, returned as soon as it is under way; the old primary's port."""
        old = self.primary_port()
        assert old is not None
        command(self.sentinel_port, "SENTINEL", "FAILOVER", SERVICE)
        return old

    def wait_for_new_primary(self, old: int) -> int:
        """Until the sentinel names another primary; its port."""
        wait_for(lambda: self.primary_port() not in (None, old), "the failover")
        port = self.primary_port()
        assert port is not None
        return port

    def wait_for_replicas(self, timeout: float = _STATE_TIMEOUT) -> None:
        """Until the primary the sentinel names has all the others as replicas, in sync (after
        a failover: until Sentinel has demoted the old primary and it has caught up)."""

        def settled() -> bool:
            port = self.primary_port()
            primary = next((s for s in self.servers if s.port == port), None)
            if primary is None:
                return False
            info = primary.info("replication")
            online = [v for k, v in info.items() if k.startswith("slave") and "online" in v]
            return info.get("role") == "master" and len(online) == len(self.replicas)

        wait_for(settled, "every replica to follow the new primary", timeout)

    def stop(self) -> None:
        if self.sentinel_process is not None:
            process, self.sentinel_process = self.sentinel_process, None
            stop_process(process)
        for server in self.servers:
            server.stop()
