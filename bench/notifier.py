"""Notifier benchmark: 10,000 events through RabbitMQ to a local aiosmtpd server.

Runs the notifier as its own process on a fresh database and measures e-mails per second (first
publish to last e-mail received), its peak resident memory, and duplicates and lost e-mails
(both must be 0). Last line: one JSON object. --quick: 1,000 events.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import free_port, peak_mb  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

from shared.broker import local_url  # noqa: E402
from shared.bus import Bus  # noqa: E402
from shared.events import ApplicationReceived  # noqa: E402





class Counter:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        for line in envelope.original_content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        self.last = time.perf_counter()
        return "250 OK"



async def main(n: int) -> dict:
    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    tmp = tempfile.mkdtemp(prefix="vux-bench-")
    exchange, prefix, port = f"vux.bench.{uuid.uuid4().hex[:8]}", f"bench.{uuid.uuid4().hex[:6]}.", free_port()
    env = {**os.environ, "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/n.db"),
           "HTTP_PORT": str(port), "SMTP_PORT": str(smtp.port), "EVENTS_EXCHANGE": exchange, "QUEUE_PREFIX": prefix,
           "LOG_LEVEL": "WARNING", "CONSUMER_PREFETCH": "64"}
    proc = subprocess.Popen([sys.executable, "-m", "services.notifier"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bus = Bus(local_url("allocation"), producer="allocation", exchange=exchange)  # receipts come from allocation
    try:
        import urllib.request

        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            await asyncio.sleep(0.1)
        await bus.connect(timeout=10)
        events = [ApplicationReceived(producer="allocation", payload={
            "application_id": str(uuid.uuid4()), "contact": {"name": f"Learner {i}", "email": f"l{i}@example.se"},
            "home_municipality": "2480", "choices": [{"id": "e.1", "title": "Svenska 1", "municipality_code": "2480"}],
            "status_url": "https://vux.example/a"}) for i in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, 200):
            await asyncio.gather(*(bus.publish(e) for e in events[i:i + 200]))
        publish_s = time.perf_counter() - t0
        deadline = time.perf_counter() + max(60, n / 20)
        while len(set(counter.ids)) < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # anything late would be a duplicate
        seconds = (counter.last or time.perf_counter()) - t0
        mem = peak_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        try:
            ch = await bus._conn.channel()
            for q in ("mail", "erasure"):
                for suffix in ("", ".parking", ".retry.1", ".retry.2", ".retry.3"):
                    await ch.queue_delete(f"{prefix}notifier.{q}{suffix}")
            await ch.exchange_delete(exchange)
        except Exception:  # noqa: BLE001
            pass
        await bus.close()
        smtp.stop()
    distinct = len(set(counter.ids))
    return {"events": n, "emails_per_s": round(distinct / seconds, 1), "peak_mb": round(mem, 1),
            "duplicates": len(counter.ids) - distinct, "lost": n - distinct, "seconds": round(seconds, 2),
            "publish_s": round(publish_s, 2)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1,000 events")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(1000 if args.quick else 10_000))))
