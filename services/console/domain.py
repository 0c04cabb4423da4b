"""What the console's pages compute from the services' answers (pure, no I/O): the seat form read
into a distribution request, two scenarios compared, the grant application's figures, needs against
seats against demand, and the CSV files.

Words here are column names of exported files (Swedish, as the grant application is written) and the
keys of words.json; what a page says is in words.json."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

FIGURES = Path(__file__).parent / "figures.csv"
KEY_PARTS = ("equal", "population", "unemployment")


@dataclass
class FormErrors(Exception):
    errors: dict[str, str] = field(default_factory=dict)  # form field -> words.json key or message


def demo_figures() -> dict[str, dict]:
    """Population, unemployed and own places per municipality to start the form from (figures.csv)."""
    with open(FIGURES, encoding="utf-8") as f:
        return {r["code"]: {k: int(v) for k, v in r.items() if k != "code"} for r in csv.DictReader(f)}


def _number(form: dict, name: str, errors: dict, *, lo: float = 0, hi: float = 1e9, whole: bool = False,
            required: bool = True) -> float | None:
    raw = str(form.get(name, "")).strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not raw:
        if required:
            errors[name] = "err_required"
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[name] = "err_number"
        return None
    if whole and value != int(value):
        errors[name] = "err_whole"
        return None
    if not lo <= value <= hi:
        errors[name] = "err_range"
        return None
    return int(value) if whole else value


def distribution_request(form: dict, municipalities: dict[str, str], areas: list[str]) -> dict:
    """The allocation service's DistributionInput from the seat form; FormErrors naming each bad field.

    The key's three parts and the needs weights are per cent and must each add up to 100, so that a
    coordinator who types 10, 45, 40 is told, not silently rescaled."""
    errors: dict[str, str] = {}
    year = _number(form, "year", errors, lo=2000, hi=2100, whole=True)
    total = _number(form, "total_places", errors, lo=1, hi=100_000, whole=True)
    key = {p: _number(form, f"key_{p}", errors, hi=100) for p in KEY_PARTS}
    if all(v is not None for v in key.values()) and abs(sum(key.values()) - 100) > 0.01:
        errors["key"] = "err_key_sum"
    needs = {}
    for i, area in enumerate(areas):
        w = _number(form, f"need_{i}", errors, hi=100, required=False)
        if w:
            needs[area] = w
    if needs and abs(sum(needs.values()) - 100) > 0.01:
        errors["needs"] = "err_needs_sum"
    if not needs:
        errors["needs"] = "err_needs_none"
    rows = []
    for code, name in municipalities.items():
        pop = _number(form, f"pop_{code}", errors, whole=True)
        unemp = _number(form, f"unemp_{code}", errors, whole=True)
        own = _number(form, f"own_{code}", errors, whole=True)
        rows.append({"code": code, "name": name, "population": pop, "unemployed": unemp, "own_places": own})
    if errors:
        raise FormErrors(errors)
    return {"year": year, "total_places": total, "key": {p: key[p] / 100 for p in KEY_PARTS},
            "regional_needs": needs, "municipalities": rows}


def areas_of(dist: dict) -> list[str]:
    return sorted({a for m in dist["municipalities"] for a in m["by_area"]})


def compare(a: dict, b: dict) -> dict:
    """Two scenarios side by side: per municipality and per area, the places in each and b minus a."""
    mb = {m["code"]: m for m in b["municipalities"]}
    rows = []
    for m in a["municipalities"]:
        other = mb.get(m["code"], {"places": 0, "co_funding_ok": True})
        rows.append({"code": m["code"], "name": m["name"] or m["code"], "a": m["places"], "b": other["places"],
                     "diff": other["places"] - m["places"], "a_ok": m["co_funding_ok"],
                     "b_ok": other["co_funding_ok"]})
    totals_a, totals_b = area_totals(a), area_totals(b)
    areas = sorted(set(totals_a) | set(totals_b))
    by_area = [{"area": x, "a": totals_a.get(x, 0), "b": totals_b.get(x, 0),
                "diff": totals_b.get(x, 0) - totals_a.get(x, 0)} for x in areas]
    return {"municipalities": rows, "areas": by_area}


def area_totals(dist: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in dist["municipalities"]:
        for area, n in m["by_area"].items():
            out[area] = out.get(area, 0) + n
    return out


def _csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def grant_csv(dist: dict) -> str:
    """The joint grant application's figures: state-funded places per education area, then per
    municipality its places, its co-funded (own) places and the 3/7 requirement."""
    rows = [["område", "", area, n, "", "", ""] for area, n in sorted(area_totals(dist).items())]
    rows += [["kommun", m["code"], m["name"], m["places"], m["own_places"], m["required_own_places"],
              "ja" if m["co_funding_ok"] else "nej"] for m in dist["municipalities"]]
    rows.append(["summa", "", "", dist["total_places"], sum(m["own_places"] for m in dist["municipalities"]),
                 sum(m["required_own_places"] for m in dist["municipalities"]), ""])
    return _csv(["del", "kommunkod", "namn/område", "statligt finansierade platser", "medfinansierade platser",
                 "krav 3/7", "uppfyller 3/7"], rows)


def report_csv(report: dict, names: dict[str, str]) -> str:
    rows = [[r["municipality_code"], names.get(r["municipality_code"], r["municipality_code"]), r["area"],
             r["places"], r["applications"], r["offers"], r["accepted"], r["withdrawn"]] for r in report["items"]]
    return _csv(["kommunkod", "kommun", "område", "fördelade platser", "ansökningar", "erbjudanden", "antagna",
                 "återtagna"], rows)


def report_totals(report: dict) -> dict:
    keys = ("places", "applications", "offers", "accepted", "withdrawn")
    return {k: sum(r[k] for r in report["items"]) for k in keys}


def needs_seats_demand(needs: dict | None, adopted: dict | None, demand: dict,
                       municipality: str | None = None) -> list[dict]:
    """Per education area, each as a share of the total (the county's, or one municipality's), so they
    can be read together: the needs analysis's weight, the adopted places, applications and anonymous
    chat interest."""
    weights = (needs or {}).get("weights", {})
    if adopted and municipality:
        adopted = {**adopted, "municipalities": [m for m in adopted["municipalities"] if m["code"] == municipality]}
    seats = area_totals(adopted) if adopted else {}
    applied: dict[str, int] = {}
    chat: dict[str, int] = {}
    for c in demand.get("items", []):
        if municipality and c["municipality_code"] != municipality:
            continue
        applied[c["area"]] = applied.get(c["area"], 0) + c["applications"]
        chat[c["area"]] = chat.get(c["area"], 0) + c["chat_turns"]
    areas = sorted((set(weights) | set(seats) | set(applied) | set(chat)) - {"-"})

    def share(d: dict, a: str) -> float:
        total = sum(v for k, v in d.items() if k != "-")
        return round(100 * d.get(a, 0) / total, 1) if total else 0.0

    return [{"area": a, "need": round(weights.get(a, 0.0), 1), "seats": seats.get(a, 0), "seats_share": share(seats, a),
             "applications": applied.get(a, 0), "applications_share": share(applied, a), "chat": chat.get(a, 0),
             "chat_share": share(chat, a)} for a in areas]


def flows(demand: dict, names: dict[str, str]) -> list[dict]:
    """Where applicants live against where they study, the largest first; staying home marked."""
    rows = [{"home": names.get(f["home"], f["home"]), "study": names.get(f["study"], f["study"]),
             "applications": f["applications"], "elsewhere": f["home"] != f["study"]} for f in demand.get("flows", [])]
    return sorted(rows, key=lambda r: (-r["applications"], r["home"], r["study"]))
