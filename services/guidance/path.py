"""From search results to a learner's path (pure): validation for work done first, Swedish at the level the
learner needs, then the courses in the order they build on each other, each with how well it fits.

The rules a study counsellor applies:
- validation credits what someone has done, so an offer is shown only where search says it credits the
  learner's work (`credits_work`), and then first, whatever filters follow;
- SFI is for those learning Swedish: never suggested to a fluent or native speaker;
- a course comes before the course of the same subject that builds on it (Omvårdnad 1 before 2);
- what scores below the calibrated floor is not a match (search's `fit`), and the answer says how well
  the whole list fits: "good" (a strong match), "weak" (only partial ones) or "none".
"""
from __future__ import annotations

import re

from services.guidance.profile import Profile

CLOSEST = 3  # shown when nothing fits
SFI = "SFI"  # Skolverket's subject code of Swedish for immigrants (SFIKURSA-D)
# The Swedish course a learner's level calls for: what to search for, and the course codes that are it.
SWEDISH_COURSE = {"sfi": ("Svenska för invandrare, sfi", "SFI"), "basic": ("Svenska som andraspråk 1", "SVASVA01")}


def needs_sfi(p: Profile, lang: str) -> bool | None:
    """True: the learner is learning Swedish; False: they are fluent (or write to us in Swedish and have not
    said otherwise); None: not known yet (the assistant asks)."""
    if p.swedish in ("sfi", "basic"):
        return p.swedish == "sfi"
    if p.swedish == "good" or lang == "sv":
        return False
    return None


def _subject_level(code: str | None) -> tuple[str, str] | None:
    """(subject, level) of a course code: OMVOMV01 -> ("OMVOMV", "01"), MATMAT01b -> ("MATMAT", "01b")."""
    m = re.match(r"([A-Za-zÅÄÖåäö]+)(\d+[A-Za-z]?)$", code or "")
    return (m.group(1).upper(), m.group(2).lower()) if m else None


def in_order(courses: list[dict]) -> list[dict]:
    """The same list, except that courses of one subject take their places in the order of their levels,
    so a course never comes after the one that builds on it."""
    by_subject: dict[str, list[int]] = {}
    for i, c in enumerate(courses):
        sl = _subject_level(c.get("course_code"))
        if sl:
            by_subject.setdefault(sl[0], []).append(i)
    out = list(courses)
    for slots in by_subject.values():
        ordered = sorted((courses[i] for i in slots), key=lambda c: _subject_level(c["course_code"])[1])
        for i, c in zip(slots, ordered):
            out[i] = c
    return out


def build(results: list[dict], p: Profile, lang: str, limit: int, swedish_course: dict | None = None
          ) -> tuple[list[dict], str]:
    """The suggestions to show, numbered in path order (`step`), and how well they fit overall.
    `swedish_course`: the SFI or Svenska som andraspråk course for a learner whose Swedish calls for it."""
    sfi = needs_sfi(p, lang)
    # Search marks the offers that credit the learner's work (`credits_work`); one found only by its words
    # credits nothing the learner has said they did.
    validation = [r for r in results if r["kind"] == "validation" and r.get("credits_work")]
    courses = [r for r in results if r["kind"] == "course"
               and not (sfi is False and (r.get("course_code") or "").upper().startswith(SFI))]
    matches = [r for r in courses if r.get("fit") in ("strong", "partial")]
    if not matches and not validation:
        # Nothing fits: the closest few, marked as such, so the learner sees what the county has.
        matches = [{**r, "fit": "partial", "closest": True} for r in courses[:CLOSEST]]
    courses = matches
    first = validation[:2]
    if swedish_course and not any(c["id"] == swedish_course["id"] for c in courses):
        first.append({**swedish_course, "fit": "strong"})
    path = first + in_order(courses[:max(0, limit - len(first))])
    for i, s in enumerate(path, 1):
        s["step"] = i
        s.setdefault("fit", "strong")
    if not validation and all(s.get("closest") for s in path if s["kind"] == "course"):
        return path, "none"
    strong = bool(validation) or any(s["fit"] == "strong" for s in path if s["kind"] == "course")
    return path, "good" if strong else "weak"
