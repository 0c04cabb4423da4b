"""The whole system as a county runs it: `make run`'s launcher (`python -m deploy.launcher`) starts the
four services as processes on this run's own exchange, queues, databases and ports, with e-mail to a
real SMTP server; the helpers below are what learners, municipalities, coordinators and operators do."""
from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

from deploy.launcher import ORDER
from tests.conftest import AMQP_URL, PG_ADMIN, create_pg_database, drop_pg_database, free_port
from tests.processes import ROOT

SECRET_PATTERNS = [re.compile(p) for p in (
    r"vux_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}",  # API tokens
    r"(?i)password[\"']?\s*[:=]\s*[\"']?[^\s\"',}]{6,}",
)]


class County:
    def __init__(self, tmp: Path, smtp_port: int, db: str) -> None:
        self.tmp = tmp
        self.db = db
        self.run_id = uuid.uuid4().hex[:10]
        self.ports = {s: free_port() for s in ORDER}
        self.database_urls: dict[str, str] = {}
        self.smtp_port = smtp_port
        self.launcher: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task | None = None

    # --- the system ---------------------------------------------------------------------------

    def env(self) -> dict:
        # No AMQP_URL: each service logs in as its own broker user, as `make run` does.
        env = {**{k: v for k, v in os.environ.items() if k != "AMQP_URL"}, "EVENTS_EXCHANGE": f"vux.e2e.{self.run_id}",
               "QUEUE_PREFIX": f"e2e.{self.run_id}.", "LOG_JSON": "true", "LOG_LEVEL": "INFO",
               "OUTBOX_POLL_S": "0.2", "RETRY_DELAYS_S": "[0.3, 1.0, 2.0]",
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port), "SEND_RETRY_DELAYS_S": "[0.3, 1.0, 2.0]",
               "CHAT_RATE_PER_MINUTE": "100000", "ALLOCATION__APPLY_RATE_PER_MINUTE": "100000",
               "SEARCH__INSTANCE_NAME": "search-e2e",
               "ALLOCATION__PUBLIC_URL": self.url("allocation"),
               "ALLOCATION__STATISTICS_REFRESH_S": "0"}  # the journey reads demand right after erasure
        for s, port in self.ports.items():
            env[f"{s.upper()}_PORT"] = str(port)
            env[f"{s.upper()}__DATABASE_URL"] = self.database_urls[s]
        return env

    async def console_session(self, username: str) -> aiohttp.ClientSession:
        """An HTTP session signed in to the staff console as one of the launcher's demo staff."""
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=60))
        async with http.post(self.url("console") + "/signin", allow_redirects=False,
                             data={"username": username, "password": self.staff_passwords[username]}) as r:
            assert r.status == 303, await r.text()
        return http

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    async def start(self) -> None:
        for s in ORDER:
            if self.db == "postgres":
                self.database_urls[s] = await create_pg_database(f"vux_e2e_{self.run_id}_{s}")
            else:
                self.database_urls[s] = f"sqlite+aiosqlite:///{self.tmp}/{s}.db"
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.launcher = subprocess.Popen([sys.executable, "-m", "deploy.launcher", "--var", str(self.tmp / "var"),
                                          "--no-demo"], cwd=ROOT, env=self.env(), stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._reader = asyncio.create_task(asyncio.to_thread(self._read_output))
        await self.wait_output("Press Ctrl-C to stop.", timeout=300)
        printed = "\n".join(self.output)
        self.coordinator = re.search(r"regional coordinator token \(allocation\): (\S+)", printed).group(1)
        self.operator = re.search(r"operator token \(notifier /v1/deliveries\): (\S+)", printed).group(1)
        self.counsellor_password = re.search(r"user demo, password (\S+)\)", printed).group(1)
        self.staff_passwords = dict(re.findall(r"^ +\w+ +user (\w+) +password (\S+)$", printed, re.M))

    def _read_output(self) -> None:
        for line in self.launcher.stdout:
            self.output.append(line.rstrip("\n"))

    async def wait_output(self, text: str, timeout: float = 60, after: int = 0) -> None:
        end = time.monotonic() + timeout
        while not any(text in line for line in self.output[after:]):
            if self.launcher.poll() is not None and self._reader.done():
                raise AssertionError("the launcher stopped:\n" + "\n".join(self.output[-40:]))
            if time.monotonic() > end:
                raise AssertionError(f"launcher never printed {text!r}:\n" + "\n".join(self.output[-40:]))
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.launcher and self.launcher.poll() is None:
            self.launcher.send_signal(signal.SIGINT)  # as Ctrl-C
            await asyncio.to_thread(self.launcher.wait, 60)
        if self._reader:
            await self._reader
        if self.http:
            await self.http.close()
        await self.delete_queues()
        if self.db == "postgres":
            for s in ORDER:
                await drop_pg_database(f"vux_e2e_{self.run_id}_{s}")

    async def delete_queues(self) -> None:
        from scripts.broker_tidy import delete, queues

        await delete(queues(f"e2e.{self.run_id}."), [f"vux.e2e.{self.run_id}"], AMQP_URL)

    def pid(self, service: str) -> int:
        return int((self.tmp / "var" / "run" / f"{service}.pid").read_text())

    async def kill9(self, service: str, wait: bool = True):  # noqa: ANN201
        """kill -9 one service; the launcher starts it again. Returns once the new one is ready, or
        with wait=False at once, with something to await for that."""
        mark = len(self.output)
        os.kill(self.pid(service), signal.SIGKILL)

        async def back() -> None:
            await self.wait_output(f"{service} exited with code -9; starting it again", after=mark, timeout=30)
            await self.wait_ready(service)
        if not wait:
            return asyncio.ensure_future(back())
        await back()

    async def wait_ready(self, service: str, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                async with self.http.get(f"{self.url(service)}/readyz") as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"{service} not ready again after {timeout}s:\n{self.log(service)[-3000:]}")

    async def restart_rabbitmq(self) -> float:
        """Stop and start the broker application (every connection drops); seconds it was down."""
        t0 = time.monotonic()
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "stop_app"], check=True, capture_output=True)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "start_app"], check=True, capture_output=True)
        await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "await_startup"], check=True, capture_output=True)
        return time.monotonic() - t0

    async def database_read_only(self, service: str, on: bool) -> None:
        """PostgreSQL only: the service's database turns read-only, as after a fail-over to a standby
        (every open connection is cut; new ones are read-only), or writable again."""
        name = self.database_urls[service].rsplit("/", 1)[1]
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        finally:
            await conn.close()

    def log(self, service: str) -> str:
        path = self.tmp / "var" / "log" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, service: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        from deploy.launcher import service_env

        return subprocess.run([sys.executable, "-m", f"services.{service}", *args], cwd=ROOT,
                              env=service_env(service, self.env()), capture_output=True, text=True, check=check,
                              timeout=120)

    # --- what people do -----------------------------------------------------------------------

    async def call(self, service: str, method: str, path: str, body=None, *, token: str | None = None,
                   headers: dict | None = None, data: bytes | None = None, **params) -> tuple[int, dict | str]:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        kw = {"data": data} if data is not None else ({"json": body} if body is not None else {})
        async with self.http.request(method, f"{self.url(service)}{path}", headers=h, params=params or None,
                                     **kw) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def chat(self, message: str, session_id: str | None = None, **extra) -> dict:
        status, out = await self.call("guidance", "POST", "/v1/chat",
                                      {"session_id": session_id, "message": message, **extra})
        assert status == 200, out
        return out

    async def search(self, text: str, limit: int = 10, **filters) -> list[dict]:
        status, out = await self.call("search", "POST", "/v1/search", {"text": text, "limit": limit,
                                                                       "filters": filters})
        assert status == 200, out
        return out["results"]

    async def index_check(self) -> dict:
        out = await asyncio.to_thread(self.cli, "search", "check-index", check=False)
        lines = out.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {"equal": False, "error": out.stderr[-2000:]}

    async def until(self, what, timeout: float = 60, every: float = 0.2, message: str = ""):  # noqa: ANN001
        """Poll a predicate (plain or async) until it returns something truthy; returns that."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            last = what()
            if inspect.isawaitable(last):
                last = await last
            if last:
                return last
            await asyncio.sleep(every)
        raise AssertionError(f"timed out: {message} (last: {last!r})")

    # --- checks -------------------------------------------------------------------------------

    async def rows_mentioning(self, *needles: str) -> list[str]:
        """Every table row, in every service's database, whose text holds one of the needles."""
        found = []
        for s, url in self.database_urls.items():
            if url.startswith("sqlite"):
                import sqlite3

                conn = sqlite3.connect(url.split("///", 1)[1])
                try:
                    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                    for t in tables:
                        for row in conn.execute(f'SELECT * FROM "{t}"'):
                            text = " ".join(v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                                            for v in row)
                            found += [f"{s}.{t}: {n}" for n in needles if n.lower() in text.lower()]
                finally:
                    conn.close()
            else:
                conn = await asyncpg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1])
                try:
                    tables = [r["tablename"] for r in await conn.fetch(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
                    for t in tables:
                        for row in await conn.fetch(f'SELECT "{t}"::text AS r FROM "{t}"'):
                            text = row["r"]
                            if "\\x" in text:  # bytea columns come hex-encoded
                                text += " " + _unhex(text)
                            found += [f"{s}.{t}: {n}" for n in needles if n.lower() in text.lower()]
                finally:
                    await conn.close()
        return found

    def secrets_in_logs(self, secrets: list[str]) -> list[str]:
        hits = []
        for s in ORDER:
            for n, line in enumerate(self.log(s).splitlines(), 1):
                for secret in secrets:
                    if secret and secret in line:
                        hits.append(f"{s}.log:{n}: a secret ({secret[:6]}...)")
                for p in SECRET_PATTERNS:
                    if p.search(line):
                        hits.append(f"{s}.log:{n}: {p.pattern}")
        return hits


def _unhex(text: str) -> str:
    out = []
    for m in re.finditer(r"\\x([0-9a-f]+)", text):
        try:
            out.append(bytes.fromhex(m.group(1)).decode(errors="replace"))
        except ValueError:
            pass
    return " ".join(out)
