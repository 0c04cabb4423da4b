"""Search benchmark: catalogue + search as their own processes on fresh storage.

Generates occurrences from the real Skolverket course texts, pushes them through the catalogue,
and measures: time until all are searchable (build_s; with as many courses as occurrences, the time
until that many new texts are searchable, new_texts_searchable_s) and texts embedded per second; query
latency p50/p95 through HTTP (the development set's queries); resident memory of the search process;
freshness: time from a catalogue push of one changed course to that change being returned by search
(p95 of several); a second replica's seconds until ready (replica_ready_s), and the texts embedded by
both processes per distinct text (embedded_per_distinct; 1.0 when each text is embedded once);
passages per second through the embedder at about 256 tokens. Last line: one JSON object for the
largest size run, with the new-texts figure of the 1,000-text run.
--quick: 1,000 occurrences over 100 courses; default: 1,000 over 1,000 courses, then 100,000 over all 1,094.
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
from datetime import date, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import free_port, percentile, stop, wait_ready  # noqa: E402

from services.catalogue import demo  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "occupations_dev.jsonl"
FALLBACK_QUERIES = ["Jag har jobbat som barnskötare och vill bli undersköterska", "svetsning på verkstad",
                    "I want to learn Swedish", "lastbilschaufför med C-körkort", "kock i storkök"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def feed(n_occ: int, n_courses: int) -> dict:
    return demo.catalogue_feed(n_occ, n_courses)


async def search(http, base, text, **kw):  # noqa: ANN001
    async with http.post(f"{base}/v1/search", json={"text": text, **kw}) as r:
        return await r.json(content_type=None)


async def run(n_occ: int, n_courses: int, queries: list[str]) -> dict:
    tmp = tempfile.mkdtemp(prefix="vux-bench-search-")
    exchange, prefix = f"vux.bench.{uuid.uuid4().hex[:8]}", f"bench.{uuid.uuid4().hex[:6]}."
    cport, sport = free_port(), free_port()
    common = {**os.environ, "EVENTS_EXCHANGE": exchange, "QUEUE_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
    cenv = {**common, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/c.db", "HTTP_PORT": str(cport),
            "FEED_MAX_BYTES": str(512 * 2**20)}  # 100,000 occurrences in one snapshot are ~72 MB
    senv = {**common, "HTTP_PORT": str(sport), "CATALOGUE_URL": f"http://127.0.0.1:{cport}",
            "INSTANCE_NAME": f"bench{sport}", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/s.db"}
    token = subprocess.run([sys.executable, "-m", "services.catalogue", "token", "create", "--region"], cwd=ROOT,
                           env=cenv, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    procs = [subprocess.Popen([sys.executable, "-m", f"services.{s}"], cwd=ROOT, env=e, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for s, e in (("catalogue", cenv), ("search", senv))]
    cbase, sbase = f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{sport}"
    body = feed(n_occ, n_courses)
    # The last course that has an occurrence (with fewer occurrences than courses, some have none).
    last_code = body["educationInfos"][min(n_occ, n_courses) - 1]["content"]["code"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http:
            await wait_ready(http, f"{cbase}/readyz")
            await wait_ready(http, f"{sbase}/readyz")
            t0 = time.perf_counter()
            async with http.put(f"{cbase}/v1/feeds/2480", data=json.dumps(body), headers=headers) as r:
                assert r.status == 200, await r.text()
            first_code = body["educationInfos"][0]["content"]["code"]
            while True:  # searchable when the first and last course are found by their codes
                a = await search(http, sbase, f"{first_code} {last_code}", limit=2, kinds=["course"])
                codes = {x.get("course_code") for x in a["results"]}
                if {first_code, last_code} <= codes:
                    total = sum(len(x["occurrences"]) + x.get("more_occurrences", 0) for x in
                                (await search(http, sbase, last_code, limit=1, kinds=["course"]))["results"])
                    if total >= n_occ // n_courses:
                        break
                await asyncio.sleep(0.5)
            build_s = time.perf_counter() - t0
            while await metric(http, sbase, "vux_search_waiting_documents") > 0:  # steady state: all embedded
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            await search(http, sbase, "uppvärmning")
            lat = []
            for q in queries:
                t = time.perf_counter()
                await search(http, sbase, q, limit=10)
                lat.append((time.perf_counter() - t) * 1000)
            lat.sort()
            fresh = []
            for i in range(20):
                info = json.loads(json.dumps(body["educationInfos"][i % min(n_occ, n_courses)]))
                new_title = f"Ändrad titel {uuid.uuid4().hex[:6]}"
                info["content"]["title"] = {"strings": [{"lang": "swe", "value": new_title}]}
                code = info["content"]["code"]
                t = time.perf_counter()
                async with http.patch(f"{cbase}/v1/feeds/2480", data=json.dumps({"educationInfos": [info]}),
                                      headers=headers) as r:
                    assert r.status == 200
                while True:
                    res = (await search(http, sbase, code, limit=1, kinds=["course"]))["results"]
                    if res and res[0]["title"] == new_title:
                        break
                    await asyncio.sleep(0.02)
                fresh.append(time.perf_counter() - t)
            rss = rss_mb(procs[1].pid)
            # A second replica on the same stored vectors: ready when caught up, embedding nothing.
            bport = free_port()
            t = time.perf_counter()
            procs.append(subprocess.Popen([sys.executable, "-m", "services.search"], cwd=ROOT,
                                          env={**senv, "HTTP_PORT": str(bport), "INSTANCE_NAME": f"bench{bport}"},
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bbase = f"http://127.0.0.1:{bport}"
            await wait_ready(http, f"{bbase}/readyz", every=0.05)
            replica_ready_s = time.perf_counter() - t
            embedded = sum([await metric(http, b, "vux_search_texts_embedded_total") for b in (sbase, bbase)])
            distinct = await metric(http, sbase, "vux_search_index_texts") + len(fresh)  # the old titles too
            quality = dev_quality(sbase) if n_courses >= 1094 else {}
    finally:
        stop(procs)
    q95 = percentile(lat, 0.95)
    return {"occurrences": n_occ, "courses": n_courses, "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(q95, 1), "texts_per_s": round(n_courses / build_s, 1), "build_s": round(build_s, 1),
            "rss_mb": round(rss, 1), "freshness_p95_s": round(percentile(sorted(fresh), 0.95), 2),
            "replica_ready_s": round(replica_ready_s, 2), "embedded_per_distinct": round(embedded / distinct, 3),
            "queries": len(lat), **quality}


async def metric(http, base: str, name: str) -> float:  # noqa: ANN001
    async with http.get(f"{base}/metrics") as r:
        text = await r.text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def throughput(n: int = 256, tokens: int = 100) -> float:
    """Texts per second through the service's embedder (batched, as the embed worker takes them) for
    course texts cut to about `tokens` tokens (the service's passages run up to 256)."""
    from services.search.embedder import Embedder
    from services.search.model_build import DEFAULT_DIR

    emb = Embedder(str(DEFAULT_DIR), 256)
    tok = emb.model.tokenizer
    texts = []
    for c in list(demo.courses().values())[:n]:
        ids = tok(demo.course_text(c), add_special_tokens=False)["input_ids"][:tokens]
        texts.append(tok.decode(ids))

    async def go() -> float:
        await asyncio.gather(*(emb.passage(t) for t in texts[:32]))  # warm up
        t0 = time.perf_counter()
        await asyncio.gather(*(emb.passage(t) for t in texts))
        return len(texts) / (time.perf_counter() - t0)

    return round(asyncio.run(go()), 1)


def dev_quality(base: str) -> dict:
    """The development set's scores (../shared/eval) against this run's service, when it is there."""
    script = EVAL.parent / "evaluate.py"
    if not script.exists():
        return {}
    out = subprocess.run([sys.executable, str(script), "--set", "dev", "--retriever", "http", "--base", base],
                         capture_output=True, text=True, timeout=600)
    overall = next((json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")), {})
    return {"dev_ndcg10": overall.get("ndcg@10"), "dev_recall10": overall.get("recall@10"), "dev_mrr": overall.get("mrr")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", help="one run of OCCURRENCES:COURSES instead of the default sizes")
    args = ap.parse_args()
    queries = ([json.loads(line)["query"] for line in EVAL.open(encoding="utf-8")] if EVAL.exists()
               else FALLBACK_QUERIES * 20)
    ap_sizes = [(1000, 100)] if args.quick else [(1000, 1000), (100_000, 1094)]
    sizes = [tuple(int(x) for x in args.size.split(":"))] if args.size else ap_sizes
    out, new_texts = None, None
    for n, c in sizes:
        out = asyncio.run(run(n, c, queries if not args.quick else queries[:40]))
        print(json.dumps(out), file=sys.stderr)
        if n == c or new_texts is None:
            new_texts = {"new_texts": c, "new_texts_searchable_s": out["build_s"]}
    out.update(new_texts)
    out["texts_per_s_100_tokens"] = throughput(64 if args.quick else 256, 100)
    out["passages_per_s"] = throughput(64 if args.quick else 256, 256)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
