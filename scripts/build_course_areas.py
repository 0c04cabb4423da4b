"""Derive shared/data/subject_areas.csv: Skolverket subject code -> vocational education area.

Each subject goes to the programme whose occupational exits (yrkesutgångar) list its courses most
often, with the komvux assistant-nurse package counting for care; the shared core subjects and
subjects no exit lists are general subjects. Input: the Gy2011 files of the development
data set (../shared/data/skolverket_gy2011/). Run once; the output is committed.
"""
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/skolverket_gy2011")
AREAS = {
    "BA": "Bygg och anläggning", "BF": "Barn och fritid", "EE": "El och energi", "FT": "Fordon och transport",
    "FX": "Flygteknik", "HA": "Handel och administration", "HT": "Hotell och turism", "HV": "Hantverk",
    "IN": "Industriteknik", "MX": "Marinteknik", "NB": "Naturbruk", "RL": "Restaurang och livsmedel",
    "SX": "Sjöfart", "TX": "Tågteknik", "VF": "VVS och fastighet", "VO": "Vård och omsorg",
}
courses = {c["code"]: c for c in map(json.loads, open(SRC / "gy_courses.jsonl", encoding="utf-8"))}
votes: dict[str, Counter] = defaultdict(Counter)
for row in map(json.loads, open(SRC / "gy_yrkesutgang_to_courses.jsonl", encoding="utf-8")):
    for code in row["course_codes"]:
        if code in courses and code not in ("ENTENR0", "FÖRENT0"):
            votes[courses[code]["subject_code"]][row["program_code"]] += 1
# The komvux package for assistant nurses (yrkespaket VOXABN) places the care subjects in VO.
pkg = json.load(open(SRC.parent / "skolverket_yrkespaket_sample" / "yrkespaket_undersköterska_VOXABN.json", encoding="utf-8"))
for c in pkg["courses"]:
    if c["code"] in courses:
        votes[courses[c["code"]]["subject_code"]]["VO"] += 3
# The subjects every programme shares are general subjects, whoever lists them.
CORE = {"ENG", "HIS", "IDR", "MAT", "NAK", "REL", "SAM", "SVE", "SVA", "ENT"}
for subject in CORE:
    votes.pop(subject, None)
out = Path(__file__).resolve().parent.parent / "shared" / "data" / "subject_areas.csv"
with open(out, "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(["subject_code", "area"])
    for subject in sorted({c["subject_code"] for c in courses.values()}):
        v = votes.get(subject)
        w.writerow([subject, AREAS[v.most_common(1)[0][0]] if v else "Allmänna ämnen"])
print(out)
