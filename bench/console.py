"""Console benchmark: the staff pages over a county-sized year.

100,000 confirmed applications (1-5 choices each) over 3,000 course occurrences in the 15
municipalities, chat interest, a needs analysis and an adopted distribution are written into a fresh
allocation database; the allocation service and the console run as their own processes; one
admission round is run through the API. Then each page is asked for through HTTP by a signed-in
regional coordinator, and so is the API behind it, one request at a time: the demand page (/needs),
the report page (/reports), the round page (/rounds/{id}) and a round's occurrence page.
Last line: one JSON object {"applications", "p50_ms", "p95_ms", "slowest_page", ...}; target p95 <= 300 ms.
--quick: 10,000 applications over 300 occurrences, fewer requests.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import drop_broker_names, free_port, percentile, stop, wait_ready  # noqa: E402

from services.allocation import storage  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.reference import municipalities, subject_areas  # noqa: E402
from shared.tokens import STAFF_HEADER  # noqa: E402

NEEDS = ROOT / "docs" / "needs-analysis-example.csv"


def cli(service: str, env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", f"services.{service}", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


async def load(db_url: str, n_app: int, n_occ: int, seed: int = 1) -> list[str]:
    """The year's data, written straight into the allocation service's tables (its migrations ran)."""
    rng = random.Random(seed)
    codes = sorted(municipalities())
    areas = sorted(set(subject_areas().values()) - {"Allmänna ämnen"})
    now = datetime.now(timezone.utc)
    occ_rows = []
    for i in range(n_occ):
        muni = codes[i % len(codes)] if rng.random() < 0.5 else "2480" if rng.random() < 0.6 else "2482"
        area = rng.choice(areas)
        occ_rows.append({"id": f"bench.{i}", "course_id": f"bench.c{i % (n_occ // 3 or 1)}", "course_code": f"C{i}",
                         "title": f"{area} {i}", "municipality_code": muni, "area": area,
                         "start": date(2027, 1, 18), "places": rng.randint(8, 30), "funded_places": None,
                         "active": True, "updated_at": now})
    ids = [o["id"] for o in occ_rows]
    weights = [1 / (1 + i) ** 0.6 for i in range(n_occ)]  # some courses are much more wanted than others
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(storage.occurrences.insert(), occ_rows)
            apps, chs = [], []
            for i in range(n_app):
                aid = str(uuid.UUID(int=rng.getrandbits(128)))
                created = now - timedelta(days=rng.randint(0, 200))
                apps.append({"id": aid, "submission_id": f"s{i}", "form_hash": "-", "secret_hash": "-",
                             "name": f"Sökande {i}", "email": f"a{i}@example.se",
                             "email_key": hashlib.sha256(f"a{i}".encode()).hexdigest(), "lang": "sv",
                             "home_municipality": rng.choice(codes), "education_level": "primary",
                             "employment": "unemployed", "priority_group": rng.choice((1, 2, 3)),
                             "priority_reason": "-", "status": "received", "created_at": created,
                             "confirmed_at": created})
                picks = list(dict.fromkeys(rng.choices(ids, weights=weights, k=rng.randint(1, 5))))
                chs += [{"application_id": aid, "rank": r, "occurrence_id": o, "approval": "approved",
                         "state": "open", "reserve_position": None} for r, o in enumerate(picks, start=1)]
                if len(apps) == 10_000:
                    await conn.execute(storage.applications.insert(), apps)
                    await conn.execute(storage.choices.insert(), chs)
                    apps, chs = [], []
            if apps:
                await conn.execute(storage.applications.insert(), apps)
                await conn.execute(storage.choices.insert(), chs)
            await conn.execute(storage.chat_demand.insert(), [
                {"area": a, "municipality_code": m, "turns": rng.randint(0, 400)} for a in areas for m in codes])
    finally:
        await engine.dispose()
    return ids


async def timed(http: aiohttp.ClientSession, url: str, n: int, **kw) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with http.get(url, **kw) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"{url}: {r.status}")
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def main(n_app: int, n_occ: int, n_req: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="vux-bench-console-"))
    run = uuid.uuid4().hex[:8]
    exchange, prefix = f"vux.bench.{run}", f"bench.{run}."  # the names the broker users may use
    base = {**os.environ, "EVENTS_EXCHANGE": exchange, "QUEUE_PREFIX": prefix, "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}
    ports = {"allocation": free_port(), "console": free_port()}
    dbs = {s: f"sqlite+aiosqlite:///{tmp}/{s}.db" for s in ports}
    env = {s: {**base, "DATABASE_URL": dbs[s], "HTTP_PORT": str(ports[s]),
               "ALLOCATION_URL": f"http://127.0.0.1:{ports['allocation']}"} for s in ports}
    token = cli("allocation", env["allocation"], "token", "create", "--console")  # also creates the schema
    env["console"]["ALLOCATION_TOKEN"] = token
    password = "bench-" + uuid.uuid4().hex
    subprocess.run([sys.executable, "-m", "services.console", "staff", "create", "bench", "--name", "Bench",
                    "--role", "regional", "--password-stdin"], cwd=ROOT, env=env["console"], input=password + "\n",
                   text=True, check=True, capture_output=True)
    t0 = time.perf_counter()
    occ_ids = await load(dbs["allocation"], n_app, n_occ)
    print(f"loaded {n_app} applications over {n_occ} occurrences in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)
    procs = [subprocess.Popen([sys.executable, "-m", f"services.{s}"], cwd=ROOT, env=env[s]) for s in ports]
    alloc = f"http://127.0.0.1:{ports['allocation']}"
    console = f"http://127.0.0.1:{ports['console']}"
    api = {"Authorization": f"Bearer {token}", STAFF_HEADER: "regional - Bench"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            print("waiting for allocation", file=sys.stderr)
            await wait_ready(http, f"{alloc}/readyz", timeout=60)
            print("waiting for console", file=sys.stderr)
            await wait_ready(http, f"{console}/readyz", timeout=60)
            async with http.post(f"{alloc}/v1/needs", data=NEEDS.read_bytes(),
                                 headers={**api, "Content-Type": "text/csv"}) as r:
                needs = await r.json()
            figures = [{"code": c, "name": m.name, "population": 1000 + 100 * i, "unemployed": 50 + i,
                        "own_places": 1000} for i, (c, m) in enumerate(sorted(municipalities().items()))]
            async with http.post(f"{alloc}/v1/distributions", headers=api, json={
                    "year": date.today().year, "total_places": 3000, "municipalities": figures,
                    "regional_needs": needs["weights"]}) as r:
                dist = await r.json()
            async with http.post(f"{alloc}/v1/distributions/{dist['distribution_id']}/adopt", headers=api) as r:
                assert r.status == 200, await r.text()
            t0 = time.perf_counter()
            async with http.post(f"{alloc}/v1/rounds", headers=api, json={"seed": "bench"}) as r:
                rnd = await r.json()
            round_s = time.perf_counter() - t0
            print(f"round: {rnd['offers']} offers, {rnd['waitlisted']} waitlisted in {round_s:.1f}s", file=sys.stderr)
            async with http.post(f"{console}/signin", data={"username": "bench", "password": password},
                                 allow_redirects=False) as r:
                assert r.status == 303, await r.text()
            year = date.today().year
            period = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
            oid = random.Random(2).choice(occ_ids[:50])  # a wanted course: a long reserve list
            rid = rnd["round_id"]
            pages = {
                "demand page": (f"{console}/needs", {}),
                "demand API": (f"{alloc}/v1/demand", {"headers": api}),
                "report page": (f"{console}/reports", {"params": period}),
                "report API": (f"{alloc}/v1/reports", {"headers": api, "params": period}),
                "round page": (f"{console}/rounds/{rid}", {}),
                "round API": (f"{alloc}/v1/rounds/{rid}/occurrences", {"headers": api}),
                "round occurrence page": (f"{console}/rounds/{rid}/occurrences/{oid}", {}),
                "round occurrence API": (f"{alloc}/v1/rounds/{rid}/occurrences/{oid}", {"headers": api}),
            }
            for url, kw in pages.values():
                await timed(http, url, 2, **kw)  # warm: first connections, caches
            times = {name: sorted(await timed(http, url, n_req, **kw)) for name, (url, kw) in pages.items()}
    finally:
        stop(procs)
        await drop_broker_names("amqp://guest:guest@127.0.0.1:5672/vux", prefix, exchange)
    every = sorted(t for ts in times.values() for t in ts)
    per = {name: {"p50_ms": round(percentile(ts, 0.5), 1), "p95_ms": round(percentile(ts, 0.95), 1)}
           for name, ts in times.items()}
    slowest = max(per, key=lambda k: per[k]["p95_ms"])
    for name, p in per.items():
        print(f"{name:<24} p50 {p['p50_ms']:7.1f} ms   p95 {p['p95_ms']:7.1f} ms", file=sys.stderr)
    return {"applications": n_app, "occurrences": n_occ, "requests": len(every),
            "p50_ms": round(percentile(every, 0.5), 1), "p95_ms": round(percentile(every, 0.95), 1),
            "slowest_page": slowest, "slowest_p95_ms": per[slowest]["p95_ms"], "round_s": round(round_s, 1),
            "pages": per}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    out = asyncio.run(main(10_000, 300, 10) if args.quick else main(100_000, 3_000, 40))
    print(json.dumps(out))
