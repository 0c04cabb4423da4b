"""Deterministic demo feeds: EMIL3 bundles for all 15 Västerbotten municipalities.

Course texts are Skolverket's real Gy2011 syllabus texts (demo_data/, see SOURCES.md); who offers
what, when and how is invented but plausible: vocational packages in the larger towns, distance
courses, SFI and general subjects everywhere, validation offers, a learning centre in every
municipality. Same input, same bytes.
"""
from __future__ import annotations

import json
import random
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from shared.reference import municipalities

DATA = Path(__file__).parent / "demo_data"
GENERAL = ["SVESVE01", "SVASVA01", "ENGENG05", "MATMAT01a", "SAMSAM01a1", "HISHIS01a1", "NAKNAK01a1", "RELREL01"]
DISTANCE_GENERAL = ["ENGENG06", "MATMAT02a", "SVESVE02", "SVESVE01", "ENGENG05", "MATMAT01a"]
# Vocational packages (Skolverket yrkesutgångar) per municipality; the big towns offer the most.
PACKAGES = {
    "2480": ["Undersköterska", "Äldreomsorg", "Barnskötare", "Kock", "Installationselektriker",
             "Lastbilsförare", "Svetsare", "Fastighetstekniker", "Personbilsmekaniker", "Redovisningsassistent"],
    "2482": ["Svetsare", "CNC-operatör metall", "Industrielektriker", "Undersköterska", "Barnskötare",
             "Lagerarbetare", "Processoperatör kemi", "Underhållsmekaniker"],
    "2481": ["Undersköterska", "Skogsmaskinförare", "Kock", "Barnskötare"],
    "2462": ["Undersköterska", "Anläggningsmaskinförare"],
    "2421": ["Kock", "Undersköterska"],
    "2460": ["Personbilsmekaniker", "Barnskötare"],
}
DISTANCE_PACKAGES = {"2480": ["Undersköterska"], "2481": ["Barnskötare"]}
SFI = [
    ("SFIKURSA", "Svenska för invandrare, kurs A",
     "För dig som är ny i svenska och har kort eller ingen tidigare skolgång. Du lär dig läsa och skriva "
     "och att använda enkla ord och fraser i vardagen."),
    ("SFIKURSB", "Svenska för invandrare, kurs B",
     "Du utvecklar din förmåga att förstå och tala enkel svenska i vardagliga situationer, läsa korta "
     "texter och skriva enkla meddelanden."),
    ("SFIKURSC", "Svenska för invandrare, kurs C",
     "Du lär dig samtala om vardag, arbete och samhälle, läsa och skriva texter om bekanta ämnen och "
     "förbereda dig för studier och arbete."),
    ("SFIKURSD", "Svenska för invandrare, kurs D",
     "Du fördjupar din svenska för arbetsliv och vidare studier: diskutera, argumentera, läsa "
     "facktexter och skriva sammanhängande texter."),
]
VALIDATION = {
    "2480": [("vård", "Validering inom vård och omsorg – undersköterska", "5321",
              ["Undersköterska"],
              "För dig som har arbetat inom äldreomsorg, hemtjänst eller sjukvård utan formell utbildning. "
              "Dina kunskaper kartläggs och bedöms mot kurserna i vård- och omsorgsutbildningen, så att du "
              "bara behöver läsa det du saknar för att bli undersköterska.",
              "Kartläggning, yrkesteoretiskt prov och praktisk bedömning på arbetsplats", "6–10 veckor")],
    "2482": [("svets", "Validering svetsare", "7212", ["Svetsare"],
              "För dig som svetsar i ditt arbete men saknar betyg eller certifikat. Praktiska prov i svetshall "
              "enligt svetskommissionens krav, och betyg i de kurser du klarar.",
              "Praktiskt prov i svetshall och teoretisk bedömning", "2–4 veckor"),
             ("barn", "Validering barnskötare", "5311", ["Barnskötare"],
              "För dig som har arbetat i förskola eller fritidshem. Dina kunskaper bedöms mot kurserna i "
              "barnskötarutbildningen, på svenska med stöd av tolk vid behov.",
              "Kartläggningssamtal, kunskapsprov och bedömning på arbetsplats", "4–8 veckor")],
    "2481": [("kock", "Validering kock", "5120", ["Kock"],
              "För dig som har lagat mat i restaurang eller storkök. Praktisk bedömning i skolans kök mot "
              "kurserna i kockutbildningen.", "Praktiskt prov i kök", "2–3 veckor")],
    "2462": [("anl", "Validering anläggningsmaskinförare", "8342", ["Anläggningsmaskinförare"],
              "För dig som kör anläggningsmaskiner i ditt arbete. Körprov och teoriprov ger betyg i de kurser "
              "du redan behärskar.", "Körprov på övningsområde och teoriprov", "1–3 veckor")],
}
SMALL = {"2401", "2403", "2404", "2409", "2417", "2418", "2422", "2425", "2463"}
TERMS = [date(2027, 1, 18), date(2027, 3, 22), date(2027, 8, 16), date(2027, 10, 25)]


@lru_cache(maxsize=1)
def courses() -> dict[str, dict]:
    with open(DATA / "gy_courses.jsonl", encoding="utf-8") as f:
        return {c["code"]: c for c in map(json.loads, f)}


@lru_cache(maxsize=1)
def packages() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with open(DATA / "gy_yrkesutgang_to_courses.jsonl", encoding="utf-8") as f:
        for row in map(json.loads, f):
            codes = [c for c in row["course_codes"] if c in courses() and c not in ("ENTENR0", "FÖRENT0")]
            out.setdefault(row["occupation"], [])
            out[row["occupation"]] += [c for c in codes if c not in out[row["occupation"]]]
    # Komvux's national vocational package for assistant nurses (yrkespaket VOXABN).
    pkg = json.loads((DATA / "yrkespaket_underskoterska_VOXABN.json").read_text(encoding="utf-8"))
    out["Undersköterska"] = [c["code"] for c in pkg["courses"] if c["code"] in courses()]
    return out


def _s(value: str) -> dict:
    return {"strings": [{"lang": "swe", "value": value}]}


def _u(value: str) -> dict:
    return {"urls": [{"lang": "swe", "value": value}]}


def course_text(c: dict) -> str:
    items = [i for block in c.get("central_content") or [] for i in block.get("items", [])]
    text = c.get("description") or ""
    if items:
        text += "\n\nCentralt innehåll:\n" + "\n".join(f"- {i}" for i in items)
    return text


def _info(muni: str, provider: str, code: str, title: str, text: str, school_type: str, points: float | None) -> dict:
    content = {
        "identifier": f"i.{muni}.{code}", "code": code, "title": _s(title), "description": _s(text),
        "type": {"type": "C_SchoolType", "code": school_type}, "providers": [provider],
        "url": _u(f"https://vux.example/{muni}/kurs/{code}"),
    }
    if points:
        content["credits"] = {"system": {"type": "C_Credits", "code": "gy"}, "credits": points}
    return {"id": f"i.{muni}.{code}", "status": "ACTIVE", "content": content}


def _event(muni: str, provider: str, code: str, start: date, *, pace: int, distance: bool, town: str,
           continuous: bool = False, places: int | None = None, variant: str = "") -> dict:
    weeks = 20 * 100 // max(pace, 1) // 5
    eid = f"e.{muni}.{code}.{start:%Y%m%d}{variant}{'.d' if distance else ''}"
    content = {
        "identifier": eid, "education": f"i.{muni}.{code}", "providers": [provider],
        "locations": [{"town": town, "areaCode": muni, "country": "SE"}],
        "languageOfInstructions": ["swe"],
        "execution": {"start": start.isoformat(), "end": (start + timedelta(weeks=weeks)).isoformat()},
        "paceOfStudy": {"percentage": float(pace)},
        "timeOfStudy": {"type": "C_TimeOfStudy", "code": "dag"},
        "application": {"first": (start - timedelta(days=70)).isoformat(),
                        "last": (start - timedelta(days=28)).isoformat(), "continuous": continuous},
        "url": _u(f"https://vux.example/{muni}/ansok/{code}"),
        "isCancelled": False,
    }
    if continuous:
        content["application"].pop("last")
    if places:
        content["places"] = places
    if distance:
        content["distance"] = {"noOfMandatorySessions": 0, "description": _s("Studier på distans via lärplattform, "
                                                                            "handledning vid lärcentrum")}
    return {"id": eid, "status": "ACTIVE", "content": content}


def municipality_feed(muni: str, target_occurrences: int | None = None) -> dict:
    """One municipality's EMIL3 bundle. With target_occurrences, a scaled version for benchmarks."""
    m = municipalities()[muni]
    rng = random.Random(int(muni))
    small = muni in SMALL
    provider = f"p.{muni}.vux"
    pname = f"Lärcentrum {m.name}" if small else f"Vuxenutbildningen {m.name}"
    providers = [{"id": provider, "status": "ACTIVE", "content": {
        "identifier": provider, "name": _s(pname), "url": _u(f"https://vux.example/{muni}"),
        "emailAddresses": [f"vux@{muni}.vux.example"],
        "visitAddresses": [{"streetAddress": "Kommunhuset", "town": m.name, "areaCode": muni}],
    }}]
    infos: dict[str, dict] = {}
    events: list[dict] = []

    def add_course(code: str, school_type: str = "Gymnasial vuxenutbildning") -> None:
        if code not in infos:
            c = courses()[code]
            infos[code] = _info(muni, provider, code, c["title"], course_text(c), school_type, c.get("points"))

    if target_occurrences:
        # Benchmark scale: every course, many starts, until the target is reached.
        codes = sorted(courses())
        i = 0
        while len(events) < target_occurrences:
            code = codes[i % len(codes)]
            add_course(code)
            round_ = i // len(codes)
            start = TERMS[round_ % 4] + timedelta(weeks=round_ // 4)
            events.append(_event(muni, provider, code, start, pace=[25, 50, 75, 100][round_ % 4],
                                 distance=round_ % 3 == 0, town=m.name, variant=f".{round_}"))
            i += 1
    else:
        for code in GENERAL:
            add_course(code)
            events.append(_event(muni, provider, code, TERMS[0], pace=50, distance=False, town=m.name))
            if not small:
                events.append(_event(muni, provider, code, TERMS[2], pace=rng.choice([50, 100]),
                                     distance=False, town=m.name))
        for code, title, text in SFI:
            infos[code] = _info(muni, provider, code, title, text, "Svenska för invandrare", None)
            events.append(_event(muni, provider, code, TERMS[0], pace=rng.choice([50, 100]), distance=False,
                                 town=m.name, continuous=True))
        if not small:
            for code in DISTANCE_GENERAL:
                add_course(code)
                events.append(_event(muni, provider, code, TERMS[1], pace=50, distance=True, town=m.name,
                                     continuous=True))
        for occupation in PACKAGES.get(muni, []):
            for code in packages().get(occupation, []):
                add_course(code)
                for term in (TERMS[0], TERMS[2]):
                    events.append(_event(muni, provider, code, term, pace=100, distance=False, town=m.name,
                                         places=rng.choice([12, 16, 20, 24])))
        for occupation in DISTANCE_PACKAGES.get(muni, []):
            for code in packages().get(occupation, []):
                add_course(code)
                events.append(_event(muni, provider, code, TERMS[1], pace=50, distance=True, town=m.name,
                                     places=30))
    seen: set[str] = set()
    events = [e for e in events if not (e["id"] in seen or seen.add(e["id"]))]
    return {
        "educationProviders": providers,
        "educationInfos": list(infos.values()),
        "educationEvents": events,
        "validationOffers": [_validation(muni, pname, v) for v in VALIDATION.get(muni, [])],
        "learningCentres": [_centre(muni)],
    }


def _validation(muni: str, provider_name: str, v: tuple) -> dict:
    key, title, ssyk, occupations, text, method, duration = v
    codes = [c for occ in occupations for c in packages().get(occ, [])]
    vid = f"v.{muni}.{key}"
    return {"id": vid, "status": "ACTIVE", "content": {
        "identifier": vid, "title": _s(title), "description": _s(text), "occupation": ssyk,
        "courseCodes": list(dict.fromkeys(codes)), "method": _s(method), "duration": _s(duration),
        "cost": _s("Kostnadsfritt för dig som är folkbokförd i länet"), "provider": _s(provider_name),
        "municipality": muni, "contact": _s(f"validering@{muni}.vux.example"),
    }}


def _centre(muni: str) -> dict:
    m = municipalities()[muni]
    cid = f"lc.{muni}"
    return {"id": cid, "status": "ACTIVE", "content": {
        "identifier": cid, "name": _s(f"Lärcentrum {m.name}"), "municipality": muni,
        "address": _s(f"Kommunhuset, {m.name}"), "town": m.name,
        "coordinates": {"lat": m.latitude, "lon": m.longitude},
        "services": ["studieplatser", "tentamensvakt", "datorer och videomöten", "handledning", "studie- och yrkesvägledning"],
        "openingHours": _s("Mån–tors 8–16, fre 8–15"),
        "contact": _s(f"larcentrum@{muni}.vux.example"),
    }}


def write_feeds(out_dir: str | Path, target_occurrences: int | None = None) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for muni in sorted(municipalities()):
        path = out / f"{muni}.json"
        path.write_text(json.dumps(municipality_feed(muni, target_occurrences), ensure_ascii=False, indent=1),
                        encoding="utf-8")
        paths.append(path)
    return paths


def catalogue_feed(n_occ: int, n_courses: int = 1094, muni: str = "2480") -> dict:
    """One municipality offering the first `n_courses` of the real course texts in `n_occ` occurrences
    (start, pace and distance vary): the load of the benchmarks and the replica tests."""
    codes = sorted(courses())[:n_courses]
    provider = f"p.{muni}.vux"
    infos = [_info(muni, provider, c, courses()[c]["title"], course_text(courses()[c]), "Gymnasial vuxenutbildning",
                   courses()[c].get("points")) for c in codes]
    events = []
    for i in range(n_occ):
        code, rnd = codes[i % len(codes)], i // len(codes)
        start = date(2027, 1, 18) + timedelta(weeks=rnd % 40)
        events.append(_event(muni, provider, code, start, pace=[25, 50, 75, 100][rnd % 4], distance=rnd % 3 == 0,
                             town="Umeå", variant=f".{rnd}"))
    return {"educationProviders": [], "educationInfos": infos, "educationEvents": events}
