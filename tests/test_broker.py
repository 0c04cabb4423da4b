"""A bus that only its own services can speak on (issue 16): one broker user per service, topic
permissions from the contracts, and consumers that park what a service was not allowed to send."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import aio_pika
import aiormq

from scripts.broker_users import k8s_resources
from shared.broker import EXCHANGE, USERS, permissions
from shared.bus import Bus, quorum_args, topic_matches
from shared.events import CONSUMERS, EVENT_TYPES, PRODUCERS, parse_event
from tests.conftest import AMQP_URL, broker_url, delete_queues

ROOT = Path(__file__).resolve().parent.parent
TYPES = sorted(e.model_fields["type"].default for e in EVENT_TYPES)
PATTERNS = {r"^\d{4}$": "2480", r"^[0-9a-f]{24}$": "ab" * 12}


def example(schema: dict, defs: dict):  # noqa: ANN201
    """The smallest value a JSON schema accepts (enough for every event contract)."""
    if "$ref" in schema:
        return example(defs[schema["$ref"].split("/")[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example(next(a for a in schema["anyOf"] if a.get("type") != "null"), defs)
    if "allOf" in schema:
        return example(schema["allOf"][0], defs)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: example(v, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema.get("items", {}), defs)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        formats = {"date-time": "2027-01-01T00:00:00Z", "date": "2027-01-01", "email": "forged@example.se",
                   "uuid": str(uuid.uuid4()), "uri": "https://forged.example/"}
        return formats.get(schema.get("format")) or PATTERNS.get(schema.get("pattern")) or \
            "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    return True if kind == "boolean" else "x"


def forged(event_type: str) -> bytes:
    cls = next(e for e in EVENT_TYPES if e.model_fields["type"].default == event_type)
    schema = cls.model_json_schema()
    body = json.dumps(example(schema, schema.get("$defs", {}))).encode()
    parse_event(body)  # a valid event in every respect but its publisher
    return body


def test_permissions_follow_the_contracts():
    assert set(PRODUCERS) == set(TYPES)
    for user in USERS:
        p = permissions(user)
        writes = {t for t in TYPES if re.fullmatch(p["topic_write"], t)}
        reads = {t for t in TYPES if re.fullmatch(p["topic_read"], t)}
        assert writes == {t for t, u in PRODUCERS.items() if u == user}, user
        assert reads == set(CONSUMERS[user]), user
        assert not re.fullmatch(p["topic_read"], "#") and not re.fullmatch(p["topic_write"], "#")
        own = f"{user}.anything"
        others = [f"{u}.anything" for u in USERS if u != user]
        assert re.fullmatch(p["read"], own) and not any(re.fullmatch(p["read"], q) for q in others), user
        assert not any(re.fullmatch(p["write"], q) for q in others), user
    assert all(CONSUMERS[u] for u in USERS if u != "catalogue")


def test_each_service_subscribes_to_what_its_broker_user_may_bind():
    from services.allocation import handlers as allocation
    from services.guidance import handlers as guidance
    from services.notifier import handlers as notifier
    from services.search import handlers as search

    def keys(register, *args) -> set[str]:  # noqa: ANN001
        bus = Bus("amqp://x:y@127.0.0.1:1/vux", producer="x")
        register(bus, None, *args)
        return {k for sub in bus.subscriptions for k in sub.routing_keys}

    assert keys(search.register, "r1", True) | keys(search.register_worker) == set(CONSUMERS["search"])
    assert keys(allocation.register) == set(CONSUMERS["allocation"])
    assert keys(guidance.register) == set(CONSUMERS["guidance"])
    assert keys(notifier.register) == set(CONSUMERS["notifier"])


def test_the_cluster_declares_the_same_users_and_permissions():
    path = ROOT / "deploy" / "k8s" / "broker-users.yaml"
    assert path.read_text(encoding="utf-8") == k8s_resources(), \
        "regenerate with `python -m scripts.broker_users --k8s > deploy/k8s/broker-users.yaml`"


async def refused(conn: aio_pika.abc.AbstractConnection, action) -> bool:  # noqa: ANN001
    """Run `action(channel)` on a fresh channel; True when the broker refuses it (it closes the channel)."""
    channel = await conn.channel(publisher_confirms=True)
    try:
        await asyncio.wait_for(action(channel), 10)
    except (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.ChannelPreconditionFailed):
        return True
    finally:
        if not channel.is_closed:
            await channel.close()
    return False


async def test_a_service_can_publish_only_its_own_events_and_read_only_its_own_queues(unique):
    """On the events exchange of the vhost, as the broker itself enforces it."""
    other_queue = f"test.{unique}.notifier.mail"
    admin = await aio_pika.connect(AMQP_URL)
    ch = await admin.channel()
    await ch.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    await ch.declare_queue(other_queue, durable=True, arguments=quorum_args())
    try:
        for user in USERS:
            conn = await aio_pika.connect(broker_url(user))
            try:
                async def publish(channel, key, user_id=user):  # noqa: ANN001, ANN202
                    ex = await channel.get_exchange(EXCHANGE, ensure=False)
                    await ex.publish(aio_pika.Message(b"{}", user_id=user_id), routing_key=key, timeout=5)

                for event_type in TYPES:
                    allowed = PRODUCERS[event_type] == user
                    got = await refused(conn, lambda c, k=event_type: publish(c, k))
                    assert got is not allowed, (user, event_type, "refused" if got else "accepted")
                mine = next((t for t in TYPES if PRODUCERS[t] == user), None)
                if mine:  # its own event, claiming to be another service: the broker checks user_id
                    impostor = next(u for u in USERS if u != user)
                    assert await refused(conn, lambda c: publish(c, mine, impostor)), user
                if user != "notifier":
                    async def read_theirs(c):  # noqa: ANN001, ANN202
                        q = await c.get_queue(other_queue, ensure=False)
                        await q.get(no_ack=True, fail=False)

                    assert await refused(conn, read_theirs), user

                    async def bind_everything(c):  # noqa: ANN001, ANN202
                        q = await c.declare_queue(f"test.{unique}.{user}.spy", durable=True,
                                                  arguments=quorum_args())
                        await q.bind(EXCHANGE, "#")

                    assert await refused(conn, bind_everything), user  # would read every event
            finally:
                await conn.close()
    finally:
        await ch.close()
        await admin.close()
        await delete_queues([other_queue, *(f"test.{unique}.{u}.spy" for u in USERS)])


async def parked_reasons(queue: str) -> list[str]:
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        out = []
        while (m := await q.get(no_ack=False, fail=False)) is not None:
            out.append(str((m.headers or {}).get("x-parked-reason", "")))
        return out  # not acked: they go back when the channel closes
    finally:
        await conn.close()


async def test_forged_events_of_every_type_are_parked_with_their_reason(catalogue, allocation, notifier, search,
                                                                       guidance, smtp, bus_names):
    """Every event type, sent by the administrator and by a service that does not produce it, on the
    services' exchange: each consumer parks each copy, saying who may send it; nothing is handled."""
    services = {"allocation": allocation, "notifier": notifier, "search": search, "guidance": guidance}
    queues: dict[str, list[str]] = {}  # parking queue -> event types it receives
    for name, running in services.items():
        for sub in running.service.bus.subscriptions:
            queues[sub.names["parking"]] = [t for t in TYPES if any(topic_matches(k, t) for k in sub.routing_keys)]
    assert queues and all(queues.values()), queues
    consumed = sorted({t for types in queues.values() for t in types})
    assert set(consumed) == {t for u in USERS for t in CONSUMERS[u]}

    senders = {"guest": AMQP_URL}
    for event_type in consumed:
        wrong = next(u for u in USERS if u != PRODUCERS[event_type])
        senders.setdefault(wrong, broker_url(wrong))
    conns = {who: await aio_pika.connect(url) for who, url in senders.items()}
    sent = 0
    try:
        for event_type in consumed:
            wrong = next(u for u in USERS if u != PRODUCERS[event_type])
            for who in ("guest", wrong):
                ch = await conns[who].channel(publisher_confirms=True)
                ex = await ch.get_exchange(bus_names["events_exchange"], ensure=False)
                await ex.publish(aio_pika.Message(forged(event_type), user_id=who, message_id=str(uuid.uuid4())),
                                 routing_key=event_type)
                await ch.close()
                sent += 1
    finally:
        for conn in conns.values():
            await conn.close()
    assert sent == 2 * len(consumed)

    want = {q: 2 * len(types) for q, types in queues.items()}
    for _ in range(200):
        reasons = {q: await parked_reasons(q) for q in queues}
        if all(len(reasons[q]) >= n for q, n in want.items()):
            break
        await asyncio.sleep(0.1)
    for q, n in want.items():
        assert len(reasons[q]) == n, (q, len(reasons[q]), n)
        assert all("may only come from broker user" in r for r in reasons[q]), reasons[q]
        assert any("came from 'guest'" in r for r in reasons[q])
    # Handled, they would have sent e-mails and created applications; parked, they did nothing.
    assert smtp.messages == []
    async with allocation.service.engine.connect() as conn:
        from sqlalchemy import func, select

        from services.allocation.storage import applications

        assert await conn.scalar(select(func.count()).select_from(applications)) == 0


async def test_compose_creates_the_same_users_through_the_management_api(monkeypatch):
    """compose's broker-users: the vhost, each user with the password from its environment variable,
    and the same permissions as locally and in Kubernetes."""
    from aiohttp import web

    from scripts.broker_users import apply_http
    from tests.conftest import free_port

    seen: dict[str, dict] = {}

    async def put(request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Basic ")
        seen[request.path] = await request.json()
        return web.Response(status=201)

    app = web.Application()
    app.router.add_put("/{tail:.*}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    for user in USERS:
        monkeypatch.setenv(f"{user.upper()}_BROKER_PASSWORD", f"pw-{user}")
    try:
        assert await asyncio.to_thread(apply_http, f"http://admin:secret@127.0.0.1:{port}") == 0
    finally:
        await runner.cleanup()
    assert "/api/vhosts/vux" in seen
    for user in USERS:
        p = permissions(user)
        assert seen[f"/api/users/{user}"] == {"password": f"pw-{user}", "tags": ""}
        assert seen[f"/api/permissions/vux/{user}"] == {k: p[k] for k in ("configure", "write", "read")}
        assert seen[f"/api/topic-permissions/vux/{user}"] == {"exchange": EXCHANGE, "write": p["topic_write"],
                                                              "read": p["topic_read"]}


async def test_tidy_removes_what_runs_left_but_not_a_run_in_progress(unique):
    """Killed runs leave their quorum queues behind; thousands of them once hung a whole CI run. The
    clean-up finds them in the vux vhost and spares every queue of a run that still consumes one."""
    from scripts.broker_tidy import delete, left_behind, queues, tidy

    dead = [f"test.{unique}a.x", f"test.{unique}a.x.parking"]
    alive = [f"test.{unique}b.x", f"test.{unique}b.x.parking"]  # the parking queue has no consumer
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel()
        for name in dead + alive:
            await ch.declare_queue(name, durable=True, arguments=quorum_args())
        async def ignore(_message) -> None:  # noqa: ANN001
            pass

        await (await ch.get_queue(alive[0])).consume(ignore)
        mine = (f"test.{unique}a.", f"test.{unique}b.")
        assert await asyncio.to_thread(left_behind, mine) == sorted(dead)
        assert await asyncio.to_thread(tidy, mine) == 2
        assert await asyncio.to_thread(queues, f"test.{unique}") == sorted(alive)
    finally:
        await conn.close()
        await delete(dead + alive, url=AMQP_URL)
    assert await asyncio.to_thread(queues, f"test.{unique}") == []
