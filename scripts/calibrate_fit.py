"""Calibrate search's relevance floor (`FIT_FLOOR`) and strong-match line (`FIT_STRONG`) on labelled queries.

    python -m scripts.calibrate_fit [--base http://127.0.0.1:8082] [--eval ../shared/eval]

Right and wrong courses sit close in raw cosine, so the lines are read off the data, not guessed: for the
top 10 results of every labelled query (occupations dev + learner_dev) it records the score and whether
the course is labelled relevant; and for queries the county's catalogue cannot answer (scripts/
off_catalogue.txt, written by the team: occupations no komvux course leads to) it records the best score.

- the floor is the highest line that keeps at least KEEP of the labelled queries' first relevant result
  (a floor that hides right answers is worse than one that lets a weak match through as "partial");
- the strong line is the lowest score at which at least STRONG_PRECISION of the results are relevant.
It prints the table, then one JSON line with the two figures and how many off-catalogue queries the floor
answers honestly (nothing above it).
"""
from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path

KEEP = 0.95
STRONG_PRECISION = 0.5
OFF = Path(__file__).with_name("off_catalogue.txt")


def search(base: str, text: str) -> list[dict]:
    body = json.dumps({"text": text, "limit": 10, "kinds": ["course"], "understand": False}).encode()
    req = urllib.request.Request(f"{base}/v1/search", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["results"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8082")
    ap.add_argument("--eval", default=str(Path(__file__).resolve().parents[2] / "shared" / "eval"))
    args = ap.parse_args()
    scored: list[tuple[float, bool]] = []
    first_hit: list[float] = []
    for name in ("occupations_dev.jsonl", "learner_dev.jsonl"):
        for line in (Path(args.eval) / name).read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            results = search(args.base, q["query"])
            rel = [r["score"] for r in results if (r.get("course_code") or "") in q["relevant"]]
            scored += [(r["score"], (r.get("course_code") or "") in q["relevant"]) for r in results]
            if rel:
                first_hit.append(max(rel))
    off = [line.strip() for line in OFF.read_text(encoding="utf-8").splitlines()
           if line.strip() and not line.startswith("#")]
    off_best = [max((r["score"] for r in search(args.base, text)), default=0.0) for text in off]
    first_hit.sort()
    floor = first_hit[int(len(first_hit) * (1 - KEEP))]
    strong = None
    for line in sorted({round(s, 3) for s, _ in scored}):
        above = [rel for s, rel in scored if s >= line]
        if len(above) >= 20 and sum(above) / len(above) >= STRONG_PRECISION:
            strong = line
            break
    print("score line | results above | relevant share | labelled queries' best hit kept | off-catalogue above")
    for line in [x / 100 for x in range(78, 100, 1)]:
        above = [rel for s, rel in scored if s >= line]
        share = sum(above) / len(above) if above else 0.0
        kept = sum(1 for s in first_hit if s >= line) / len(first_hit)
        print(f"{line:.2f} | {len(above):5d} | {share:.2f} | {kept:.2f} | {sum(1 for s in off_best if s >= line)}/{len(off)}")
    print(json.dumps({"fit_floor": round(floor, 3), "fit_strong": strong, "labelled_queries": len(first_hit),
                      "off_catalogue": len(off), "off_catalogue_honest": sum(1 for s in off_best if s < floor)}))


if __name__ == "__main__":
    main()
