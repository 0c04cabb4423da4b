"""Can the embedding model name an occupation that no word list holds? Measured, so the answer is a figure.

    python -m scripts.calibrate_occupations [--limit 1500] [--data ../shared/data/multilingual_occupations]

Queries: occupation names written otherwise than JobTech's Swedish names, each with the SSYK-4 groups it
belongs to (ESCO's ISCO-08 crosswalk): the Persian ISCO group titles and ESCO's Arabic and English
occupation labels. Candidates: JobTech's 2,412 Swedish occupation names (services/search/data). For each
query the nearest name's group is the guess; the lines tried are a raw cosine and a margin (the best
cosine minus the best cosine of another group), each at the quantiles that keep 50 % down to 5 % of the
queries. It prints, per language, the top-1 accuracy and the precision at each line; last line one JSON
object.

Measured with multilingual-e5-small (2026-12-03, 1,500 queries): top-1 accuracy 0.14 (fa 0.20, ar 0.09,
en 0.19); keeping only the surest 5 % gives precision 0.46 by cosine and 0.48 by margin. No line makes a
guess a counsellor could rely on, so understanding names occupations only from the lists
(services/search/taxonomy.py).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "services" / "search" / "data" / "occupations.jsonl"


def queries(data: Path) -> list[tuple[str, str, set[str]]]:
    records = [json.loads(line) for line in (data / "occupations_multilingual.jsonl").open(encoding="utf-8")]
    groups = {r["isco4"]: set(r.get("ssyk4") or []) for r in records if r["record_type"] == "isco4"}
    out = [(t, "fa", groups[r["isco4"]]) for r in records if r["record_type"] == "isco4" for t in r["labels"]["fa"]]
    for r in records:
        if r["record_type"] == "esco_occupation" and r.get("isco4") in groups:
            for lang in ("ar", "en"):
                label = (r.get("preferred") or {}).get(lang)
                if label:
                    out.append((label.split(" / ")[0], lang, groups[r["isco4"]]))
    return [q for q in out if q[2]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1500)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "multilingual_occupations")
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    from services.search.model_build import DEFAULT_DIR

    model = SentenceTransformer(str(DEFAULT_DIR), device="cpu")
    names = [json.loads(line) for line in NAMES.open(encoding="utf-8")]
    asked = queries(args.data)
    random.Random(1).shuffle(asked)
    asked = asked[:args.limit]
    cands = model.encode([f"query: {n['occupation']}" for n in names], batch_size=64, normalize_embeddings=True)
    qs = model.encode([f"query: {q[0]}" for q in asked], batch_size=64, normalize_embeddings=True)
    group = np.array([n["ssyk4"] for n in names])
    sims = qs @ cands.T
    rows = []  # (lang, cosine, margin, right)
    for i, (_, lang, gold) in enumerate(asked):
        order = np.argsort(-sims[i])
        best = group[order[0]]
        other = next(j for j in order if group[j] != best)
        rows.append((lang, float(sims[i, order[0]]), float(sims[i, order[0]] - sims[i, other]), best in gold))
    summary = {"queries": len(rows)}
    for lang in ("fa", "ar", "en", "all"):
        sel = [r for r in rows if lang in ("all", r[0])]
        summary[f"top1_{lang}"] = round(float(np.mean([r[3] for r in sel])), 3)
        print(f"{lang}: {len(sel)} queries, top-1 accuracy {summary[f'top1_{lang}']}")
        for kind, k in (("cosine", 1), ("margin", 2)):
            for keep in (0.5, 0.3, 0.2, 0.1, 0.05):
                line = float(np.quantile([r[k] for r in sel], 1 - keep))
                kept = [r for r in sel if r[k] >= line]
                precision = float(np.mean([r[3] for r in kept]))
                print(f"  {kind} >= {line:.4f}: keeps {len(kept) / len(sel):.2f}, precision {precision:.3f}")
                if lang == "all" and keep == 0.05:
                    summary[f"precision_at_5pct_{kind}"] = round(precision, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
