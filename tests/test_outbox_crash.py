"""The transactional outbox: a catalogue killed between commit and publish loses no event."""
import asyncio
import json
import os
import signal
import subprocess
import sys

import aiohttp
import pytest
from sqlalchemy import func, select

from services.catalogue import storage
from shared.db import make_engine
from tests.conftest import broker_url, free_port
from tests.feeds import bundle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_catalogue(db_url: str, amqp_url: str, port: int, bus_names: dict) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "AMQP_URL": amqp_url, "HTTP_PORT": str(port),
           "EVENTS_EXCHANGE": bus_names["events_exchange"], "QUEUE_PREFIX": bus_names["queue_prefix"],
           "OUTBOX_POLL_S": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "services.catalogue"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_http(url: str, timeout: float = 30) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout * 10)):
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


async def create_token(db_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.catalogue", "token", "create",
                                                "--region", cwd=ROOT, env=env, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode().strip().splitlines()[-1]


@pytest.mark.slow
async def test_events_committed_before_a_crash_are_published_after_restart(db_url, bus_names, collector):
    token = await create_token(db_url)
    port = free_port()
    dead_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}/"  # nothing listens there
    proc = start_catalogue(db_url, dead_broker, port, bus_names)
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://127.0.0.1:{port}/v1/feeds/2480", data=json.dumps(bundle("2480", {"A": 2, "B": 1})),
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
                report = await r.json(content_type=None)
                assert r.status == 200 and report["events"] == 2
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 503 and (await r.json(content_type=None))["checks"]["broker"] is False
    finally:
        proc.send_signal(signal.SIGKILL)  # no shutdown code runs
        proc.wait()
    engine = make_engine(db_url)
    async with engine.connect() as conn:
        waiting = await conn.scalar(select(func.count()).select_from(storage.outbox)
                                    .where(storage.outbox.c.published_at.is_(None)))
    await engine.dispose()
    assert waiting == 2
    assert collector.events == []

    proc = start_catalogue(db_url, broker_url("catalogue"), port, bus_names)
    try:
        events = await collector.wait_for(2, timeout=30)
        assert sorted(e.payload.id for e in events) == ["i.2480.A", "i.2480.B"]
        assert all(e.correlation_id for e in events)  # the push's correlation id travelled with them
        await collector.quiet(1.0)
        assert len(collector.events) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
