"""The services as real processes (`python -m services.NAME`, as `make run` starts them), for tests
that need several replicas, kill -9, or a whole system: each run gets its own exchange, queue prefix,
databases, ports and log files, and removes its queues afterwards."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from shared.broker import local_url

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("catalogue", "search", "allocation", "notifier", "guidance")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    service: str
    name: str
    port: int
    env: dict
    popen: subprocess.Popen | None = None
    args: tuple[str, ...] = ()  # a command of the service's, e.g. ("embed-worker", "--port", "...")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class System:
    tmp: Path
    db: str = "sqlite"  # or a PostgreSQL URL prefix made by the caller per service
    amqp_port: int = 5672  # each service as its own broker user (make setup), on this port
    smtp_port: int | None = None
    extra_env: dict = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    procs: dict[str, Proc] = field(default_factory=dict)
    database_urls: dict[str, str] = field(default_factory=dict)

    def env_for(self, service: str, name: str, port: int) -> dict:
        env = {**os.environ, "AMQP_URL": local_url(service, port=self.amqp_port) or "", "EVENTS_EXCHANGE": f"vux.test.{self.run_id}",
               "QUEUE_PREFIX": f"test.{self.run_id}.", "HTTP_PORT": str(port), "LOG_LEVEL": "INFO",
               "LOG_JSON": "true", "OUTBOX_POLL_S": "0.2", "RETRY_DELAYS_S": "[0.3, 1.0]",
               "DATABASE_URL": self.database_urls.get(service, f"sqlite+aiosqlite:///{self.tmp}/{service}.db"),
               "INSTANCE_NAME": name,
               "CHAT_RATE_PER_MINUTE": "100000", "APPLY_RATE_PER_MINUTE": "100000"}
        for other, p in self.procs.items():
            if not p.args:  # a worker is no service's address
                env.setdefault(f"{p.service.upper()}_URL", p.url)
        if self.smtp_port:
            env["SMTP_PORT"] = str(self.smtp_port)
        env.update(self.extra_env.get(service, {}))
        return env

    def add(self, service: str, name: str | None = None, *args: str) -> Proc:
        name = name or service
        port = free_port()
        proc = Proc(service, name, port, {}, args=tuple(a.replace("{port}", str(port)) for a in args))
        self.procs[name] = proc
        return proc

    def start(self, name: str) -> Proc:
        p = self.procs[name]
        p.env = self.env_for(p.service, name, p.port)
        for other in self.procs.values():  # every process finds the first replica of each service
            key = f"{other.service.upper()}_URL"
            if other.name == other.service and not other.args:
                p.env[key] = other.url
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        p.popen = subprocess.Popen([sys.executable, "-m", f"services.{p.service}", *p.args], cwd=ROOT, env=p.env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return p

    def cli(self, service: str, *args: str, stdin: str | None = None) -> str:
        env = self.env_for(service, service, 0)
        out = subprocess.run([sys.executable, "-m", f"services.{service}", *args], cwd=ROOT, env=env, input=stdin,
                             capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]

    def wait_ready(self, name: str, timeout: float = 180) -> None:
        from deploy.launcher import wait_until_ready

        p = self.procs[name]
        try:
            wait_until_ready(f"{p.url}/readyz", p.popen, timeout, every=0.2)
        except RuntimeError as exc:
            raise AssertionError(f"{name} {exc}:\n{self.log(name)[-3000:]}") from None

    async def wait_ready_async(self, name: str, timeout: float = 180) -> None:
        await asyncio.to_thread(self.wait_ready, name, timeout)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str) -> None:
        p = self.procs[name]
        if p.popen and p.popen.poll() is None:
            os.killpg(p.popen.pid, signal.SIGKILL)
            p.popen.wait(10)

    def stop(self, name: str) -> None:
        p = self.procs[name]
        if p.popen and p.popen.poll() is None:
            os.killpg(p.popen.pid, signal.SIGTERM)
            try:
                p.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill(name)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    async def delete_queues(self) -> None:
        """Remove this run's queues from the shared broker."""
        from scripts.api_docs import service_object
        from tests.conftest import delete_queues

        names = []
        for p in self.procs.values():
            env = self.env_for(p.service, p.name, p.port)
            service = service_object(p.service, events_exchange=env["EVENTS_EXCHANGE"],
                                     queue_prefix=env["QUEUE_PREFIX"], instance_name=p.name,
                                     retry_delays_s=[0.3, 1.0])
            if not hasattr(service, "bus"):
                continue  # the console keeps no queues
            service.register_handlers()
            names += [n for sub in service.bus.subscriptions for n in service.bus.queue_names(sub.queue).values()]
        await delete_queues(names)


@contextmanager
def whole_system(tmp: Path) -> Iterator[System]:
    """The five services as processes, each ready; stopped, and their queues removed, afterwards."""
    system = System(tmp)
    for s in SERVICES:
        system.add(s)
    for s in SERVICES:
        system.start(s)
    try:
        for s in SERVICES:
            system.wait_ready(s)
        yield system
    finally:
        system.stop_all()
        asyncio.run(system.delete_queues())
