"""Reference data every service may need: the county's 15 municipalities."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def municipalities() -> dict[str, Municipality]:
    with open(DATA / "municipalities.csv", encoding="utf-8") as f:
        return {
            r["kommunkod"]: Municipality(r["kommunkod"], r["kommun"], float(r["lat"]), float(r["lon"]))
            for r in csv.DictReader(f)
        }


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two municipality centres."""
    ma, mb = municipalities()[a], municipalities()[b]
    p1, p2 = math.radians(ma.latitude), math.radians(mb.latitude)
    dp, dl = p2 - p1, math.radians(mb.longitude - ma.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@lru_cache(maxsize=1)
def subject_areas() -> dict[str, str]:
    with open(DATA / "subject_areas.csv", encoding="utf-8") as f:
        return {r["subject_code"]: r["area"] for r in csv.DictReader(f)}


def course_area(code: str | None, school_type: str | None = None) -> str | None:
    """The education area of a course: SFI, or the area of its Skolverket subject (code prefix)."""
    if school_type and ("invandrare" in school_type.lower() or school_type.lower() == "sfi"):
        return "Svenska för invandrare"
    if code and code.upper().startswith("SFI"):
        return "Svenska för invandrare"
    if not code:
        return None
    areas = subject_areas()
    for n in (4, 3, 2):
        if code[:n] in areas:
            return areas[code[:n]]
    return None
