"""What the assistant understands of a learner from what they write (pure: no I/O).

Each message refines one `Profile`: occupations worked in and wanted (the JobTech taxonomy's
names), years of experience, home municipality, and the constraints that change which course
occurrences fit (distance or on site, travel, pace, start, Swedish level). A short answer is read
as the answer to the question the assistant asked last ("Lycksele", "ja", "deltid").
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from shared.reference import municipalities

_word = re.compile(r"\w+", re.UNICODE)


class Job(BaseModel):
    occupation: str
    ssyk4: str
    years: int | None = None


class Profile(BaseModel):
    experience: list[Job] = Field(default_factory=list)
    goals: list[Job] = Field(default_factory=list)
    home_municipality: str | None = None
    can_move: bool | None = None
    travel: bool | None = None  # willing to commute to another town
    distance: Literal["only", "ok", "no"] | None = None
    pace: Literal["full", "part"] | None = None
    start: Literal["now", "autumn", "spring", "next_year"] | None = None
    swedish: Literal["sfi", "basic", "good"] | None = None
    skills: list[str] = Field(default_factory=list, description="JobTech skills named in what the learner wrote")
    topics: list[str] = Field(default_factory=list, description="the learner's own words about work and goals")
    asked: list[str] = Field(default_factory=list, description="questions asked so far, in order")


# --- facts in a message ---------------------------------------------------------------------------

def _has(text: str, *phrases: str) -> bool:
    return _phrases(phrases).search(text) is not None


@lru_cache(maxsize=256)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern:
    """One compiled pattern per list of phrases, each a whole word or words."""
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" for p in phrases))


_HOME_CUE = re.compile(r"(?:\bbor|\blive|\bliving|\bdegan|أسكن|أعيش|ساکن)\b[^.,;!?]{0,12}$")
_FROM_CUE = re.compile(r"(?:\bfrån|\bfrom)\b[^.,;!?]{0,12}$")
_AWAY_CUE = re.compile(r"(?:\btill|\bto|\bpendla|\bcommute|\bresa|\btravel)\b[^.,;!?]{0,12}$")


def _municipality_in(text: str) -> str | None:
    """Where the learner lives, of the county's municipalities named in the text: the one after "bor i" /
    "live in", else after "från", else the last one named that is not where they would travel to
    ("pendla till Skellefteå" says nothing of home)."""
    found = []
    for code, m in municipalities().items():
        for match in re.finditer(rf"(?<!\w){re.escape(m.name.lower())}s?(?!\w)", text):
            found.append((match.start(), code))
    found.sort()
    before = {start: text[max(0, start - 30):start] for start, _ in found}
    for cue in (_HOME_CUE, _FROM_CUE):
        home = [code for start, code in found if cue.search(before[start])]
        if home:
            return home[0]
    here = [code for start, code in found if not _AWAY_CUE.search(before[start])]
    return here[-1] if here else None


YES = ("ja", "japp", "yes", "yeah", "ok", "okej", "gärna", "haa", "نعم", "بله", "آره", "absolut", "visst")
NO = ("nej", "no", "nope", "inte", "maya", "لا", "نه")


def read_message(profile: Profile, message: str, today: date, reading: dict | None = None  # noqa: ARG001
                 ) -> Profile:
    """The profile after one more message from the learner.

    `reading` is the search service's reading of the message (`understood` of /v1/understand: the
    occupations named as work done or goal, years, skills); without it (search unreachable) only what
    this module reads itself is taken: place, constraints, Swedish level.
    """
    reading = reading or {}
    p = profile.model_copy(deep=True)
    text = " ".join(message.lower().split())
    last_q = p.asked[-1] if p.asked else None

    # Occupations named in the text: work done or the goal.
    known = {j.ssyk4 for j in p.experience} | {j.ssyk4 for j in p.goals}
    years = reading.get("years")
    for o in reading.get("occupations", []):
        job = Job(occupation=o["named"], ssyk4=o["ssyk4"])  # as the learner wrote it
        if o["role"] == "goal":
            p.goals = [g for g in p.goals if g.ssyk4 != job.ssyk4] + [job]
            p.experience = [e for e in p.experience if e.ssyk4 != job.ssyk4]
        elif o["ssyk4"] not in known:
            job.years, years = years, None  # the years belong with the first occupation named
            p.experience.append(job)
    if years is not None and p.experience and p.experience[-1].years is None:
        p.experience[-1].years = years
    p.skills = list(dict.fromkeys(p.skills + list(reading.get("skills", []))))[:8]

    # Where the learner lives: "bor i Lycksele", "jag bor i Lycksele nu", or a bare answer.
    place = _municipality_in(text)
    if place and (p.home_municipality is None or last_q == "municipality"
                  or _has(text, "bor", "live", "living", "flyttat", "moved", "från", "from", "degan", "أسكن",
                          "أعيش", "زندگی", "ساکن")):
        p.home_municipality = place

    # Distance or on site.
    if _has(text, "inte på distans", "inte distans", "not online", "not remote", "not at a distance", "på plats",
            "on site", "in person", "i klassrum"):
        p.distance = "no"
    elif _has(text, "distans", "distance", "online", "remote", "hemifrån", "from home", "عن بعد", "أونلاين",
              "از راه دور", "آنلاین", "fogaan", "online-ka"):
        p.distance = "only" if _has(text, "helst", "bara", "only", "endast", "prefer", "vill", "want", "فقط") \
            or p.can_move is False or last_q == "travel" else (p.distance or "ok")

    # Moving and travelling.
    if _has(text, "kan inte flytta", "vill inte flytta", "can't move", "cannot move", "can not move",
            "don't want to move", "لا أستطيع الانتقال", "نمی‌توانم نقل مکان", "ma guuri karo"):
        p.can_move = False
    elif _has(text, "kan flytta", "can move", "willing to move"):
        p.can_move = True
    if _has(text, "kan pendla", "kan resa", "can commute", "can travel", "pendlar gärna", "pendla"):
        p.travel = True
    elif _has(text, "kan inte pendla", "kan inte resa", "can't travel", "cannot travel", "can't commute", "har ingen bil",
              "no car"):
        p.travel = False

    # Pace.
    if _has(text, "deltid", "halvtid", "halvfart", "part time", "part-time", "parttime", "kvällar", "evenings",
            "dawam dhiman", "پاره وقت", "دوام جزئي"):
        p.pace = "part"
    elif _has(text, "heltid", "full time", "full-time", "fulltime", "dawam buuxa", "تمام وقت", "دوام كامل"):
        p.pace = "full"

    # Start.
    if _has(text, "direkt", "snarast", "så snart", "så fort", "nu direkt", "asap", "right away", "as soon as",
            "immediately", "now", "hadda", "الآن", "فورا", "همین حالا"):
        p.start = "now"
    elif _has(text, "hösten", "i höst", "till hösten", "autumn", "fall", "augusti", "august", "september"):
        p.start = "autumn"
    elif _has(text, "våren", "i vår", "till våren", "spring", "januari", "january", "februari", "february"):
        p.start = "spring"
    elif _has(text, "nästa år", "next year", "sannadka dambe", "العام المقبل", "سال آینده"):
        p.start = "next_year"

    # Swedish level.
    if _has(text, "sfi"):
        p.swedish = "sfi"
    elif _has(text, "lite svenska", "little swedish", "some swedish", "basic swedish", "svenska lite",
              "svenska som andraspråk", "sas"):
        p.swedish = "basic"
    elif _has(text, "flytande", "bra på svenska", "fluent", "svenska som modersmål", "native swedish", "good swedish"):
        p.swedish = "good"

    # A bare yes or no answers the last question.
    if last_q == "travel" and p.distance is None and p.travel is None:
        if _has(text, *YES):
            p.travel = True
        elif _has(text, *NO):
            p.distance = "only"
    if last_q == "pace" and p.pace is None:
        if _has(text, "halv", "half", "50"):
            p.pace = "part"

    if _is_topic(text, p):
        p.topics = (p.topics + [" ".join(message.split())])[-8:]
    return p


_FACT_WORDS = set("""jag bor i nu helst på distans kan inte flytta pendla resa heltid deltid halvtid vill och men
gärna ja nej ok okej hösten våren höst vår direkt snarast nästa år sfi svenska lite bra flytande studera läsa
i live in now prefer online remote distance can cannot can't move travel commute full part time yes no the and
but start autumn spring next year swedish study at a from only bara endast också""".split())


def _is_topic(text: str, p: Profile) -> bool:
    """Whether a message says something about work or goals (not only a place, a yes or a constraint)."""
    names = {m.name.lower() for m in municipalities().values()}
    rest = [w for w in _word.findall(text) if w not in _FACT_WORDS and w.rstrip("s") not in names
            and not w.isdigit()]
    return len(rest) >= 2


# --- from profile to search ---------------------------------------------------------------------

COMMUTE_KM = 60.0  # about an hour by bus or car between municipality centres


def search_filters(p: Profile, today: date) -> dict:
    """The search filters the profile implies."""
    f: dict = {}
    if p.home_municipality:
        f["home_municipality"] = p.home_municipality
        if p.can_move is False or p.travel is False:
            f["max_distance_km"] = 30.0 if p.travel is False else COMMUTE_KM
    if p.distance == "only":
        f["distance_only"] = True
    if p.pace == "part":
        f["pace_max"] = 75.0
    elif p.pace == "full":
        f["pace_min"] = 100.0
    window = start_window(p.start, today)
    if window:
        f["start_from"], f["start_to"] = (d.isoformat() for d in window)
    return f


def start_window(start: str | None, today: date) -> tuple[date, date] | None:
    if start == "now":
        return today - timedelta(days=31), today + timedelta(days=92)
    if start == "autumn":
        y = today.year if today.month < 9 else today.year + 1
        return date(y, 7, 15), date(y, 10, 31)
    if start == "spring":
        y = today.year + 1 if today.month > 3 else today.year
        return date(y, 1, 1), date(y, 4, 30)
    if start == "next_year":
        return date(today.year + 1, 1, 1), date(today.year + 1, 12, 31)
    return None


def query_text(p: Profile) -> str:
    """What to search for: the learner's own words about work and goals, newest last, with the goal named."""
    # The goal named first and on its own: it is what the courses are for, and the rest of a message
    # ("bor i Sorsele och kan inte flytta") would otherwise pull towards generic courses.
    parts = [f"Jag vill bli {g.occupation}." for g in p.goals] + p.topics
    return " ".join(parts)[-1500:]


QUESTION_ORDER = ("municipality", "travel", "pace", "start", "swedish")


def next_question(p: Profile, suggestions: list[dict], lang: str) -> str | None:
    """The one question whose answer would change the suggestions most, or None.

    Known facts are not asked; a question is asked once; pace and start are asked only when the
    suggested occurrences differ in them, and Swedish level only of a learner writing in another language.
    """
    occ = [o for s in suggestions if s.get("kind") == "course" for o in s.get("occurrences", [])]
    for q in QUESTION_ORDER:
        if q in p.asked:
            continue
        if q == "municipality" and p.home_municipality is None:
            return q
        if q == "travel" and p.distance is None and p.travel is None and p.can_move is None:
            return q
        if q == "pace" and p.pace is None and len({o.get("pace_percent") for o in occ}) > 1:
            return q
        if q == "start" and p.start is None and len({(o.get("start") or "")[:7] for o in occ}) > 2:
            return q
        if q == "swedish" and p.swedish is None and lang != "sv":
            return q
    return None
