"""Catalogue benchmark: push a 20,000-occurrence snapshot, then push it again unchanged.

Measures the catalogue process (started here as its own process on a fresh database): seconds
for the push, occurrences per second, seconds until every event was published, peak resident
memory, and how many events the unchanged re-push published (must be 0).
Last line of output: one JSON object. --quick: 2,000 occurrences.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import free_port, peak_mb  # noqa: E402

from services.catalogue.demo import municipality_feed  # noqa: E402

AMQP_URL = os.environ.get("BENCH_ADMIN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/vux")  # the collector




async def main(n: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="vux-bench-")
    db_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/catalogue.db")
    exchange = f"vux.bench.{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "HTTP_PORT": str(port), "EVENTS_EXCHANGE": exchange,
           "LOG_LEVEL": "WARNING"}
    token = subprocess.run([sys.executable, "-m", "services.catalogue", "token", "create", "--region"], cwd=ROOT,
                           env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    body = json.dumps(municipality_feed("2480", target_occurrences=n)).encode()
    print(f"feed: {n} occurrences, {len(body) / 1e6:.1f} MB", file=sys.stderr)

    conn = await aio_pika.connect_robust(AMQP_URL)
    ch = await conn.channel()
    ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    q = await ch.declare_queue(exclusive=True, auto_delete=True)
    await q.bind(ex, "#")
    received = 0
    last_arrival = time.perf_counter()

    async def on_msg(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal received, last_arrival
        received += 1
        last_arrival = time.perf_counter()
        await msg.ack()

    await q.consume(on_msg)
    proc = subprocess.Popen([sys.executable, "-m", "services.catalogue"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            url = f"http://127.0.0.1:{port}/v1/feeds/2480"
            t0 = time.perf_counter()
            async with http.put(url, data=body, headers=headers) as r:
                report = await r.json(content_type=None)
            seconds = time.perf_counter() - t0
            assert r.status == 200 and report["added"] == n, report
            while received < report["events"]:
                await asyncio.sleep(0.01)
            published_s = last_arrival - t0
            first_events = received
            t1 = time.perf_counter()
            async with http.put(url, data=body, headers=headers) as r:
                again = await r.json(content_type=None)
            repush_s = time.perf_counter() - t1
            assert again["unchanged"] == n, again
            await asyncio.sleep(2.0)  # the relay polls every second; give it two chances
            republished = received - first_events
        mem = peak_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        await ch.exchange_delete(exchange)
        await conn.close()
    return {
        "occurrences": n, "seconds": round(seconds, 2), "per_s": round(n / seconds),
        "peak_mb": round(mem, 1), "republish_events": republished,
        "events": first_events, "published_s": round(published_s, 2), "repush_s": round(repush_s, 2),
        "database": db_url.split(":", 1)[0],
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2,000 occurrences, under a minute")
    ap.add_argument("--occurrences", type=int)
    args = ap.parse_args()
    n = args.occurrences or (2000 if args.quick else 20000)
    print(json.dumps(asyncio.run(main(n))))
