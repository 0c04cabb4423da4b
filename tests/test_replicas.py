"""Several replicas against one broker and one PostgreSQL: two search processes (each its own queue and
index) answer the same after a feed push; two notifier processes share the e-mails, none sent twice."""
import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.catalogue.demo import municipality_feed
from shared.bus import Bus
from shared.events import ApplicationReceived, ApplicationReceivedPayload, Contact, OccurrenceRef
from tests.conftest import create_pg_database, drop_pg_database
from tests.processes import System

pytestmark = pytest.mark.slow
QUERIES = ["Jag vill bli undersköterska", "svetsning", "I want to learn Swedish", "lastbilschaufför"]


async def test_two_search_and_two_notifier_replicas(tmp_path, smtp):
    system = System(tmp_path, smtp_port=smtp.port)
    dbs = {s: f"vux_test_{system.run_id}_{s}" for s in ("catalogue", "search", "notifier")}
    for s, name in dbs.items():
        system.database_urls[s] = await create_pg_database(name)
    for name, service in (("catalogue", "catalogue"), ("search", "search"), ("search-b", "search"),
                          ("notifier", "notifier"), ("notifier-b", "notifier")):
        system.add(service, name)
    try:
        for name in system.procs:
            system.start(name)
        await asyncio.gather(*(system.wait_ready_async(n) for n in system.procs))
        token = system.cli("catalogue", "token", "create", "--region")
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{system.procs['catalogue'].url}/v1/feeds/2480", json=municipality_feed("2480"),
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200

            async def answers(name):
                out = []
                for q in QUERIES:
                    async with http.post(f"{system.procs[name].url}/v1/search", json={"text": q, "limit": 5}) as r:
                        out.append([(x["id"], x["score"]) for x in (await r.json())["results"]])
                return out

            for _ in range(300):
                a, b = await answers("search"), await answers("search-b")
                if a == b and all(a) and any(x[0] == "i.2480.OMVOMV01" for x in a[0] + a[1] + a[2] + a[3]) \
                        and len(a[0]) == 5:
                    break
                await asyncio.sleep(0.2)
            assert a == b and all(a), (a, b)

        # 60 receipts to send; the two notifiers compete for them.
        bus = Bus(system.amqp_url, producer="test", exchange=f"vux.test.{system.run_id}",
                  queue_prefix=f"test.{system.run_id}.")
        await bus.connect()
        try:
            for i in range(60):
                await bus.publish(ApplicationReceived(producer="allocation", payload=ApplicationReceivedPayload(
                    application_id=f"app-{i}", contact=Contact(name=f"Learner {i}", email=f"l{i}@example.se"),
                    home_municipality="2480", choices=[OccurrenceRef(id="e.1", title="Omvårdnad 1")])))
        finally:
            await bus.close()
        for _ in range(300):
            if len(smtp.messages) >= 60:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a duplicate would arrive about now
        rcpts = sorted(m["To"].addresses[0].addr_spec for m in smtp.messages)
        assert rcpts == sorted(f"l{i}@example.se" for i in range(60))  # each once, none missing
        engine = create_async_engine(system.database_urls["notifier"])
        try:
            from services.notifier.storage import deliveries

            async with engine.connect() as conn:
                rows = (await conn.execute(select(deliveries.c.claimed_by, func.count())
                                           .group_by(deliveries.c.claimed_by))).all()
        finally:
            await engine.dispose()
        by = dict(rows)
        assert set(by) == {"notifier", "notifier-b"} and sum(by.values()) == 60, by  # both did a share
    finally:
        system.stop_all()
        await system.delete_queues()
        for name in dbs.values():
            await drop_pg_database(name)
