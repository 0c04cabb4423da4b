"""What the assistant understands of a learner from what they write (pure: no I/O).

Each message refines one `Profile`: occupations worked in and wanted (the JobTech taxonomy's
names), years of experience, home municipality, and the constraints that change which course
occurrences fit (distance or on site, travel, pace, start, Swedish level). A short answer is read
as the answer to the question the assistant asked last ("Lycksele", "ja", "deltid").
"""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from shared.reference import fold, municipalities, places_in, words_of

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
    education: Literal["none", "compulsory", "upper_secondary", "post_secondary"] | None = None  # highest, anywhere
    skills: list[str] = Field(default_factory=list, description="JobTech skills named in what the learner wrote")
    places: list[str] = Field(default_factory=list, description="county municipalities named, not (yet) as home")
    topics: list[str] = Field(default_factory=list, description="the learner's own words about work and goals")
    asked: list[str] = Field(default_factory=list, description="questions asked so far, in order")


# --- facts in a message ---------------------------------------------------------------------------

CUES = Path(__file__).parent / "cues.json"
READ_LIMIT = 4000
EDUCATION = ("none", "compulsory", "upper_secondary", "post_secondary")


@lru_cache(maxsize=1)
def _cues() -> dict[str, re.Pattern]:
    """One pattern per fact, from the phrases of all seven languages (cues.json): learners mix languages,
    and a phrase of one language rarely means something else in another."""
    table = json.loads(CUES.read_text(encoding="utf-8"))
    out = {}
    for fact, by_lang in table.items():
        if fact.startswith("_"):
            continue
        alts = []
        for phrase in {fold(p) for phrases in by_lang.values() for p in phrases}:
            body = r"(?:\W+\w+){0,6}?\W+".join(re.escape(part) for part in phrase.split(" * "))
            if phrase.isascii():
                alts.append(rf"(?<!\w){body}(?!\w)")
            else:  # an attached Arabic preposition or conjunction before, a short ending after
                alts.append(rf"(?<!\w)(?:[وبلف])?{body}\w{{0,2}}(?!\w)")
        out[fact] = re.compile("|".join(sorted(alts, key=len, reverse=True)))
    return out


def _says(text: str, fact: str) -> bool:
    return _cues()[fact].search(text) is not None


QUESTIONS = ("cost", "duration", "deadline", "validation")


def questions_asked(message: str) -> list[str]:
    """The questions in a message the assistant can answer from facts: what it costs, how long a course takes,
    when to apply, what a validation involves (cues.json ask_*, all seven languages)."""
    text = " ".join(fold(message[:READ_LIMIT]).split())
    return [q for q in QUESTIONS if _says(text, f"ask_{q}")]


# Clauses end at punctuation and at "because" or "but": "عن بعد لأني ما بقدر" is not "not at a distance".
_clause = re.compile(r"[.,;:!?،؛።፣፤\n()]+|\b(?:eftersom|because|men|but|لانی|لان|چون|ምኽንያቱ|maxaa yeelay)\b")


def _said_not(text: str, fact: str) -> bool:
    """A fact's words with a "not" beside them in the same clause ("Distans passar inte mig")."""
    neg = _cues()["neg"]
    for clause in _clause.split(text):
        for m in _cues()[fact].finditer(clause):
            window = " ".join(clause[:m.start()].split()[-2:] + clause[m.end():].split()[:3])
            if neg.search(window):
                return True
    return False


def _has(text: str, *phrases: str) -> bool:
    return _phrases(phrases).search(text) is not None


@lru_cache(maxsize=256)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern:
    """One compiled pattern per list of phrases, each a whole word or words."""
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" for p in phrases))


def _municipality_in(text: str) -> str | None:
    """Where the learner lives, of the county's places named in the text (any script): one with a
    "live" word near it ("bor i Lycksele", "ساكن بأوميو", "الان شلفتیو هستم"), else the last one named
    that is not where they would go ("pendla till Skellefteå", "u guuro Skellefteå") or work."""
    found = places_in(text)
    if not found:
        return None
    words = words_of(text)
    cues = _cues()

    def near(i: int, fact: str, before: int, after: int) -> bool:
        return cues[fact].search(" ".join(words[max(0, i - before):i + 1 + after])) is not None

    # "pendla till X, jag bor i Y"; but "moved to X" is home
    going = {i for i, _ in found if near(i, "away", 2, 0) and not near(i, "home", 2, 0)}
    for before, after in ((4, 0), (0, 3)):  # "bor i X" first, then "الان X هستم", "ኣብ X እነብር" after it
        home = [p.code for i, p in found if i not in going and near(i, "home", before, after)]
        if home:
            return home[0]
    here = [p.code for i, p in found if not near(i, "away", 8, 0)]
    return here[-1] if here else None


def read_message(profile: Profile, message: str, today: date, reading: dict | None = None  # noqa: ARG001
                 ) -> Profile:
    """The profile after one more message from the learner.

    `reading` is the search service's reading of the message (`understood` of /v1/understand: the
    occupations named as work done or goal, years, skills); without it (search unreachable) only what
    this module reads itself is taken: place, constraints, Swedish level.
    """
    reading = reading or {}
    message = message[:READ_LIMIT]  # facts come from the first paragraphs of a very long message
    p = profile.model_copy(deep=True)
    text = " ".join(fold(message).split())
    last_q = p.asked[-1] if p.asked else None

    # Occupations named in the text: work done or the goal.
    known = {j.ssyk4 for j in p.experience}
    years = reading.get("years")
    for o in reading.get("occupations", []):
        job = Job(occupation=o["named"], ssyk4=o["ssyk4"])  # as the learner wrote it
        if o["role"] == "goal":
            # Worked as one and wants to again ("كنت كهربائي … أريد أشتغل كهربائي"): both are true.
            p.goals = [g for g in p.goals if g.ssyk4 != job.ssyk4] + [job]
        elif o["ssyk4"] not in known:
            known.add(o["ssyk4"])
            job.years, years = years, None  # the years belong with the first occupation named
            p.experience.append(job)
    if years is not None and p.experience and p.experience[-1].years is None:
        p.experience[-1].years = years
    p.skills = list(dict.fromkeys(p.skills + list(reading.get("skills", []))))[:8]

    # Where the learner lives: "bor i Lycksele", "ساكن بأوميو", or a bare answer to the question.
    place = _municipality_in(message)
    if place and (p.home_municipality is None or last_q == "municipality" or _says(text, "home")):
        p.home_municipality = place
    elif place is None and p.home_municipality is None and p.places and _says(text, "home") and _says(text, "here"):
        p.home_municipality = p.places[-1]  # "Halkan ayaan ku noolahay": here, where they said they work
    p.places = (p.places + [pl.code for _, pl in places_in(message)])[-5:]

    # Distance or on site.
    if _says(text, "distance_no") or _said_not(text, "distance_yes"):
        p.distance = "no"
    elif _says(text, "distance_yes"):
        p.distance = "only" if _says(text, "distance_only") or p.can_move is False or last_q == "travel" \
            else (p.distance or "ok")

    # Moving and travelling: "can't" before "can".
    if _says(text, "move_no"):
        p.can_move = False
    elif _says(text, "move_yes"):
        p.can_move = True
    if _says(text, "travel_no"):
        p.travel = False
    elif _says(text, "travel_yes"):
        p.travel = True

    # Pace.
    if _says(text, "pace_part"):
        p.pace = "part"
    elif _says(text, "pace_full"):
        p.pace = "full"

    # Start.
    if _has(text, "direkt", "snarast", "sa snart", "sa fort", "nu direkt", "asap", "right away", "as soon as",
            "immediately", "hadda", "الان", "فورا", "همین حالا"):
        p.start = "now"
    elif _has(text, "hosten", "i host", "till hosten", "autumn", "fall", "augusti", "august", "september"):
        p.start = "autumn"
    elif _has(text, "varen", "i var", "till varen", "spring", "januari", "january", "februari", "february"):
        p.start = "spring"
    elif _has(text, "nasta ar", "next year", "sannadka dambe", "العام المقبل", "سال اینده"):
        p.start = "next_year"

    # Swedish level: said of Swedish (or SFI), good before SFI before a little.
    if _says(text, "swedish_word") or last_q == "swedish":
        if _says(text, "swedish_good"):
            p.swedish = "good"
        elif _says(text, "swedish_sfi_done"):
            p.swedish = "basic"
        elif _says(text, "swedish_sfi"):
            p.swedish = "sfi"
        elif _says(text, "swedish_basic"):
            p.swedish = "basic"

    # Highest completed education, in Sweden or abroad: the highest one said so far.
    said = next((level for fact, level in (("education_dropout", "compulsory"),
                                            ("education_post_secondary", "post_secondary"),
                                            ("education_upper_secondary", "upper_secondary"),
                                            ("education_compulsory", "compulsory"), ("education_none", "none"))
                 if _says(text, fact) and (level in ("none", "compulsory") or not _said_not(text, fact))), None)
    if said and (p.education is None or EDUCATION.index(said) > EDUCATION.index(p.education)):
        p.education = said

    # A bare yes or no answers the last question, unless the message says what it is about itself ("آره،
    # می‌تونم برم اومئو زندگی کنم": yes, I can move).
    says_move = _says(text, "move_no") or _says(text, "move_yes")
    if last_q == "travel" and p.distance is None and p.travel is None and not says_move:
        if _says(text, "yes"):
            p.travel = True
        elif _says(text, "no"):
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
