"""A broker cluster that loses a node (issue 16): three RabbitMQ nodes on this machine behind a
failover proxy; catalogue, allocation and notifier run their quorum queues on it; the node leading
them is killed (-9) while feed events and applications flow. Nothing is lost, nothing applied twice."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid

import aiohttp
import pytest

from scripts.broker_users import apply_local
from services.catalogue.demo import municipality_feed
from shared.broker import VHOST
from tests.processes import System
from tests.rabbit_cluster import FailoverProxy, RabbitCluster
from tests.test_allocation_service import form

FEEDS = ("2480", "2482", "2460")  # Umeå first (applied to), then Skellefteå and Vännäs while the node dies
APPLICATIONS = 120


def count(db: str, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_the_services_lose_nothing_when_the_leading_broker_node_dies(tmp_path, smtp):
    cluster = RabbitCluster(tmp_path / "rabbit")
    proxy = FailoverProxy([n.port for n in cluster.nodes])
    system = System(tmp_path, smtp_port=smtp.port)
    figures: dict = {}
    try:
        await asyncio.to_thread(cluster.start)
        apply_local(cluster.run_on(cluster.nodes[0]))  # the same users, passwords and permissions
        await proxy.start()
        system.amqp_port = proxy.port
        for s in ("catalogue", "allocation", "notifier"):
            system.add(s)
            system.start(s)
        await asyncio.gather(*(system.wait_ready_async(s) for s in system.procs))
        token = system.cli("catalogue", "token", "create", "--region")
        feeds = {m: municipality_feed(m) for m in FEEDS}
        occurrences = {m: [e["id"] for e in f["educationEvents"]]
                       for m, f in feeds.items()}
        alloc_db = str(tmp_path / "allocation.db")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            async def push(muni: str) -> None:
                async with http.put(f"{system.procs['catalogue'].url}/v1/feeds/{muni}", json=feeds[muni],
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200, await r.text()

            await push(FEEDS[0])
            umea = occurrences[FEEDS[0]]
            for _ in range(600):
                if count(alloc_db, "select count(*) from occurrences") >= len(umea):
                    break
                await asyncio.sleep(0.1)
            assert count(alloc_db, "select count(*) from occurrences") == len(umea)

            queue = f"test.{system.run_id}.allocation.catalogue"
            leader = cluster.leader(queue, VHOST)
            assert leader is not None, "the queue has a leader before the fault"
            figures["leaders_before"] = {q: cluster.leader(f"test.{system.run_id}.{q}", VHOST) for q in (
                "allocation.catalogue", "allocation.applications", "notifier.mail")}

            emails = [f"cluster{i}-{uuid.uuid4().hex[:6]}@example.se" for i in range(APPLICATIONS)]
            accepted: list[str] = []

            async def apply_all() -> None:
                for i, email in enumerate(emails):
                    body = form([umea[i % len(umea)]], email=email)
                    for attempt in range(50):  # the service answers 5xx only while it cannot commit
                        async with http.post(f"{system.procs['allocation'].url}/v1/applications", json=body) as r:
                            if r.status == 202:
                                accepted.append(email)
                                break
                            assert r.status >= 500, (r.status, await r.text())
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(0.05)

            applying = asyncio.create_task(apply_all())
            pushing = asyncio.gather(*(push(m) for m in FEEDS[1:]))
            await asyncio.sleep(1.5)  # in the middle of both flows
            cluster.kill(cluster.node(leader))
            killed_at = time.monotonic()
            figures["applications_accepted_before_the_kill"] = len(accepted)
            for _ in range(600):
                new = cluster.leader(queue, VHOST)
                if new is not None and new != leader:
                    break
                await asyncio.sleep(0.05)
            # Polled through the CLI (about 0.3 s a call), so this is an upper bound.
            figures["seconds_without_a_leader"] = round(time.monotonic() - killed_at, 2)
            assert new not in (None, leader), "no new leader"
            await asyncio.wait_for(asyncio.gather(applying, pushing), 240)
            assert 0 < figures["applications_accepted_before_the_kill"] < APPLICATIONS  # it died mid-flow
            assert len(accepted) == APPLICATIONS

            sent_occurrences = sum(len(o) for o in occurrences.values())
            for _ in range(1200):
                known = count(alloc_db, "select count(*) from occurrences")
                if known >= sent_occurrences and len(smtp.messages) >= APPLICATIONS:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # a late duplicate would show in this time (the counts are exact below)
            received = [m["To"].addresses[0].addr_spec for m in smtp.messages]
            figures.update({
                "feed_events_sent": count(str(tmp_path / "catalogue.db"), "select count(*) from outbox"),
                "occurrences_sent": sent_occurrences, "occurrences_received": known,
                "applications_sent": APPLICATIONS, "confirmation_mails_received": len(set(received)),
                "lost": (sent_occurrences - known) + (APPLICATIONS - len(set(received))),
                "duplicated": len(received) - len(set(received)),
                "killed": leader,
            })
            print("cluster figures:", json.dumps(figures))
            (tmp_path / "figures.json").write_text(json.dumps(figures, indent=1))
            assert known == sent_occurrences, figures
            assert sorted(set(received)) == sorted(emails), figures
            assert figures["duplicated"] == 0, figures
    finally:
        system.stop_all()
        await proxy.stop()
        await asyncio.to_thread(cluster.stop)
