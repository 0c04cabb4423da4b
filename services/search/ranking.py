"""From index hits to results: dense scores pooled by subject, course codes, filters, grouping, and why (pure)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from functools import lru_cache

from pydantic import BaseModel, Field

from services.search.index import Entry, SearchIndex
from services.search.textwords import words
from shared.reference import course_area, distance_km, municipalities

_word = re.compile(r"\w+", re.UNICODE)
class Filters(BaseModel):
    home_municipality: str | None = Field(None, pattern=r"^\d{4}$")
    max_distance_km: float | None = Field(None, gt=0, le=2000)
    distance_only: bool = False
    pace_min: float | None = Field(None, gt=0, le=100)
    pace_max: float | None = Field(None, gt=0, le=100)
    start_from: date | None = None
    start_to: date | None = None
    open_now: bool = False
    school_type: str | None = Field(None, max_length=80)
    language: str | None = Field(None, max_length=10)


def occurrence_ok(o: dict, f: Filters, today: date) -> bool:
    if o.get("cancelled"):
        return False
    if f.distance_only and not o.get("distance"):
        return False
    if f.home_municipality and f.max_distance_km and not o.get("distance"):
        place = o.get("place_municipality_code") or o.get("municipality_code")
        if place in municipalities() and f.home_municipality in municipalities():
            if distance_km(f.home_municipality, place) > f.max_distance_km:
                return False
    pace = o.get("pace_percent")
    if pace is not None and ((f.pace_min and pace < f.pace_min) or (f.pace_max and pace > f.pace_max)):
        return False
    start = o.get("start")
    if start and ((f.start_from and start < f.start_from.isoformat()) or (f.start_to and start > f.start_to.isoformat())):
        return False
    if f.open_now and not o.get("continuous_intake"):
        deadline = o.get("application_deadline")
        if not deadline or deadline < today.isoformat():
            return False
    if f.language and o.get("languages") and f.language not in o["languages"]:
        return False
    return True


@lru_cache(maxsize=8192)
def _doc_words(text: str) -> tuple[frozenset[str], frozenset[str]]:
    doc = frozenset(words(text))
    return doc, frozenset(w[:5] for w in doc if len(w) >= 5)


def why(query: str, entry_text: str, limit: int = 4) -> list[str]:
    """The learner's words that the course text shares (same word or same first five letters)."""
    q = list(dict.fromkeys(words(query)))
    doc, stems = _doc_words(entry_text)
    hits = [w for w in q if w in doc or (len(w) >= 5 and w[:5] in stems)]
    return hits[:limit]


def subject_of(code: str | None) -> str | None:
    """The Skolverket subject of a course code: its letters before the first digit, at most three
    (BAGBAG02 -> BAG, SFIKURSA -> SFI); None for a code without letters."""
    if not code:
        return None
    head = re.match(r"[^\W\d_]+", code)
    return head.group(0)[:3].upper() if head else None


GENERAL_SUBJECTS = "Allmänna ämnen"  # shared/data/subject_areas.csv
_ENTRY = re.compile(r"^\D+01[A-Z]?\d?$")


def course_level(code: str | None) -> str | None:
    """"entry" for a subject's first course (OMVOMV01, MATMAT01A, SAMSAM01A1), "specialisation" for a
    specialisation course (VADVAD00S), else None."""
    c = (code or "").upper()
    return "entry" if _ENTRY.match(c) else "specialisation" if c.endswith("00S") else None


def fuse(index: SearchIndex, qvec, text: str, *, depth: int, title_weight: float = 0.0,
         subject_weight: float = 0.0, areas: frozenset[str] = frozenset(), area_weight: float = 0.0,
         subjects: frozenset[str] = frozenset(), entry_weight: float = 0.0,
         specialisation_weight: float = 0.0) -> list[tuple[str, float]]:
    """Dense cosine first, pooled by subject; lexical signals only where they are precise.

    Subject pooling: a course is also as good as the best course of its subject among the
    candidates (score = (cos + w * best cos in subject) / (1 + w)), because a learner who fits one
    course of a subject (Bageri 2) fits its series (Bageri 1, 3). On the development set this lifts
    nDCG@10 from 0.424 to 0.469 at w = 3 (passages cut at 256 tokens).

    BM25 over whole course texts was tried beside the cosine and lowered nDCG@10 on the development
    set at every weight (0.405 alone, 0.378 at 0.02, 0.306 at 0.05), so it is gone. What lexical
    matching is good for is kept: a course code written in the query puts that course first, and
    (optionally) a course title found word for word in the query adds a little.
    """
    scores = dict(index.dense(qvec, depth))
    # The courses of the exits wanted are candidates whatever their cosine, before pooling, so that Textil 1
    # shares the score of the Textil course the words came nearest (occupations dev nDCG@10 0.626 -> 0.680).
    # Not a general subject's: Matematik 5 is not as good as Matematik 1 for a learner completing grades.
    wanted = {k for subject in subjects for k in index.keys_for_subject(subject)} if area_weight else set()
    for key in wanted - scores.keys():
        if course_area(index.code_of(key)) != GENERAL_SUBJECTS:
            scores[key] = index.cosine(qvec, key)
    if subject_weight:
        subject = {key: subject_of(index.code_of(key)) for key in scores}
        best: dict[str, float] = {}
        for key, sc in scores.items():
            if subject[key]:
                best[subject[key]] = max(best.get(subject[key], sc), sc)
        for key, sc in scores.items():
            if subject[key]:
                scores[key] = (sc + subject_weight * best[subject[key]]) / (1 + subject_weight)
    if areas and area_weight:
        # The learner named an occupation: the courses of the programme area that leads to it come first.
        for key in scores:
            if course_area(index.code_of(key)) in areas:
                scores[key] += area_weight
    if subjects and area_weight:
        # The courses of the vocational exits that lead to the occupation wanted ("INSELS" for an
        # electrician) and the general subjects named ("matte 1", "Xisaabta") come first, also when the
        # learner's words (in Somali, say) are far from them in the model.
        for key in wanted:
            scores[key] = (scores[key] if key in scores else index.cosine(qvec, key)) + area_weight
    if entry_weight or specialisation_weight:
        # Adult learners start a trade at its first course: level 1 up, a specialisation course down. Level 1
        # not up in general subjects: a learner completing grades starts where their grades end (Engelska 6).
        for key in scores:
            code = index.code_of(key)
            level = course_level(code)
            if level == "specialisation":
                scores[key] -= specialisation_weight
            elif level == "entry" and course_area(code) != GENERAL_SUBJECTS:
                scores[key] += entry_weight
    lowered = f" {' '.join(words(text))} "
    for token in {t.upper() for t in _word.findall(text) if len(t) >= 5 and any(ch.isdigit() for ch in t)}:
        for key in index.keys_for_code(token):
            scores[key] = max(scores.get(key, index.cosine(qvec, key)), 0) + 1.0
    if title_weight:
        for key in list(scores):
            title = index.title_words(key)
            if title and f" {title} " in lowered:
                scores[key] += title_weight
    return sorted(scores.items(), key=lambda kv: -kv[1])


def results(index: SearchIndex, ranked: list[tuple[str, float]], query: str, f: Filters, limit: int,
            kinds: set[str], today: date) -> list[dict]:
    out: list[dict] = []
    asked = {t.upper() for t in _word.findall(query)}
    for key, score in ranked:
        holders = index.holders(key)
        # The same course in several municipalities is one result; different courses that happen
        # to share a text stay apart (one vector, one result per course code).
        groups: dict[str, list[Entry]] = {}
        for e in holders:
            if e.kind == "course":
                groups.setdefault((e.doc.get("code") or e.id).upper(), []).append(e)
        if groups and "course" in kinds:
            for code in sorted(groups, key=lambda c: (c not in asked, c)):
                r = course_result(groups[code], score, query, f, today)
                if r:
                    out.append(r)
        for e in holders:
            if e.kind != "course" and e.kind in kinds and kind_ok(e, f):
                out.append(other_result(e, score, query))
        if len(out) >= limit:
            break
    return out[:limit]


def kind_ok(e: Entry, f: Filters) -> bool:
    if f.home_municipality and f.max_distance_km and e.doc.get("municipality_code") in municipalities():
        return distance_km(f.home_municipality, e.doc["municipality_code"]) <= f.max_distance_km
    return True


MAX_OCCURRENCES = 25  # per result; the rest are counted (`more_occurrences`), not listed
COMMUTE_KM = 60.0  # about an hour between municipality centres: on site within it comes before distance study


def course_result(courses: list[Entry], score: float, query: str, f: Filters, today: date) -> dict | None:
    """Courses with the same text (the same course in several municipalities) make one result."""
    if f.school_type:
        courses = [c for c in courses if (c.doc.get("school_type") or "").lower() == f.school_type.lower()]
    fitting = [(c, o) for c in courses for o in c.doc.get("occurrences", []) if occurrence_ok(o, f, today)]
    if not fitting:
        return None
    if f.home_municipality in municipalities():
        # Near the learner first: on site at home, then on site within reach (nearest first), then at a
        # distance (with the nearest learning centre), then the rest; the earliest start within each.
        home = f.home_municipality

        def nearness(co: tuple[Entry, dict]) -> tuple:
            o = co[1]
            place = o.get("place_municipality_code") or o.get("municipality_code")
            if o.get("distance"):
                return 2, 0.0, o.get("start") or "9999"
            if place == home:
                return 0, 0.0, o.get("start") or "9999"
            km = distance_km(home, place) if place in municipalities() else 9999.0
            return (1 if km <= COMMUTE_KM else 3), km, o.get("start") or "9999"

        fitting.sort(key=nearness)
    occ = [{
        "id": o["id"], "course_id": c.id, "municipality_code": o.get("municipality_code"),
        "municipality": _name(o.get("place_municipality_code") or o.get("municipality_code")),
        "town": o.get("town"), "start": o.get("start"), "end": o.get("end"),
        "pace_percent": o.get("pace_percent"), "distance": o.get("distance", False),
        "application_deadline": o.get("application_deadline"),
        "continuous_intake": o.get("continuous_intake", False), "url": o.get("url"),
        "provider": (c.doc.get("provider") or {}).get("name"),
    } for c, o in fitting[:MAX_OCCURRENCES]]
    first = courses[0].doc
    text = f"{first.get('title', '')}\n{first.get('description', '')}"
    return {"kind": "course", "id": courses[0].id, "title": first.get("title"), "score": round(score, 4),
            "course_code": first.get("code"), "school_type": first.get("school_type"), "area": first.get("area"),
            "occurrences": occ, "more_occurrences": max(0, len(fitting) - MAX_OCCURRENCES),
            "why": why(query, text)}


def other_result(e: Entry, score: float, query: str) -> dict:
    d = e.doc
    title = d.get("title") or d.get("name")
    r = {"kind": e.kind, "id": e.id, "title": title, "score": round(score, 4),
         "municipality_code": d.get("municipality_code"), "municipality": _name(d.get("municipality_code")),
         "why": why(query, f"{title}\n{d.get('description', '')}")}
    if e.kind == "validation":
        r.update({k: d.get(k) for k in ("occupation_ssyk4", "course_codes", "method", "duration", "cost", "contact")})
    else:
        r.update({k: d.get(k) for k in ("address", "town", "services", "opening_hours", "contact")})
    return r


def _name(code: str | None) -> str | None:
    m = municipalities().get(code or "")
    return m.name if m else code


def credits_work(offer_ssyk4: str, worked: set[str], wanted: set[str],
                 areas_of: Mapping[str, frozenset[str]] = MappingProxyType({})) -> bool:
    """Whether a validation offer can credit what the learner has done: they worked in its occupation's minor
    group (three digits: "undersköterska" spans 5321-5323), or they want its occupation and worked in one
    of the same programme area (a care assistant who wants to become an assistant nurse; not a childminder)."""
    if not offer_ssyk4:
        return False
    if offer_ssyk4[:3] in {s[:3] for s in worked}:
        return True
    own = areas_of.get(offer_ssyk4, frozenset())
    return offer_ssyk4[:3] in {s[:3] for s in wanted} and any(own & areas_of.get(s, frozenset()) for s in worked)


def validation_first(index: SearchIndex, results: list[dict], worked: set[str], query: str, f: Filters,
                     limit: int, wanted: set[str] = frozenset(),
                     areas_of: Mapping[str, frozenset[str]] = MappingProxyType({})) -> list[dict]:
    """Validation offers that credit the learner's work (credits_work) come before courses they may not need,
    whatever the filters: validation takes only a few visits, so an offer in another municipality is still
    worth it. Such an offer says where it is (`elsewhere`, `distance_km` from home); offers of the exact
    group and nearest home come first. Each is marked `credits_work`."""
    offers = [e for (kind, _), e in sorted(index.entries.items())
              if kind == "validation" and credits_work(e.doc.get("occupation_ssyk4") or "", worked, wanted, areas_of)]
    if not offers:
        return results
    home = f.home_municipality if f.home_municipality in municipalities() else None
    first = []
    for e in offers:
        r = other_result(e, 1.0, query)
        place = e.doc.get("municipality_code")
        r["elsewhere"] = bool(home and place != home)
        r["distance_km"] = round(distance_km(home, place)) if home and place in municipalities() else None
        r["credits_work"] = True
        first.append(r)
    first.sort(key=lambda r: (r["occupation_ssyk4"] not in worked | wanted, r["distance_km"] or 0))
    ids = {r["id"] for r in first}
    return (first + [r for r in results if r["id"] not in ids])[:max(limit, len(first))]


_LEVEL = re.compile(r"^(\D+)(\d{2})(.*)$")


def previous_course(code: str) -> str | None:
    """The course of the same subject one level below (OMVOMV02 -> OMVOMV01, MATMAT03B -> MATMAT02B):
    Gy2011 numbers the courses that build on each other so."""
    m = _LEVEL.match(code.upper())
    if not m or int(m.group(2)) <= 1:
        return None
    return f"{m.group(1)}{int(m.group(2)) - 1:02d}{m.group(3)}"


def with_prerequisites(index: SearchIndex, results: list[dict], query: str, f: Filters, today: date,
                       depth: int = 3) -> list[dict]:
    """A path, not a list: a course that builds on an earlier course of its subject comes with that course
    just before it (`before`: the course it leads to), when the catalogue offers it within the filters."""
    have = {(r.get("course_code") or "").upper() for r in results if r["kind"] == "course"}
    out: list[dict] = []
    for r in results:
        code, before = (r.get("course_code") or "") if r["kind"] == "course" else "", []
        for _ in range(depth):
            code = previous_course(code) if code else None
            if not code or code in have:
                break
            offered = [e for key in index.keys_for_code(code) for e in index.holders(key)
                       if e.kind == "course" and (e.doc.get("code") or "").upper() == code]
            found = course_result(offered, r["score"], query, f, today) if offered else None
            if found is None:
                break
            before.insert(0, {**found, "fit": r.get("fit"), "before": r["course_code"]})
            have.add(code)
        out += before + [r]
    return out


def with_fit(results: list[dict], floor: float, strong: float) -> list[dict]:
    """How well each result matches (settings.fit_floor/fit_strong, calibrated): "strong", "partial", or None
    below the floor, where it is only the closest the index has, not a match."""
    for r in results:
        r["fit"] = "strong" if r["score"] >= strong else "partial" if r["score"] >= floor else None
    return results


def with_nearest_centre(index: SearchIndex, results: list[dict], home: str | None) -> list[dict]:
    """A course that can be taken at a distance comes with the learning centre nearest the learner's home
    (where to sit, borrow a computer, write exams)."""
    if home not in municipalities():
        return results
    centres = [e.doc for (kind, _), e in index.entries.items() if kind == "learning_centre"
               and e.doc.get("municipality_code") in municipalities()]
    if not centres:
        return results
    d, c = min(((distance_km(home, c["municipality_code"]), c) for c in centres), key=lambda dc: dc[0])
    centre = {"id": c["id"], "name": c.get("name"), "town": c.get("town"),
              "municipality": _name(c.get("municipality_code")), "address": c.get("address"),
              "distance_km": round(d)}
    for r in results:
        if r["kind"] == "course" and any(o.get("distance") for o in r.get("occurrences", [])):
            r["learning_centre"] = centre
    return results
