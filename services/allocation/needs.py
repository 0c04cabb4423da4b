"""The region's needs analysis, read from a CSV file (pure, no I/O).

The file (docs/needs-analysis.md):

    target,weight,shortage,source,year
    Vård och omsorg,3,,Region Västerbotten kompetensbehovsanalys,2026
    5321,,140,Arbetsförmedlingen yrkesprognos,2026

`target` is an education area (as in shared/data/subject_areas.csv) or an SSYK-4 group; each row has
either a `weight` (a relative need) or a `shortage` (people lacking), and the whole file uses one of
the two, as weights and head counts cannot be added. An SSYK-4 group's figure is shared equally by
the programme areas whose courses lead to it (shared/data/occupation_areas.json). The result is one
weight per area, in per cent, that the seat distribution's form starts from.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from shared.reference import occupation_areas, subject_areas

COLUMNS = ("target", "weight", "shortage", "source", "year")
MAX_ROWS = 2000


@dataclass
class NeedsAnalysis:
    source: str
    year: int
    basis: str  # "weight" or "shortage"
    rows: list[dict]
    weights: dict[str, float]  # area -> per cent, adding up to 100


@dataclass
class NeedsErrors(Exception):
    errors: list[dict] = field(default_factory=list)  # {"line", "field", "message"}

    def __str__(self) -> str:
        return "; ".join(f"line {e['line']}: {e['message']}" for e in self.errors)


def areas() -> set[str]:
    return set(subject_areas().values())


def _number(raw: str) -> float | None:
    raw = raw.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not raw:
        return None
    return float(raw)  # ValueError for what is not a number


def parse(text: str) -> NeedsAnalysis:
    """A needs analysis from its CSV text, or NeedsErrors naming every bad line (nothing half-read)."""
    sample = text[:2000]
    dialect = csv.excel_tab if sample.count("\t") > sample.count(",") and sample.count("\t") > sample.count(";") \
        else type("semi", (csv.excel,), {"delimiter": ";"}) if sample.count(";") > sample.count(",") else csv.excel
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""), dialect=dialect)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        rows = [(reader.line_num, r) for r in reader]  # the file's own line numbers, blank lines counted
    except csv.Error as exc:
        raise NeedsErrors([{"line": reader.line_num or 1, "field": "", "message": f"not readable as CSV: {exc}"}]) \
            from None
    missing = [c for c in ("target", "source", "year") if c not in header]
    if missing or not ({"weight", "shortage"} & set(header)):
        want = ", ".join(COLUMNS)
        got = ", ".join(header) or "nothing"
        raise NeedsErrors([{"line": 1, "field": "header",
                            "message": f"the columns must be {want} (weight or shortage may be left out); "
                                       f"this file has {got}"}])
    reader.fieldnames = header
    known_areas, by_ssyk = areas(), occupation_areas()
    errors, read = [], []
    sources, years, bases = set(), set(), set()
    for n, (line, raw) in enumerate(rows, start=1):
        if n > MAX_ROWS:
            errors.append({"line": line, "field": "", "message": f"at most {MAX_ROWS} rows"})
            break
        r = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(r.values()):
            continue
        target = r.get("target", "")
        if re.fullmatch(r"\d{4}", target):
            if target not in by_ssyk:
                errors.append({"line": line, "field": "target", "message": f"SSYK-4 group {target} leads to no "
                               "programme area we know; give the area instead"})
                continue
        elif target not in known_areas:
            errors.append({"line": line, "field": "target", "message": f"{target!r} is neither an education area "
                           f"({', '.join(sorted(known_areas))}) nor an SSYK-4 group"})
            continue
        try:
            weight, shortage = _number(r.get("weight", "")), _number(r.get("shortage", ""))
        except ValueError:
            errors.append({"line": line, "field": "weight", "message": "weight and shortage must be numbers"})
            continue
        if (weight is None) == (shortage is None):
            errors.append({"line": line, "field": "weight", "message": "give either a weight or a shortage figure"})
            continue
        value = weight if weight is not None else shortage
        if value < 0:
            errors.append({"line": line, "field": "weight", "message": "a need cannot be negative"})
            continue
        if not r.get("source"):
            errors.append({"line": line, "field": "source", "message": "name the source of the figure"})
            continue
        if not re.fullmatch(r"20\d\d", r.get("year", "")):
            errors.append({"line": line, "field": "year", "message": f"year must be like 2026, not {r.get('year')!r}"})
            continue
        bases.add("weight" if weight is not None else "shortage")
        sources.add(r["source"])
        years.add(int(r["year"]))
        read.append({"line": line, "target": target, "value": value, "source": r["source"], "year": int(r["year"])})
    if len(bases) > 1:
        errors.append({"line": 1, "field": "weight", "message": "the file mixes weights and shortage figures; "
                       "use one of the two for every row"})
    if not read and not errors:
        errors.append({"line": 2, "field": "", "message": "the file has no rows"})
    if errors:
        raise NeedsErrors(errors)
    per_area: dict[str, float] = {}
    for r in read:
        targets = by_ssyk[r["target"]] if r["target"] in by_ssyk else (r["target"],)
        for a in targets:
            per_area[a] = per_area.get(a, 0.0) + r["value"] / len(targets)
    total = sum(per_area.values())
    if total <= 0:
        raise NeedsErrors([{"line": 2, "field": "weight", "message": "the needs add up to zero"}])
    weights = {a: round(100 * v / total, 2) for a, v in sorted(per_area.items(), key=lambda kv: -kv[1])}
    return NeedsAnalysis(source="; ".join(sorted(sources)), year=max(years), basis=bases.pop(), rows=read,
                         weights=weights)
