"""Chat benchmark: the time of a chat turn through HTTP with the demo catalogue loaded.

Starts the catalogue, search and guidance as their own processes on fresh storage, loads the demo feeds of
all 15 municipalities, then holds conversations: a first message about work and goals (the
development set's learner texts, or a few built-in ones), then refinements (distance, a move, pace).
Last line: {"turns", "p50_ms", "p95_ms"}. --quick: fewer conversations, under a minute after setup.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import free_port, percentile, stop, wait_ready  # noqa: E402

from services.catalogue import demo  # noqa: E402
from shared.reference import municipalities  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "occupations_dev.jsonl"
OPENINGS = ["Jag har jobbat som barnskötare i tio år men vill bli undersköterska, bor i Sorsele och kan inte flytta",
            "I have worked in a restaurant kitchen for five years and want to become a chef",
            "عملت في رعاية المسنين لمدة عشر سنوات وأريد أن أصبح ممرضة مساعدة",
            "Jag vill bli elektriker och bor i Skellefteå", "Jag behöver läsa svenska och matematik för att söka vidare"]
REFINEMENTS = ["helst på distans", "jag bor i Lycksele nu", "deltid passar mig bäst", "jag kan börja till hösten"]


async def run(conversations: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="vux-bench-chat-")
    common = {**os.environ, "EVENTS_EXCHANGE": f"vux.bench.{uuid.uuid4().hex[:8]}",
              "QUEUE_PREFIX": f"bench.{uuid.uuid4().hex[:6]}.", "LOG_LEVEL": "WARNING"}
    cport, sport, gport = free_port(), free_port(), free_port()
    cenv = {**common, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/c.db", "HTTP_PORT": str(cport)}
    senv = {**common, "HTTP_PORT": str(sport), "CATALOGUE_URL": f"http://127.0.0.1:{cport}",
            "INSTANCE_NAME": f"bench{sport}", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/s.db"}
    genv = {**common, "HTTP_PORT": str(gport), "SEARCH_URL": f"http://127.0.0.1:{sport}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/g.db", "CHAT_RATE_PER_MINUTE": "100000"}
    token = subprocess.run([sys.executable, "-m", "services.catalogue", "token", "create", "--region"], cwd=ROOT,
                           env=cenv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    procs = [subprocess.Popen([sys.executable, "-m", f"services.{s}"], cwd=ROOT, env=e, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for s, e in (("catalogue", cenv), ("search", senv), ("guidance", genv))]
    cbase, sbase, gbase = f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{sport}", f"http://127.0.0.1:{gport}"
    openings = ([json.loads(line)["query"] for line in EVAL.open(encoding="utf-8")] if EVAL.exists() else [])
    openings = (OPENINGS + openings)[:conversations] if openings else (OPENINGS * conversations)[:conversations]
    lat: list[float] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
            await wait_ready(http, f"{cbase}/readyz")
            await wait_ready(http, f"{sbase}/readyz")
            await wait_ready(http, f"{gbase}/readyz")
            headers = {"Authorization": f"Bearer {token}"}
            for code in municipalities():
                async with http.put(f"{cbase}/v1/feeds/{code}", json=demo.municipality_feed(code),
                                    headers=headers) as r:
                    assert r.status == 200, await r.text()
            async with http.get(f"{cbase}/v1/courses", params={"limit": "1"}) as r:
                courses = (await r.json(content_type=None))["total"]
            while True:  # loaded when every course is in the index (its size is on /metrics)
                async with http.get(f"{sbase}/metrics") as r:
                    text = await r.text()
                have = [float(line.split()[-1]) for line in text.splitlines()
                        if line.startswith('vux_search_index_documents{kind="course"}')]
                if have and have[0] >= courses:
                    break
                await asyncio.sleep(0.5)
            for i, opening in enumerate(openings):
                session = None
                for message in [opening] + [REFINEMENTS[(i + k) % len(REFINEMENTS)] for k in range(2)]:
                    t = time.perf_counter()
                    async with http.post(f"{gbase}/v1/chat", json={"session_id": session, "message": message}) as r:
                        out = await r.json(content_type=None)
                        assert r.status == 200, out
                    lat.append((time.perf_counter() - t) * 1000)
                    if os.environ.get("BENCH_TRACE"):
                        print(f"{lat[-1]:.0f} ms {len(message)} chars {out.get('took_ms')}", file=sys.stderr)
                    session = out["session_id"]
    finally:
        stop(procs)
    lat = lat[3:]  # the first turns warm caches up
    lat.sort()
    return {"turns": len(lat), "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(percentile(lat, 0.95), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(20 if args.quick else 120))))


if __name__ == "__main__":
    main()
