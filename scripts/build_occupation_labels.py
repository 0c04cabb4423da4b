"""Build services/search/data/occupation_labels_esco.jsonl from the development data's multilingual
occupation labels (../shared/data/multilingual_occupations/, see its SOURCES.md): ESCO's English and
Arabic labels of each ESCO occupation that the Swedish ESCO-JobTech crosswalk matches exactly or
closely to a JobTech occupation, with that occupation's SSYK-4 group.

Only labels a learner would write whole are kept: English labels of two words or more, or one word of
seven letters or more ("electrician", not "guide"); Arabic labels as ESCO writes them and each half of a
"masculine / feminine" pair. Run: python -m scripts.build_occupation_labels [path to the jsonl]
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "multilingual_occupations" / "occupations_multilingual.jsonl"
OUT = ROOT / "services" / "search" / "data" / "occupation_labels_esco.jsonl"


def keep(label: str, lang: str) -> bool:
    if lang == "en":
        return len(label.split()) >= 2 or len(label) >= 7
    return "/" not in label and len(label) >= 4


def build(source: Path) -> list[dict]:
    rows, seen = [], set()
    for line in source.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["record_type"] != "esco_occupation":
            continue
        codes = Counter(x["ssyk4"] for x in r.get("jobtech_crosswalk") or []
                        if x.get("ssyk4") and x["relation"] in ("skos:exactMatch", "skos:closeMatch"))
        if not codes:
            continue
        ssyk4 = codes.most_common(1)[0][0]
        for lang in ("en", "ar"):
            for label in r["labels"].get(lang) or []:
                label = " ".join(label.split())
                if keep(label, lang) and (label.lower(), lang) not in seen:
                    seen.add((label.lower(), lang))
                    rows.append({"label": label, "lang": lang, "ssyk4": ssyk4})
    return sorted(rows, key=lambda x: (x["ssyk4"], x["lang"], x["label"].lower()))


if __name__ == "__main__":
    rows = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {OUT} ({len(rows)} labels)")
