"""Several replicas against one broker and one PostgreSQL: search replicas and an embed worker embed each
distinct text once between them and answer the same; a replica started later embeds nothing and is
ready within seconds; two notifier processes share the e-mails, none sent twice."""
import asyncio
import re
import time

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.catalogue.demo import catalogue_feed, municipality_feed
from shared.bus import Bus
from shared.events import ApplicationReceived, ApplicationReceivedPayload, Contact, OccurrenceRef
from tests.conftest import broker_url, create_pg_database, drop_pg_database
from tests.processes import System

pytestmark = pytest.mark.slow
QUERIES = ["Jag vill bli undersköterska", "svetsning", "I want to learn Swedish", "lastbilschaufför"]


async def metric(http: aiohttp.ClientSession, url: str, name: str) -> float:
    async with http.get(f"{url}/metrics") as r:
        m = re.search(rf"^{name} ([0-9.e+]+)$", await r.text(), re.M)
    return float(m.group(1)) if m else 0.0


async def embedded(http: aiohttp.ClientSession, url: str) -> float:
    return await metric(http, url, "vux_search_texts_embedded_total")


@pytest.mark.timeout(900)  # three processes load the model and embed 1,094 course texts on two cores
async def test_each_distinct_text_is_embedded_once_across_replicas_and_workers(tmp_path):
    system = System(tmp_path)
    dbs = {s: f"vux_test_{system.run_id}_{s}" for s in ("catalogue", "search")}
    for s, name in dbs.items():
        system.database_urls[s] = await create_pg_database(name)
    system.add("catalogue")
    system.add("search")
    system.add("search", "search-b")
    system.add("search", "embed", "embed-worker", "--port", "{port}")
    try:
        for name in system.procs:
            system.start(name)
        await asyncio.gather(*(system.wait_ready_async(n) for n in system.procs))
        token = system.cli("catalogue", "token", "create", "--region")
        feed = catalogue_feed(2 * 1094)  # every course text of ../shared/data's Gy2011 catalogue, twice offered
        url = {n: p.url for n, p in system.procs.items()}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
            async with http.put(f"{url['catalogue']}/v1/feeds/2480", json=feed,
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200, await r.text()

            async def held(name: str) -> dict:
                async with http.get(f"{url[name]}/v1/index/digests") as r:
                    return await r.json(content_type=None)

            end = time.monotonic() + 900
            while time.monotonic() < end:
                a, b = await held("search"), await held("search-b")
                if len(a["documents"]) == len(b["documents"]) == 1094 and not a["unembedded"] and not b["unembedded"]:
                    break
                await asyncio.sleep(1)
            assert len(a["documents"]) == 1094 and a == b, (len(a["documents"]), len(b["documents"]))
            distinct = len({(c["content"]["title"]["strings"][0]["value"],
                             c["content"]["description"]["strings"][0]["value"]) for c in feed["educationInfos"]})
            assert await metric(http, url["search"], "vux_search_index_texts") == distinct
            counts = {n: await embedded(http, url[n]) for n in ("search", "search-b", "embed")}
            assert sum(counts.values()) == distinct, counts  # each text once, whoever did it
            assert counts["embed"] > 0, counts  # the worker took its share

            async def answers(name: str) -> list:
                out = []
                for q in QUERIES:
                    async with http.post(f"{url[name]}/v1/search", json={"text": q, "limit": 5}) as r:
                        out.append([(x["id"], x["score"]) for x in (await r.json(content_type=None))["results"]])
                return out

            first = await answers("search")
            assert all(first) and first == await answers("search-b")
            # A third replica: ready within seconds, from the stored vectors, embedding nothing.
            system.add("search", "search-c")
            started = time.monotonic()
            system.start("search-c")
            await system.wait_ready_async("search-c", timeout=60)
            ready_s = time.monotonic() - started
            url["search-c"] = system.procs["search-c"].url
            assert ready_s <= 10, ready_s
            assert await embedded(http, url["search-c"]) == 0
            assert await answers("search-c") == first
            print("replicas:", {"distinct_texts": distinct, "embedded": counts, "third_ready_s": round(ready_s, 1)})
    finally:
        system.stop_all()
        await system.delete_queues()
        for name in dbs.values():
            await drop_pg_database(name)


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
                        out.append([(x["id"], x["score"]) for x in (await r.json(content_type=None))["results"]])
                return out

            for _ in range(300):
                a, b = await answers("search"), await answers("search-b")
                if a == b and all(a) and any(x[0] == "i.2480.OMVOMV01" for x in a[0] + a[1] + a[2] + a[3]) \
                        and len(a[0]) == 5:
                    break
                await asyncio.sleep(0.2)
            assert a == b and all(a), (a, b)

        # 60 receipts to send; the two notifiers compete for them.
        bus = Bus(broker_url("allocation"), producer="allocation", exchange=f"vux.test.{system.run_id}",
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
        engine = create_async_engine(system.database_urls["notifier"])
        try:
            from services.notifier.storage import deliveries

            for _ in range(300):  # every delivery recorded as sent: no replica will send one again
                async with engine.connect() as conn:
                    sent = (await conn.execute(select(func.count()).select_from(deliveries)
                                               .where(deliveries.c.status == "sent"))).scalar()
                if sent == 60:
                    break
                await asyncio.sleep(0.1)
            async with engine.connect() as conn:
                rows = (await conn.execute(select(deliveries.c.claimed_by, func.count())
                                           .group_by(deliveries.c.claimed_by))).all()
        finally:
            await engine.dispose()
        rcpts = sorted(m["To"].addresses[0].addr_spec for m in smtp.messages)
        assert rcpts == sorted(f"l{i}@example.se" for i in range(60))  # each once, none missing
        by = dict(rows)
        assert set(by) == {"notifier", "notifier-b"} and sum(by.values()) == 60, by  # both did a share
    finally:
        system.stop_all()
        await system.delete_queues()
        for name in dbs.values():
            await drop_pg_database(name)
