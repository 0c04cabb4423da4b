"""A three-node RabbitMQ cluster on this machine, for the failover test: the installed
rabbitmq-server under three node names on their own ports, joined into one cluster (its own Erlang
cookie, data and logs under the test's directory; the machine's own broker is not touched), and a
small TCP proxy in front that connects each client to the first node that answers."""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port
from tests.tcpproxy import TcpProxy

BIN = Path("/usr/lib/rabbitmq/bin")


@dataclass
class Node:
    name: str
    port: int
    dist_port: int
    dir: Path
    alive: bool = False

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"


class RabbitCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        tag = secrets.token_hex(3)
        self.nodes = [Node(f"vuxc{i}{tag}@localhost", free_port(), free_port(), root / f"n{i}") for i in range(1, size + 1)]
        (root / "plugins").write_text("[].\n")

    def _env(self, node: Node | None = None) -> dict:
        env = {**os.environ, "HOME": str(self.home)}
        if node is not None:
            node.dir.mkdir(parents=True, exist_ok=True)
            conf = node.dir / "rabbitmq.conf"
            conf.write_text(f"listeners.tcp.default = {node.port}\nloopback_users = none\n")
            env.update({"RABBITMQ_NODENAME": node.name, "RABBITMQ_NODE_PORT": str(node.port),
                        "RABBITMQ_DIST_PORT": str(node.dist_port), "RABBITMQ_MNESIA_BASE": str(node.dir / "mnesia"),
                        "RABBITMQ_LOG_BASE": str(node.dir / "log"), "RABBITMQ_PID_FILE": str(node.pid_file),
                        "RABBITMQ_CONFIG_FILE": str(conf), "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins")})
        return env

    def ctl(self, node: Node, *args: str, tool: str = "rabbitmqctl", timeout: float = 90) -> str:
        out = subprocess.run([str(BIN / tool), "-n", node.name, "-q", *args], env=self._env(), capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} on {node.name}: {out.stdout}{out.stderr}")
        return out.stdout

    def start(self) -> None:
        for node in self.nodes:
            # From its own directory: a node that fails writes its crash dump where it runs.
            subprocess.run([str(BIN / "rabbitmq-server"), "-detached"], env=self._env(node), cwd=node.dir, check=True,
                           timeout=60)
        for node in self.nodes:
            self.ctl(node, "wait", str(node.pid_file), "--timeout", "90", timeout=120)  # pid file, then the app
            node.alive = True
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
            self.ctl(node, "await_startup", "--timeout", "90", timeout=120)
        running = self.ctl(first, "cluster_status", "--formatter", "json")
        assert all(n.name in running for n in self.nodes), running

    def run_on(self, node: Node):  # noqa: ANN201
        return lambda *args: self.ctl(node, *args)

    def leader(self, queue: str, vhost: str, via: Node | None = None) -> str | None:
        """The node that leads a quorum queue now, as a live node sees it (None: no leader)."""
        via = via or next(n for n in self.nodes if n.alive)
        try:
            out = self.ctl(via, "quorum_status", queue, "--vhost", vhost, tool="rabbitmq-queues", timeout=10)
        except (RuntimeError, subprocess.TimeoutExpired):
            return None
        for line in out.splitlines():
            if re.search(r"\bleader\b", line):
                return next((n.name for n in self.nodes if n.name in line), None)
        return None

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def kill(self, node: Node) -> None:
        """kill -9: the node gets no chance to hand anything over."""
        pid = int(node.pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        node.alive = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill every node, also one that never wrote its pid file (found by its environment)."""
        names = {f"RABBITMQ_NODENAME={n.name}".encode() for n in self.nodes}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if names & set((proc / "environ").read_bytes().split(b"\0")):
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for node in self.nodes:
            node.alive = False


class FailoverProxy(TcpProxy):
    """Accepts on one port; each connection goes to the first of the nodes that accepts it."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__("127.0.0.1", ports[0])
        self.ports = ports

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for port in self.ports:
            try:
                return await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
        raise OSError(f"no node accepts a connection on {self.ports}")
