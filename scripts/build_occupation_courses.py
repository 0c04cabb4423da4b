"""Build services/search/data/occupation_courses.json from Skolverket's yrkesutgångar in the development
data (../shared/data/skolverket_gy2011/gy_yrkesutgang_to_courses.jsonl, see its SOURCES.md): for each
SSYK-4 group, the course-code stems (the letters of a code: INSELS0 -> INSELS) of the courses that
Skolverket lists for the vocational exits leading to it. An exit's occupation is given its group by
JobTech's names (services/search/taxonomy.py); exits named by their field ("Äldreomsorg") by the table
below, written by the team. Entrepreneurship (ENT), common to every exit, is left out. The national
vocational packages (../shared/data/skolverket_yrkespaket_sample/, Skolverket's yrkespaket) add their
courses to the groups of the occupation they are made for.

Run: python -m scripts.build_occupation_courses [path to the jsonl]
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from services.search.taxonomy import named_occupations

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "skolverket_gy2011" / "gy_yrkesutgang_to_courses.jsonl"
OUT = ROOT / "services" / "search" / "data" / "occupation_courses.json"
# Exits whose name is a field or is not among JobTech's names: the SSYK-4 group they lead to.
EXITS = {
    "Äldreomsorg": "5321", "Funktionshinderområdet": "5321", "Hälso- och sjukvård": "5323", "Psykiatri": "5323",
    "Stöd och service inom funktionshinderområdet": "5342", "Arbete med lantbruksdjur": "6121",
    "Arbete med lantbrukets växtodling": "6111", "Arbete med lantbruksmaskiner": "8341", "Skogsmaskinsförare": "8341",
    "Trädgårdsarbetare med inriktning mot frilandsodling": "6113",
    "Trädgårdsarbetare med inriktning mot skötsel av utemiljöer": "6113",
    "Trädgårdsarbetare med inriktning mot trädgårdsanläggning": "6113",
    "Trädgårdsarbetare med inriktning mot växthusodling": "6113", "Bageri- och konditorikunskap – B": "7612",
    "Bageri- och konditorikunskap – K": "7612", "Sömmerska": "7531", "Textil och konfektion": "7531",
    "Hår- och makeupstylist": "5141", "Byggnadsmålare": "7131", "Anläggningsmaskinförare": "8342",
    "Väg- och anläggningsarbetare (mot väg och infrastruktur)": "7119",
    "Väg- och anläggningsarbetare (mot gaturum och parker)": "7119", "Timmerman": "7111",
    "Kundtjänstbiträde": "4222", "Säljassistent": "5223", "Personalassistent": "4112",
    "Servicemekaniker": "7233", "Kyl- och värmepumpsmontör": "7126", "Isoleringsmontör": "7123",
    "Industrirörsmontör": "7125",
}


PACKAGES = ROOT.parent / "shared" / "data" / "skolverket_yrkespaket_sample"
# A package's occupation when JobTech's first name for it is not all it covers: undersköterska works in
# elderly and home care (5321) and in hospitals (5323).
PACKAGE_GROUPS = {"Undersköterska": ("5321", "5323")}
GENERAL = {"SVESVE", "SVASVA", "SAMSAM", "ENGENG", "MATMAT"}


def stem(code: str) -> str | None:
    m = re.match(r"[^\W\d_]+", code)
    return m.group(0).upper() if m else None


def build(source: Path) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        named = named_occupations(r["occupation"])
        code = EXITS.get(r["occupation"]) or (named[0]["ssyk4"] if named else None)
        if code is None:
            continue
        stems = {s for s in map(stem, r["course_codes"]) if s and not s.startswith("ENT")}
        out.setdefault(code, set()).update(stems)
    for path in sorted(PACKAGES.glob("*.json")):
        package = json.loads(path.read_text(encoding="utf-8"))
        named = named_occupations(package["occupation"])
        groups = PACKAGE_GROUPS.get(package["occupation"]) or ((named[0]["ssyk4"],) if named else ())
        for code in groups:
            # General subjects in a package (Svenska 1, Samhällskunskap) are a learner's own matter, not the trade's.
            out.setdefault(code, set()).update(s for s in (stem(c["code"]) for c in package["courses"])
                                               if s and s not in GENERAL)
    return {code: sorted(stems) for code, stems in sorted(out.items()) if stems}


if __name__ == "__main__":
    table = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
    OUT.write_text(json.dumps(table, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(table)} occupation groups)")
