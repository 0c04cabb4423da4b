"""The assistant's words: replies, questions and explanations built from the profile and the results (pure).

No language model is needed: each answer is put together from phrases in `web/i18n.json` (the same
file the page uses for its own words), so a missing phrase in one language falls back to English,
then Swedish.
"""
from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path

from services.guidance.profile import Profile
from shared.reference import municipalities

I18N = Path(__file__).parent / "web" / "i18n.json"


@lru_cache(maxsize=1)
def phrases() -> dict[str, dict[str, str]]:
    return json.loads(I18N.read_text(encoding="utf-8"))


# Where a phrase is not yet written in a language: Dari reads Persian; everyone else gets English, then Swedish.
FALLBACK = {"prs": ("prs", "fa", "en", "sv")}


def t(lang: str, key: str, **values) -> str:
    table = phrases()
    text = next((table.get(lg, {}).get(key) for lg in FALLBACK.get(lang, (lang, "en", "sv"))
                 if table.get(lg, {}).get(key)), None) or table["sv"][key]
    return text.format(**values) if values else text


def place_name(code: str | None) -> str | None:
    m = municipalities().get(code or "")
    return m.name if m else None


def understood(p: Profile, lang: str) -> dict:
    """The profile as the page shows it: facts, and one readable line of them."""
    facts = []
    for job in p.experience:
        s = t(lang, "r_worked", occ=job.occupation.lower())
        if job.years:
            s += " " + t(lang, "r_years", n=job.years)
        facts.append(s)
    if p.skills:
        facts.append(t(lang, "r_skills", skills=", ".join(x.lower() for x in p.skills)))
    facts += [t(lang, "r_goal", occ=g.occupation.lower()) for g in p.goals]
    if p.home_municipality:
        facts.append(t(lang, "r_lives", place=place_name(p.home_municipality)))
    if p.can_move is False:
        facts.append(t(lang, "r_no_move"))
    if p.distance == "only":
        facts.append(t(lang, "r_distance_only"))
    elif p.distance == "no":
        facts.append(t(lang, "r_on_site"))
    if p.travel is not None:
        facts.append(t(lang, "r_commute" if p.travel else "r_no_commute"))
    if p.pace:
        facts.append(t(lang, f"r_{p.pace}"))
    if p.start:
        facts.append(t(lang, f"r_start_{p.start}"))
    if p.swedish:
        facts.append(t(lang, "r_sfi" if p.swedish == "sfi" else f"r_swedish_{p.swedish}"))
    if p.education:
        facts.append(t(lang, f"r_education_{p.education}"))
    return {
        "experience": [j.model_dump() for j in p.experience],
        "goals": [j.model_dump() for j in p.goals],
        "skills": list(p.skills),
        "home_municipality": {"code": p.home_municipality, "name": place_name(p.home_municipality)}
        if p.home_municipality else None,
        "constraints": {k: v for k, v in p.model_dump(include={"can_move", "travel", "distance", "pace", "start",
                                                                "swedish"}).items() if v is not None},
        "education": p.education,
        "facts": facts,
        "summary": _join(facts, lang),
    }


def _join(parts: list[str], lang: str) -> str:
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    sep = "، " if lang in ("ar", "fa") else ", "
    return sep.join(parts[:-1]) + f" {t(lang, 'r_and')} " + parts[-1]


def reply(p: Profile, suggestions: list[dict], lang: str, relaxed: str | None = None, degraded: bool = False,
          fit: str = "good", questions: list[str] = ()) -> str:
    facts = understood(p, lang)["facts"]
    out = answers(list(questions), suggestions, lang)  # what was asked first
    if facts:
        out.append(f"{t(lang, 'r_intro')} {_join(facts, lang)}.")
    if degraded:
        out.append(t(lang, "r_search_down"))
        return " ".join(out)
    if not p.topics and not p.goals and not p.experience:
        out.append(t(lang, "r_nothing"))
        return " ".join(out)
    if not suggestions and vague(p, fit):
        out.append(t(lang, "r_vague"))  # the question asks about interests
        return " ".join(out)
    if not suggestions:
        out.append(t(lang, "r_none"))
        return " ".join(out)
    if relaxed:
        out.append(t(lang, "r_relaxed", what=t(lang, f"w_{relaxed}")))
    if fit == "none":
        # Honest: nothing in the county fits; the closest are shown as such, and a counsellor can help.
        out.append(t(lang, "r_none_fits"))
        return " ".join(out)
    out.append(t(lang, "r_found", n=len(suggestions)))
    if fit == "weak":
        out.append(t(lang, "r_weak"))
    if suggestions[0].get("kind") == "validation":
        out.append(t(lang, "r_validation_first"))
    return " ".join(out)


def answers(questions: list[str], suggestions: list[dict], lang: str) -> list[str]:
    """Answers from facts: komvux costs nothing (Skollagen 20 kap. 7 §); how long and when to apply come from
    the first suggested course's dates; what a validation involves from the offer itself. Where the data
    does not say, a counsellor is the honest answer."""
    out = []
    course = next((s for s in suggestions if s["kind"] == "course" and s.get("occurrences")), None)
    occ = course["occurrences"][0] if course else {}
    where = occ.get("town") or occ.get("municipality") or ""
    for q in questions:
        if q == "cost":
            out.append(t(lang, "a_cost"))
        elif q == "duration" and occ.get("start") and occ.get("end"):
            weeks = max(1, round((date.fromisoformat(occ["end"]) - date.fromisoformat(occ["start"])).days / 7))
            out.append(t(lang, "a_duration", title=course["title"], place=where, start=occ["start"], end=occ["end"],
                         weeks=weeks, pace=f"{occ['pace_percent']:g}" if occ.get("pace_percent") else "100"))
        elif q == "deadline" and occ.get("continuous_intake"):
            out.append(t(lang, "a_deadline_open", title=course["title"], place=where))
        elif q == "deadline" and occ.get("application_deadline"):
            out.append(t(lang, "a_deadline", title=course["title"], place=where, date=occ["application_deadline"]))
        elif q == "validation":
            offer = next((s for s in suggestions if s["kind"] == "validation"), None)
            out.append(t(lang, "a_validation"))
            if offer and (offer.get("method") or offer.get("duration")):
                out.append(t(lang, "a_validation_offer", title=offer["title"], method=offer.get("method") or "",
                             duration=offer.get("duration") or ""))
        else:
            out.append(t(lang, "a_ask_counsellor"))
    return out


def vague(p: Profile, fit: str) -> bool:
    """Nothing known of work or goals, and nothing matched: ask about interests rather than guess."""
    return fit == "none" and not p.goals and not p.experience and not p.skills


def question(key: str | None, lang: str) -> str | None:
    return t(lang, f"q_{key}") if key else None


# What each button sends: words the profile reads in any conversation (profile.py, cues.json), so a
# learner who is not understood in their own words can still answer.
QUICK = {
    "travel": (("qr_travel", "kan pendla"), ("qr_distance", "helst distans")),
    "pace": (("qr_full", "heltid"), ("qr_part", "deltid")),
    "start": (("qr_now", "direkt"), ("qr_autumn", "till hösten"), ("qr_spring", "till våren")),
    "swedish": (("qr_sfi", "läser sfi"), ("qr_some_swedish", "svenska lite"), ("qr_good_swedish", "flytande svenska")),
    # The vocational areas, general subjects and Swedish, in words search reads as that field.
    "interests": (("qr_area_care", "jag vill jobba inom vård och omsorg"), ("qr_area_children", "jag vill jobba med barn"),
                  ("qr_area_building", "jag vill jobba med bygg"), ("qr_area_electricity", "jag vill jobba med el"),
                  ("qr_area_vehicles", "jag vill jobba med fordon och transport"),
                  ("qr_area_office", "jag vill jobba på kontor eller i butik"),
                  ("qr_area_restaurant", "jag vill jobba i restaurang och kök"),
                  ("qr_area_industry", "jag vill jobba inom industri och verkstad"),
                  ("qr_area_nature", "jag vill jobba med djur och natur"), ("qr_area_it", "jag vill jobba med data och IT"),
                  ("qr_area_grades", "jag vill läsa in betyg i matematik, engelska och svenska"),
                  ("qr_area_swedish", "jag vill lära mig svenska, sfi")),
}


def is_quick_reply(message: str) -> bool:
    """Whether a message is what one of the buttons sends."""
    return message.strip() in {m for options in QUICK.values() for _, m in options} | \
        {m.name for m in municipalities().values()}


def quick_replies(key: str | None, lang: str) -> list[dict]:
    """Buttons that answer the question: {label in the learner's language, message to send}."""
    if key == "municipality":
        return [{"label": m.name, "message": m.name} for m in sorted(municipalities().values(), key=lambda m: m.name)]
    return [{"label": t(lang, label), "message": message} for label, message in QUICK.get(key or "", ())]


# The subjects of basic eligibility for higher education (Högskoleförordningen 7 kap. 5 §, Gy2011 courses).
ELIGIBILITY = ("SVESVE", "SVASVA", "ENGENG", "MATMAT")


def explain(s: dict, p: Profile, lang: str) -> str:
    """Why a suggestion was made, in words a counsellor can read aloud."""
    out = []
    if s.get("added_by"):
        out.append(t(lang, "why_added", name=s["added_by"]))
    if s["kind"] == "validation":
        group = (s.get("occupation_ssyk4") or "")[:3]
        worked = [j.occupation.lower() for j in p.experience if j.ssyk4[:3] == group] or \
            [j.occupation.lower() for j in p.experience]
        if worked:
            out.append(t(lang, "why_validation", occ=worked[0]))
        if s.get("elsewhere") and s.get("municipality"):
            out.append(t(lang, "why_validation_where", place=s["municipality"], km=s.get("distance_km") or 0))
    elif s.get("closest"):
        out.append(t(lang, "why_closest"))
    elif (s.get("course_code") or "").upper().startswith(("SFI", "SVA")) and p.swedish in ("sfi", "basic"):
        out.append(t(lang, "why_swedish"))
    else:
        out.append(t(lang, "why_words", words=", ".join(s["why"])) if s.get("why") else t(lang, "why_meaning"))
    if (s.get("course_code") or "").upper().startswith(ELIGIBILITY):
        out.append(t(lang, "why_eligibility"))  # what a general subject leads to
    occ = s.get("occurrences") or []
    if occ:
        first = occ[0]
        if first.get("distance"):
            out.append(t(lang, "why_distance"))
        elif first.get("municipality"):
            out.append(t(lang, "why_near", place=first["town"] or first["municipality"]))
        if first.get("start"):
            out.append(t(lang, "why_start", date=first["start"]))
    centre = s.get("learning_centre")
    if centre:
        out.append(t(lang, "why_centre", name=centre["name"], town=centre.get("town") or centre.get("municipality")))
    return " ".join(out)


def plan_items(suggestions: list[dict], limit: int = 8) -> list[dict]:
    """A learner's plan: validation first, then courses (with place and date), then learning centres."""
    order = {"validation": 0, "course": 1, "learning_centre": 2}
    items = []
    for s in sorted(suggestions, key=lambda s: order.get(s["kind"], 3)):
        occ = (s.get("occurrences") or [{}])[0]
        where = occ.get("town") or occ.get("municipality") or s.get("municipality")
        detail = None
        if s["kind"] == "course":
            bits = [f"{occ['pace_percent']:g} %" if occ.get("pace_percent") else None,
                    "distans" if occ.get("distance") else None,
                    f"sista ansökningsdag {occ['application_deadline']}" if occ.get("application_deadline") else None]
            detail = ", ".join(b for b in bits if b) or None
        elif s["kind"] == "validation":
            detail = s.get("method") or None
        items.append({"kind": s["kind"], "title": s["title"], "municipality": where, "start": occ.get("start"),
                      "detail": detail, "url": occ.get("url") or s.get("url")})
    # Distance studies: the learning centre nearest home, where to sit, borrow a computer and write exams.
    centre = next((s["learning_centre"] for s in suggestions if s.get("learning_centre")), None)
    if centre and not any(i["kind"] == "learning_centre" for i in items):
        items = items[:limit - 1] + [{"kind": "learning_centre", "title": centre.get("name") or "",
                                      "municipality": centre.get("town") or centre.get("municipality"),
                                      "start": None, "detail": centre.get("address"), "url": None}]
    return items[:limit]
