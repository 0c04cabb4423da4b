"""The bus against a real RabbitMQ: confirms, retries, parking, idempotency, reconnection."""
import asyncio

import aio_pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.bus import Bus, PermanentError
from shared.db import make_engine
from shared.events import CourseWithdrawn, TestPing
from shared.outbox import claim_event, inbox_table
from tests.conftest import AMQP_URL, broker_url, delete_exchange, delete_queues
from tests.tcpproxy import TcpProxy

meta = MetaData()
inbox = inbox_table(meta)
handled = Table("handled", meta, Column("id", Integer, primary_key=True), Column("n", String(40)))


@pytest.fixture
async def engine(sqlite_url):
    eng = make_engine(sqlite_url)
    async with eng.begin() as conn:
        await conn.run_sync(meta.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
async def make_bus(bus_names):
    buses: list[Bus] = []

    def factory(url: str | None = None, **kw) -> Bus:
        # As the test suite's own broker user, which produces test.ping and owns queues named tests.*
        bus = Bus(url or broker_url("tests"), producer="tests", exchange=bus_names["events_exchange"],
                  queue_prefix=bus_names["queue_prefix"] + "tests.", retry_delays_s=kw.pop("retry_delays_s", [0.1, 0.2]), **kw)
        buses.append(bus)
        return bus

    yield factory
    names = []
    for bus in buses:
        for sub in bus.subscriptions:
            names += list(bus.queue_names(sub.queue).values())
        await bus.close()
    await delete_queues(names)
    await delete_exchange(bus_names["events_exchange"])


async def parked(bus: Bus, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(bus.queue_names(queue)["parking"], passive=True)
        out = []
        while (m := await q.get(no_ack=True, fail=False)) is not None:
            out.append(m)
        return out
    finally:
        await conn.close()


async def eventually(pred, timeout: float = 10.0, step: float = 0.05):  # noqa: ANN001
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = await pred()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


async def test_poison_messages_go_straight_to_parking_with_the_reason(make_bus):
    bus = make_bus()
    calls = []

    @bus.subscribe("poison", ["test.#"])
    async def handle(event):
        calls.append(event)

    await bus.connect(timeout=10)
    await bus.start_consuming()
    await bus.publish_raw(b"this is not json", routing_key="test.ping", message_id="m1")
    await bus.publish_raw(b'{"type": "test.ping", "version": 1}', routing_key="test.ping", message_id="m2")
    msgs = await eventually(lambda: _parked_n(bus, "poison", 2))
    reasons = {m.message_id: m.headers["x-parked-reason"] for m in msgs}
    assert reasons["m1"].startswith("invalid message") and "json" in reasons["m1"].lower()
    assert "producer" in reasons["m2"] and "Field required" in reasons["m2"]
    assert {m.body for m in msgs} == {b"this is not json", b'{"type": "test.ping", "version": 1}'}
    assert calls == []


async def test_an_event_type_the_queue_did_not_subscribe_to_is_parked_not_dropped(make_bus):
    bus = make_bus()
    calls = []

    @bus.subscribe("picky", ["test.ping"])
    async def handle(event):
        calls.append(event)

    await bus.connect(timeout=10)
    await bus.start_consuming()
    stray = CourseWithdrawn(producer="catalogue", payload={"id": "i.2480.X", "municipality_code": "2480"})
    # Straight into the queue (a wrong binding would do the same): not its type.
    await bus.publish_raw(stray.to_json(), routing_key=bus.queue_names("picky")["main"], message_id="stray",
                          exchange="")
    await bus.publish(TestPing(producer="test", payload={"n": "after"}))  # the marker: handled after it
    await eventually(lambda: _async(len(calls) == 1))
    msgs = await eventually(lambda: _parked_n(bus, "picky", 1))
    assert [m.message_id for m in msgs] == ["stray"]
    assert "'course.withdrawn' is not one this queue subscribes to" in msgs[0].headers["x-parked-reason"]
    assert [e.payload for e in calls] == [{"n": "after"}]


_parked_cache: dict = {}


async def _parked_n(bus: Bus, queue: str, n: int):
    got = _parked_cache.setdefault((id(bus), queue), [])
    got += await parked(bus, queue)
    return got if len(got) >= n else None


async def test_failing_handler_is_retried_with_backoff_then_parked(make_bus):
    bus = make_bus(retry_delays_s=[0.1, 0.3])
    attempts: list[float] = []

    @bus.subscribe("fails", ["test.ping"])
    async def handle(event):
        attempts.append(asyncio.get_running_loop().time())
        raise RuntimeError("database is on fire")

    await bus.connect(timeout=10)
    await bus.start_consuming()
    await bus.publish(TestPing(producer="test", payload={"n": 1}))
    msgs = await eventually(lambda: _parked_n(bus, "fails", 1))
    assert len(attempts) == 3  # first try + two retries
    assert attempts[1] - attempts[0] >= 0.09 and attempts[2] - attempts[1] >= 0.28
    reason = msgs[0].headers["x-parked-reason"]
    assert reason == "failed after 2 retries: RuntimeError: database is on fire"
    assert msgs[0].headers["x-original-queue"].endswith("fails")


async def test_transient_failure_recovers_and_permanent_error_parks_at_once(make_bus):
    bus = make_bus()
    attempts = {"flaky": 0, "permanent": 0, "marker": 0}

    @bus.subscribe("mixed", ["test.ping"])
    async def handle(event):
        kind = event.payload["kind"]
        attempts[kind] += 1
        if kind == "flaky" and attempts[kind] < 3:
            raise ConnectionError("try later")
        if kind == "permanent":
            raise PermanentError("course id unknown")

    await bus.connect(timeout=10)
    await bus.start_consuming()
    await bus.publish(TestPing(producer="test", payload={"kind": "flaky"}))
    await bus.publish(TestPing(producer="test", payload={"kind": "permanent"}))
    msgs = await eventually(lambda: _parked_n(bus, "mixed", 1))
    await eventually(lambda: _async(attempts["flaky"] == 3))
    await bus.publish(TestPing(producer="test", payload={"kind": "marker"}))  # handled after anything still due
    await eventually(lambda: _async(attempts["marker"] == 1))
    assert attempts == {"flaky": 3, "permanent": 1, "marker": 1}
    assert msgs[0].headers["x-parked-reason"] == "rejected by handler: PermanentError: course id unknown"
    assert len(await parked(bus, "mixed")) == 0


async def _async(value):
    return value


async def test_handlers_are_idempotent_by_event_id(make_bus, engine):
    bus = make_bus()

    @bus.subscribe("idem", ["test.ping"])
    async def handle(event):
        async with engine.begin() as conn:
            if await claim_event(conn, inbox, "idem", str(event.event_id)):
                await conn.execute(insert(handled).values(n=str(event.event_id)))

    await bus.connect(timeout=10)
    await bus.start_consuming()
    ev = TestPing(producer="test", payload={})
    for _ in range(3):
        await bus.publish(ev)  # the same event delivered three times
    other = TestPing(producer="test", payload={})
    await bus.publish(other)

    async def count():
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(inbox))

    await eventually(lambda: _ge(count, 2))
    await asyncio.sleep(0.3)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(handled.c.n))).scalars().all()
    assert sorted(rows) == sorted([str(ev.event_id), str(other.event_id)])


async def _ge(fn, n):  # noqa: ANN001
    return (await fn()) >= n


@pytest.mark.slow
async def test_consumer_and_publisher_come_back_after_the_connection_drops(make_bus, engine):
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    host_url = broker_url("tests").replace(":5672/", f":{proxy.port}/")
    consumer = make_bus(host_url)
    direct = make_bus()  # publishes straight to the broker, beside the proxy

    @consumer.subscribe("reconnect", ["test.ping"])
    async def handle(event):
        async with engine.begin() as conn:
            if await claim_event(conn, inbox, "reconnect", str(event.event_id)):
                await conn.execute(insert(handled).values(n=str(event.payload["n"])))

    await consumer.connect(timeout=10)
    await consumer.start_consuming()
    await direct.connect(timeout=10)

    async def done() -> set[str]:
        async with engine.connect() as conn:
            return set((await conn.execute(select(handled.c.n))).scalars().all())

    async def publisher():
        for n in range(200):
            await direct.publish(TestPing(producer="test", payload={"n": n}))
            await asyncio.sleep(0.01)

    pub = asyncio.create_task(publisher())
    await eventually(lambda: _async_len_ge(done, 30))
    await proxy.cut(down_for=2.0)  # every connection dropped; the broker unreachable for 2 s
    await pub
    got = await eventually(lambda: _async_len_ge(done, 200), timeout=30)
    assert got == {str(n) for n in range(200)}
    # The consumer's own publishing works again too.
    await eventually(lambda: _async(consumer.connected), timeout=15)
    await consumer.publish(TestPing(producer="test", payload={"n": "after"}))
    await eventually(lambda: _async_len_ge(done, 201), timeout=10)
    await proxy.stop()


async def _async_len_ge(fn, n):  # noqa: ANN001
    got = await fn()
    return got if len(got) >= n else None


async def test_replay_moves_parked_messages_back_once_the_cause_is_fixed(make_bus):
    bus = make_bus(retry_delays_s=[])
    broken = {"on": True}
    seen = []

    @bus.subscribe("replay", ["test.ping"])
    async def handle(event):
        if broken["on"]:
            raise RuntimeError("missing reference data")
        seen.append(event.payload["n"])

    await bus.connect(timeout=10)
    await bus.start_consuming()
    for n in range(3):
        await bus.publish(TestPing(producer="test", payload={"n": n}))

    async def parked_count():
        conn = await aio_pika.connect(AMQP_URL)
        try:
            ch = await conn.channel()
            q = await ch.declare_queue(bus.queue_names("replay")["parking"], passive=True)
            return q.declaration_result.message_count
        finally:
            await conn.close()

    await eventually(lambda: _ge(parked_count, 3))
    broken["on"] = False
    assert await bus.replay_parked("replay") == 3
    await eventually(lambda: _async(len(seen) == 3))
    assert sorted(seen) == [0, 1, 2]
    assert await parked_count() == 0
