"""Fixtures: real RabbitMQ, real SQLite and PostgreSQL databases, the catalogue running in-process.

Each test gets its own exchange and queue prefix on the shared broker and its own database, so
tests never see each other's messages or rows.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import aiohttp
import asyncpg
import pytest
from aiohttp import web

from shared.broker import VHOST, local_url
from shared.events import PRODUCERS, Envelope, parse_event

# The administrator's login, for the collector and clean-up only; each service speaks as its own
# broker user (make setup creates them), as in production.
AMQP_URL = os.environ.get("TEST_AMQP_URL", f"amqp://guest:guest@127.0.0.1:5672/{VHOST}")
PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


async def _broker_answers() -> None:
    conn = await aio_pika.connect(AMQP_URL, timeout=10)
    try:
        ch = await conn.channel(publisher_confirms=True)
        q = await ch.declare_queue("", exclusive=True)
        await ch.default_exchange.publish(aio_pika.Message(b"ping"), routing_key=q.name, timeout=10)
    finally:
        await conn.close()


def pytest_sessionstart(session) -> None:  # noqa: ANN001
    """Every test needs the broker: when it does not answer, or holds publishers back for a memory or
    disk alarm, stop at once with the reason rather than let each test wait out its timeout."""
    broker = urlsplit(AMQP_URL)
    with socket.socket() as s:
        absent = s.connect_ex((broker.hostname, broker.port or 5672)) != 0
    if session.config.option.collectonly or absent:
        return  # no broker at all: the tests that need one fail at once anyway
    try:
        asyncio.run(asyncio.wait_for(_broker_answers(), 30))
    except Exception as exc:  # noqa: BLE001 - any failure is the same verdict
        pytest.exit(f"RabbitMQ at {broker.hostname}:{broker.port or 5672} does not take a confirmed message "
                    f"({type(exc).__name__}: {exc}); `make setup` restarts it", returncode=3)


def broker_url(user: str) -> str:
    """A service's (or the tests' own) broker user on the local broker."""
    url = local_url(user)
    if url is None:
        pytest.fail(f"no local broker user {user!r}: run `make setup` (python -m scripts.broker_users)")
    return url


def sqlite_bytes(engine) -> bytes | None:  # noqa: ANN001
    """Everything SQLite keeps on disk for an engine (the database and its WAL), or None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    path = Path(engine.url.database)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


async def create_pg_database(name: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=30)
    finally:
        await conn.close(timeout=10)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_factory(request, tmp_path, unique):
    """Makes a fresh database per service (services never share one), on SQLite or PostgreSQL."""
    made: list[str] = []

    async def make(service: str) -> str:
        if request.param == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path}/{service}.db"
        name = f"vux_test_{unique}_{service}"
        made.append(name)
        return await create_pg_database(name)

    yield make
    for name in made:
        await drop_pg_database(name)


@pytest.fixture
async def db_url(db_factory):
    return await db_factory("catalogue")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/test.db"


@pytest.fixture
def bus_names(unique) -> dict:
    return {"events_exchange": f"vux.test.{unique}", "queue_prefix": f"test.{unique}."}


@dataclass
class Collector:
    """Every event published on the test's exchange, parsed."""

    events: list[Envelope] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[Envelope]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.events) < n:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"expected {n} events, got {len(self.events)}: {[e.type for e in self.events]}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self.events

    async def wait_types(self, timeout: float = 10.0, **counts: int) -> list[Envelope]:
        """Wait until at least counts[t] events of each type t arrived (dots in types as '__')."""
        want = {k.replace("__", "."): v for k, v in counts.items()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(len(self.of_type(t)) < n for t, n in want.items()):
            left = deadline - loop.time()
            if left <= 0:
                have = {t: len(self.of_type(t)) for t in want}
                raise AssertionError(f"expected {want}, got {have}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self.events

    async def quiet(self, seconds: float = 1.0) -> list[Envelope]:
        """Wait until nothing has arrived for `seconds`; returns everything so far."""
        while True:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), seconds)
            except asyncio.TimeoutError:
                return self.events

    def of_type(self, t: str) -> list[Envelope]:
        return [e for e in self.events if e.type == t]


@pytest.fixture
async def publish(bus_names):
    """Publish an event as the service that produces it, through that service's broker user."""
    from shared.bus import Bus

    buses: dict[str, Bus] = {}

    async def go(event: Envelope) -> None:
        user = PRODUCERS[event.type]
        if user not in buses:
            buses[user] = Bus(broker_url(user), producer=user, exchange=bus_names["events_exchange"])
            await buses[user].connect(timeout=10)
        await buses[user].publish(event)

    yield go
    for bus in buses.values():
        await bus.close()


@pytest.fixture
async def collector(bus_names):
    conn = await aio_pika.connect_robust(AMQP_URL)
    ch = await conn.channel()
    ex = await ch.declare_exchange(bus_names["events_exchange"], aio_pika.ExchangeType.TOPIC, durable=True)
    q = await ch.declare_queue(exclusive=True, auto_delete=True)
    await q.bind(ex, "#")
    col = Collector()

    async def on_msg(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with msg.process():
            col.events.append(parse_event(msg.body))
            col.arrived.set()

    await q.consume(on_msg)
    yield col
    await asyncio.wait_for(conn.close(), 10)
    await asyncio.wait_for(delete_exchange(bus_names["events_exchange"]), 10)


async def delete_exchange(name: str) -> None:
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        await ch.exchange_delete(name)
    finally:
        await conn.close()


async def delete_queues(names: list[str]) -> None:
    from scripts.broker_tidy import delete

    await delete(names, url=AMQP_URL)


async def until(predicate, what: str, timeout: float = 30.0, every: float = 0.1) -> None:
    """Wait until predicate() is true; fail the test (AssertionError) when it is not within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s")
        await asyncio.sleep(every)


@asynccontextmanager
async def served(service, create_app, port: int, ready, what: str, timeout: float = 30.0):
    """One service in-process: started, its HTTP API on `port`, ready (or the test fails); then stopped
    and its queues deleted. Every service fixture is this with its own settings."""
    from shared.http import make_runner

    await service.start()
    runner = make_runner(create_app(service))  # as the service runs it
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await until(ready, f"{what} ready", timeout)
        yield runner
    finally:
        await runner.cleanup()
        await service.stop()
        names = [n for sub in service.bus.subscriptions for n in service.bus.queue_names(sub.queue).values()]
        if names:
            await delete_queues(names)


@dataclass
class RunningCatalogue:
    url: str
    service: object
    http: aiohttp.ClientSession
    region_token: str = ""

    async def token(self, municipality: str | None = None, role: str | None = None) -> str:
        from services.catalogue.storage import api_tokens
        from shared.tokens import create_token

        async with self.service.engine.begin() as conn:
            role = role or ("region" if municipality is None else "municipality")
            return await create_token(conn, api_tokens, name="test", role=role, scope=municipality)

    async def push(self, municipality: str, body, *, token: str | None = None, method: str = "PUT",
                   content_type: str = "application/json", params: dict | None = None) -> tuple[int, dict]:
        import json

        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"Content-Type": content_type}
        tok = self.region_token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        async with self.http.request(method, f"{self.url}/v1/feeds/{municipality}", data=data, headers=headers,
                                     params=params or {}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str, **params) -> tuple[int, dict]:
        async with self.http.get(f"{self.url}{path}", params=params) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def catalogue(db_url, bus_names):
    from services.catalogue.api import create_app
    from services.catalogue.service import CatalogueService
    from services.catalogue.settings import CatalogueSettings

    settings = CatalogueSettings(database_url=db_url, amqp_url=broker_url("catalogue"), http_port=free_port(),
                                 outbox_poll_s=0.2, feed_max_bytes=2_000_000, feed_rate_per_minute=10_000, **bus_names)
    service = CatalogueService(settings)
    async with served(service, create_app, settings.http_port, lambda: service.bus.connected, "catalogue") as runner, \
            aiohttp.ClientSession() as http:
        running = RunningCatalogue(f"http://127.0.0.1:{settings.http_port}", service, http)
        running.app = runner.app
        running.region_token = await running.token()
        yield running


@dataclass
class RunningAllocation:
    url: str
    service: object
    http: aiohttp.ClientSession
    coordinator_token: str = ""
    links: "MailedLinks | None" = None

    async def apply(self, form: dict) -> tuple[int, dict]:
        """Apply as a learner does, confirming by the mailed link (apply_confirmed)."""
        return await apply_confirmed(self.http, self.url, self.links, form)

    async def token(self, municipality: str | None = None, role: str = "coordinator") -> str:
        from services.allocation.storage import api_tokens
        from shared.tokens import create_token

        async with self.service.engine.begin() as conn:
            return await create_token(conn, api_tokens, name=f"test-{role}", role=role, scope=municipality)

    async def call(self, method: str, path: str, body=None, *, token: str | None = None,
                   headers: dict | None = None, params: dict | None = None, **query):
        h = dict(headers or {})
        tok = self.coordinator_token if token is None else token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        async with self.http.request(method, f"{self.url}{path}", json=body, headers=h,
                                     params={**query, **(params or {})}) as resp:
            ctype = resp.content_type
            json_types = ("application/json", "application/problem+json")
            return resp.status, (await resp.json(content_type=None)) if ctype in json_types else await resp.text()


CONFIRM_LINK = re.compile(r"https?://\S+/applications/[0-9a-f-]+/confirm\?secret=[A-Za-z0-9_-]+")


async def confirm_by_mail(http: aiohttp.ClientSession, message) -> str:  # noqa: ANN001 - an email.message
    """Open a confirmation e-mail's link and press its button, as the applicant does; gives the page."""
    found = CONFIRM_LINK.search(message.get_body(("plain",)).get_content())
    assert found, "no confirmation link in the e-mail"
    url = found.group(0)
    async with http.get(url) as r:
        assert r.status == 200, await r.text()
    async with http.post(url.split("?")[0], data={"secret": url.split("secret=")[1]}) as r:
        page = await r.text()
        assert r.status == 200, page
    return page


async def apply_confirmed(http: aiohttp.ClientSession, url: str, links: "MailedLinks", form: dict) -> tuple[int, dict]:
    """Send an application form, open the link mailed to the address (read off the bus, as the notifier
    gets it) and confirm. Gives the confirmation's (status, receipt with the secret), or a refused form's
    (status, problem)."""
    async with http.post(f"{url}/v1/applications", json=form) as r:
        status, body = r.status, await r.json(content_type=None)
    if status != 202:
        return status, body
    link = await links.wait(form["submission_id"])
    app_id, secret = link.split("/applications/")[1].split("/confirm?secret=")
    async with http.post(f"{url}/v1/applications/{app_id}/confirm", headers={"X-Application-Secret": secret}) as r:
        status, receipt = r.status, await r.json(content_type=None)
    return status, receipt | {"secret": secret} if status == 200 else receipt


class MailedLinks:
    """The confirmation links the allocation service mails, by submission id (an admin queue on the bus)."""

    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self.urls: dict[str, str] = {}
        self.arrived = asyncio.Event()

    async def __aenter__(self) -> "MailedLinks":
        self.conn = await aio_pika.connect_robust(AMQP_URL)
        ch = await self.conn.channel()
        ex = await ch.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        await q.bind(ex, "application.confirmation_requested")

        async def on_msg(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with msg.process():
                p = parse_event(msg.body).payload
                self.urls[p.submission_id] = p.confirm_url
                self.arrived.set()

        await q.consume(on_msg)
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        await asyncio.wait_for(self.conn.close(), 10)

    async def wait(self, submission_id: str, timeout: float = 15.0) -> str:
        async with asyncio.timeout(timeout):
            while submission_id not in self.urls:
                self.arrived.clear()
                await self.arrived.wait()
        return self.urls[submission_id]


@pytest.fixture
async def allocation(db_factory, bus_names):
    from services.allocation.api import create_app
    from services.allocation.service import AllocationService
    from services.allocation.settings import AllocationSettings

    port = free_port()
    settings = AllocationSettings(database_url=await db_factory("allocation"), amqp_url=broker_url("allocation"), http_port=port,
                                  outbox_poll_s=0.2, retry_delays_s=[0.2, 0.5], public_url=f"http://127.0.0.1:{port}",
                                  expiry_check_s=3600, apply_rate_per_minute=100_000,
                                  applications_per_address_per_day=100, statistics_refresh_s=0, **bus_names)
    service = AllocationService(settings)
    async with served(service, create_app, port, lambda: service.bus.connected and service.bus.consuming,
                      "allocation") as runner, aiohttp.ClientSession() as http, \
            MailedLinks(bus_names["events_exchange"]) as links:
        running = RunningAllocation(f"http://127.0.0.1:{port}", service, http, links=links)
        running.app = runner.app
        running.coordinator_token = await running.token()
        yield running


class SmtpCatcher:
    """A real SMTP server (aiosmtpd) that keeps every message and can be told to refuse."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse: dict[str, str] = {}  # address -> SMTP reply, e.g. "550 5.1.1 no such user"
        self.temporary_failures = 0  # answer 421 to this many RCPTs first
        self.rcpt_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        self.rcpt_attempts += 1
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "421 4.3.2 service busy, try later"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        import email
        from email.policy import default

        self.messages.append(email.message_from_bytes(envelope.original_content, policy=default))
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    catcher = SmtpCatcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=free_port())
    controller.start()
    catcher.port = controller.port
    yield catcher
    controller.stop()


@dataclass
class RunningNotifier:
    url: str
    service: object
    http: aiohttp.ClientSession

    async def token(self, role: str = "operator") -> str:
        from services.notifier.storage import api_tokens
        from shared.tokens import create_token

        async with self.service.engine.begin() as conn:
            return await create_token(conn, api_tokens, name=f"test-{role}", role=role, scope=None)


@pytest.fixture
async def notifier(db_factory, bus_names, smtp):
    from services.notifier.api import create_app
    from services.notifier.service import NotifierService
    from services.notifier.settings import NotifierSettings

    port = free_port()
    settings = NotifierSettings(database_url=await db_factory("notifier"), amqp_url=broker_url("notifier"), http_port=port,
                                smtp_port=smtp.port, send_retry_delays_s=[0.2, 0.4, 0.6], retry_delays_s=[0.2],
                                instance_name=f"test-{port}", **bus_names)
    service = NotifierService(settings)
    async with served(service, create_app, port, lambda: service.bus.consuming, "notifier"), \
            aiohttp.ClientSession() as http:
        yield RunningNotifier(f"http://127.0.0.1:{port}", service, http)


@pytest.fixture
async def search(catalogue, bus_names, db_factory):
    """The search service in-process, reading the catalogue fixture's API and events."""
    from services.search.api import create_app
    from services.search.service import SearchService
    from services.search.settings import SearchSettings

    port = free_port()
    settings = SearchSettings(amqp_url=broker_url("search"), http_port=port, catalogue_url=catalogue.url,
                              database_url=await db_factory("search"), instance_name=f"t{port}", **bus_names)
    service = SearchService(settings)
    async with served(service, create_app, port, lambda: service.bus.consuming and service.caught_up.is_set(),
                      "search", timeout=60), aiohttp.ClientSession() as http:
        yield RunningSearch(f"http://127.0.0.1:{port}", service, http, settings)


@pytest.fixture
async def guidance(search, db_factory, bus_names):
    """The guidance service in-process, asking the search fixture for suggestions."""
    from services.guidance.api import create_app
    from services.guidance.service import GuidanceService
    from services.guidance.settings import GuidanceSettings

    port = free_port()
    settings = GuidanceSettings(database_url=await db_factory("guidance"), amqp_url=broker_url("guidance"), http_port=port,
                                search_url=search.url, outbox_poll_s=0.2, **bus_names)
    service = GuidanceService(settings)
    async with served(service, create_app, port, lambda: service.bus.consuming, "guidance"), \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies on an IP
        yield RunningGuidance(f"http://127.0.0.1:{port}", service, http, settings)


@dataclass
class RunningGuidance:
    url: str
    service: object
    http: aiohttp.ClientSession
    settings: object

    async def token(self, role: str = "operator") -> str:
        from services.guidance.storage import api_tokens
        from shared.tokens import create_token

        async with self.service.engine.begin() as conn:
            return await create_token(conn, api_tokens, name=f"test-{role}", role=role, scope=None)

    async def chat(self, message: str, session_id: str | None = None, **extra) -> tuple[int, dict]:
        async with self.http.post(f"{self.url}/v1/chat",
                                  json={"session_id": session_id, "message": message, **extra}) as r:
            return r.status, await r.json(content_type=None)


@dataclass
class RunningSearch:
    url: str
    service: object
    http: aiohttp.ClientSession
    settings: object

    async def search(self, text, **body):
        async with self.http.post(f"{self.url}/v1/search", json={"text": text, **body}) as r:
            return r.status, await r.json(content_type=None)

    async def wait_indexed(self, kind: str, rid: str, present: bool = True, timeout: float = 60.0):
        for _ in range(int(timeout * 10)):
            if ((kind, rid) in self.service.index.entries) == present:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{kind} {rid} {'never indexed' if present else 'never removed'}")


@dataclass
class RunningConsole:
    url: str
    service: object
    settings: object

    async def staff(self, username: str, role: str, municipality: str | None = None) -> str:
        """A staff account; its password."""
        from services.console.service import create_staff

        password = f"konsol-{username}-" + uuid.uuid4().hex[:8]
        async with self.service.engine.begin() as conn:
            await create_staff(conn, username, f"Test {username.title()}", role, municipality, password)
        return password

    async def signed_in(self, username: str, role: str, municipality: str | None = None) -> aiohttp.ClientSession:
        """An HTTP session signed in as a new staff account (the caller closes it)."""
        password = await self.staff(username, role, municipality)
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.post(f"{self.url}/signin", data={"username": username, "password": password},
                             allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        return http


@pytest.fixture
async def console(request, catalogue, allocation, notifier, db_factory):
    """The staff console in-process, calling the catalogue, allocation and notifier fixtures with console
    tokens made in each (and the guidance fixture's, when the test has one)."""
    from services.console.api import create_app
    from services.console.service import ConsoleService
    from services.console.settings import ConsoleSettings
    from shared.http import make_runner

    port = free_port()
    settings = ConsoleSettings(
        database_url=await db_factory("console"), http_port=port, catalogue_url=catalogue.url,
        allocation_url=allocation.url, notifier_url=notifier.url,
        catalogue_token=await catalogue.token(role="console"), allocation_token=await allocation.token(role="console"),
        notifier_token=await notifier.token(role="console"), upload_max_bytes=200_000)
    if "guidance" in request.fixturenames:
        guidance = request.getfixturevalue("guidance")
        settings.guidance_url, settings.guidance_token = guidance.url, await guidance.token("console")
    service = ConsoleService(settings)
    await service.start()
    runner = make_runner(create_app(service))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield RunningConsole(f"http://127.0.0.1:{port}", service, settings)
    finally:
        await runner.cleanup()
        await service.stop()
