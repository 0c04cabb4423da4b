"""End-to-end load: the five services started by `make run`'s launcher, learners chatting and applying
while a municipality pushes a large feed.

20 simulated learners each hold conversations (an opening about work and goals, two refinements, a
pause of 0.5-2 s between turns as a fast typist would) and apply to the first suggested occurrences,
for 60 s; at the start one municipality pushes a 5,000-occurrence feed. Measured: chat turn p95
through HTTP, the time from that push until the search index equals the catalogue (every document
searchable), and the receipts e-mailed (to a real SMTP server, aiosmtpd) against the applications
accepted, with duplicates by Message-ID.
Last line: {"learners", "chat_p95_ms", "feed_to_search_s", "emails_expected", "emails_delivered",
"duplicates"} plus a few more figures. --quick: 15 s of load and an 80-occurrence feed (under a minute).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import drop_broker_names, free_port, percentile  # noqa: E402

from deploy.launcher import ORDER, service_env  # noqa: E402
from services.catalogue import demo  # noqa: E402
from services.search.index_check import check  # noqa: E402

OPENINGS = ["Jag har jobbat som barnskötare i tio år men vill bli undersköterska och bor i Umeå",
            "I have worked in a restaurant kitchen for five years and want to become a chef",
            "Jag vill bli elektriker och bor i Skellefteå", "Jag har kört lastbil i många år och vill bli busschaufför",
            "Jag behöver läsa svenska och matematik för att söka vidare",
            "عملت في رعاية المسنين لمدة عشر سنوات وأريد أن أصبح ممرضة مساعدة",
            "I want to work with children in a preschool", "Jag har jobbat som städare och vill utbilda mig till vårdbiträde"]
REFINEMENTS = ["helst på distans", "jag kan pendla", "deltid passar mig bäst", "jag kan börja till hösten",
               "jag bor i Lycksele nu", "heltid"]


class Inbox:
    """A real SMTP server in this process, counting what arrives."""

    def __init__(self) -> None:
        self.ids: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        m = re.search(rb"^Message-ID:\s*(\S+)", envelope.original_content, re.M | re.I)
        with self.lock:
            self.ids[m.group(1).decode() if m else uuid.uuid4().hex] += 1
        return "250 Message accepted"


async def learner(n: int, http: aiohttp.ClientSession, base: str, until: float, rng: random.Random,
                  lat: list[float], applied: list[str]) -> None:
    conv = 0
    await asyncio.sleep(rng.uniform(0.0, 2.0))  # people arrive over a moment, not in the same millisecond
    while time.monotonic() < until:
        conv += 1
        session, suggestions = None, []
        for msg in [rng.choice(OPENINGS)] + rng.sample(REFINEMENTS, 2):
            if time.monotonic() >= until:
                return
            t = time.perf_counter()
            async with http.post(f"{base}/v1/chat", json={"session_id": session, "message": msg}) as r:
                out = await r.json(content_type=None)
            lat.append((time.perf_counter() - t) * 1000)
            if os.environ.get("BENCH_TRACE"):
                print(f"TRACE {time.monotonic():.2f} {lat[-1]:.0f} {msg[:30]!r}", file=sys.stderr)
            if r.status != 200:
                raise RuntimeError(f"chat turn failed: {r.status} {out}")
            session, suggestions = out["session_id"], out["suggestions"]
            await asyncio.sleep(rng.uniform(0.5, 2.0))
        occ = [o["id"] for s in suggestions if s["kind"] == "course" for o in s.get("occurrences", [])][:2]
        if not occ:
            continue
        email = f"learner{n}.{conv}@bench.example"
        async with http.post(f"{base}/v1/chat/apply", json={
            "session_id": session, "choices": occ, "consent": True,
            "applicant": {"name": f"Learner {n}", "email": email, "home_municipality": "2480",
                          "education_level": rng.choice(["primary", "upper_secondary"]),
                          "employment": rng.choice(["unemployed", "employed"])}}) as r:
            if r.status == 202:
                applied.append(email)
            else:
                raise RuntimeError(f"apply failed: {r.status} {await r.text()}")


async def indexed_courses(http: aiohttp.ClientSession, search: str) -> float:
    async with http.get(f"{search}/metrics") as r:
        text = await r.text()
    return next((float(line.split()[-1]) for line in text.splitlines()
                 if line.startswith('vux_search_index_documents{kind="course"}')), 0.0)


async def run(quick: bool) -> dict:
    from aiosmtpd.controller import Controller

    tmp = Path(tempfile.mkdtemp(prefix="vux-bench-e2e-"))
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    run_id = uuid.uuid4().hex[:8]
    ports = {s: free_port() for s in ORDER}
    env = {**os.environ, "EVENTS_EXCHANGE": f"vux.bench.{run_id}", "QUEUE_PREFIX": f"bench.{run_id}.",
           "LOG_LEVEL": "WARNING", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
           "CHAT_RATE_PER_MINUTE": "100000", "APPLY_RATE_PER_MINUTE": "100000",
           "SEARCH__INSTANCE_NAME": f"bench-{run_id}"}
    for s, port in ports.items():
        env[f"{s.upper()}_PORT"] = str(port)
        env[f"{s.upper()}__DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp}/{s}.db"
    launcher = subprocess.Popen([sys.executable, "-m", "deploy.launcher", "--var", str(tmp / "var"), "--no-demo"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    try:
        t_start = time.monotonic()
        for line in launcher.stdout:
            if "Press Ctrl-C" in line:
                break
        else:
            raise RuntimeError("the launcher stopped before the system was up")
        threading.Thread(target=lambda: [None for _ in launcher.stdout], daemon=True).start()
        token = subprocess.run([sys.executable, "-m", "services.catalogue", "token", "create", "--region"],
                               cwd=ROOT, env=service_env("catalogue", env), capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[-1]
        cat, search = f"http://127.0.0.1:{ports['catalogue']}", f"http://127.0.0.1:{ports['search']}"
        guidance = f"http://127.0.0.1:{ports['guidance']}"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
            # A catalogue to chat about: demo feeds, all searchable before the load starts.
            for code in (["2460"] if quick else ["2480", "2481", "2482", "2422", "2460", "2462"]):
                async with http.put(f"{cat}/v1/feeds/{code}", json=demo.municipality_feed(code), headers=headers) as r:
                    assert r.status == 200, await r.text()
            while not (await check(search, cat))["equal"]:
                await asyncio.sleep(1.0)
            print(f"system up in {time.monotonic() - t_start:.0f} s (demo feeds searchable)", file=sys.stderr)

            big = demo.municipality_feed("2482", target_occurrences=80 if quick else 5000)
            duration = 15.0 if quick else 60.0
            lat: list[float] = []
            applied: list[str] = []
            t0 = time.monotonic()
            until = t0 + duration

            async def push_and_wait() -> float:
                async with http.put(f"{cat}/v1/feeds/2482", json=big, headers=headers,
                                    params={"confirm_withdrawals": "true"}) as r:
                    assert r.status == 200, await r.text()
                async with http.get(f"{cat}/v1/courses", params={"limit": "1"}) as r:
                    total = (await r.json(content_type=None))["total"]
                # Watch the index size (cheap), then confirm with the full comparison, which reads the
                # whole catalogue and would itself load the machine if run every second.
                while True:
                    if await indexed_courses(http, search) >= total:
                        done = time.monotonic() - t0
                        if (await check(search, cat))["equal"]:
                            return done
                    await asyncio.sleep(0.5)

            feed_task = asyncio.create_task(push_and_wait() if not os.environ.get("BENCH_NO_FEED") else asyncio.sleep(0, 0.0))
            await asyncio.gather(*(learner(i, http, guidance, until, random.Random(i), lat, applied)
                                   for i in range(20)))
            feed_to_search = await feed_task
            expected = len(applied)
            deadline = time.monotonic() + 120
            while len(inbox.ids) < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            await asyncio.sleep(2.0)  # a duplicate would arrive about now
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(60)
        except subprocess.TimeoutExpired:
            launcher.kill()
        smtp.stop()
        await drop_broker_names("amqp://guest:guest@127.0.0.1:5672/vux", env["QUEUE_PREFIX"],
                                env["EVENTS_EXCHANGE"])
    lat.sort()
    return {"learners": 20, "chat_p95_ms": round(percentile(lat, 0.95), 1),
            "feed_to_search_s": round(feed_to_search, 1), "emails_expected": expected,
            "emails_delivered": len(inbox.ids), "duplicates": sum(n - 1 for n in inbox.ids.values()),
            "chat_turns": len(lat), "chat_p50_ms": round(percentile(lat, 0.5), 1),
            "feed_occurrences": len(big["educationEvents"]), "load_s": duration}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="15 s of load and a small feed")
    args = ap.parse_args()
    t0 = time.monotonic()
    out = asyncio.run(run(args.quick))
    print(f"took {time.monotonic() - t0:.0f} s", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
