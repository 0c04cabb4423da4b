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
