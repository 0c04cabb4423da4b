"""What a text says about the person who wrote it (pure: no I/O): its language, the occupations named
in it as work done or as the goal, the years of experience, and the skills named.

Search owns this reading because it sits beside the taxonomy and the model; `POST /v1/search` and
`POST /v1/understand` return it for any caller, and the guidance service builds its learner's
profile from it turn by turn.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from services.search.taxonomy import named_occupations, named_skills
from shared.reference import fold, occupation_areas

WORDS = Path(__file__).parent / "words.json"
_word = re.compile(r"\w+", re.UNICODE)

# --- language -----------------------------------------------------------------------------------

_PERSIAN = set("پچژگکی")
# Words Dari uses where Iranian Persian uses others (the script is shared): موتر car, اطفال children,
# مکتب school, بلی yes, استم/استیم am/are, کدم did, صنف class, دکان shop, ولایت province.
_DARI = set("موتر اطفال مکتب بلی استم استیم کدم میکدم صنف دکان لاری دریور ولایت سویدن سویدنی کابل "
            "افغانستان پوهنتون دهقان نلدوان".split())
_IRANI = set("میخوام میتونم هستم اومدم بشم خونه ماشین بچه مدرسه ایران تهران سوئد سوئدی کار".split())
_LATIN_HINTS = {
    "sv": set("jag och har som att det inte vill bor kan med på är en ett för till år jobbat arbetat läsa "
              "studera heltid deltid distans flytta svenska utbildning kurs hej nu men eller".split()),
    "en": set("i and have as the to not want live can with on is a an for years worked study work "
              "would like course move english distance time my am was but hi from".split()),
    "so": set("waxaan iyo ahay ku ka waan sanno sano shaqo rabaa doonayaa jiraa ahaa waxaa baran "
              "dugsi magaalada degan deganahay noolahay inaan noqdo hadda halkan oo ma aan ayaan waa "
              "iswiidhish carruur hooyo salaan asc maalin waqti".split()),
}


def detect_language(text: str, current: str | None = None) -> str:
    """The language a message is written in, from its script and its most common words; `current`
    (or Swedish) when the message says too little to tell: a place name, a Swedish loanword or a
    "ja" does not change a conversation's language."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters and current:
        latin = sum(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters)
        if 0.3 < latin / len(letters) < 0.7:
            return current  # scripts mixed half and half: no whole message in another language
    if letters:
        ethiopic = sum("\u1200" <= ch <= "\u137f" for ch in letters)
        if ethiopic > len(letters) / 2:
            return "ti"
        arabic = [ch for ch in letters if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f"]
        if len(arabic) > len(letters) / 2:
            if not any(ch in _PERSIAN for ch in arabic):
                return "ar"
            words = set(fold(text).split())
            dari, irani = len(words & {fold(w) for w in _DARI}), len(words & {fold(w) for w in _IRANI})
            if dari > irani:
                return "prs"
            if irani > dari or current not in ("fa", "prs"):
                return "fa"
            return current
    words = [w.lower() for w in _word.findall(text)]
    if len(words) < 3:
        return current or "sv"
    scores = {lang: sum(w in hints for w in words) for lang, hints in _LATIN_HINTS.items()}
    scores["sv"] += sum(ch in "åäö" for ch in text.lower()) // 2
    best = max(scores, key=lambda k: scores[k])
    if scores[best] < 2 or (current and scores.get(current, 0) == scores[best]):
        return current or "sv"
    return best


# --- years ----------------------------------------------------------------------------------------

_NUMBERS = {
    "en": 1, "ett": 1, "two": 2, "två": 2, "tre": 3, "three": 3, "fyra": 4, "four": 4, "fem": 5, "five": 5,
    "sex": 6, "six": 6, "sju": 7, "seven": 7, "åtta": 8, "eight": 8, "nio": 9, "nine": 9, "tio": 10, "ten": 10,
    "elva": 11, "eleven": 11, "tolv": 12, "twelve": 12, "femton": 15, "fifteen": 15, "tjugo": 20, "twenty": 20,
    "one": 1,
}
_YEARS = re.compile(r"(\d{1,2}|" + "|".join(_NUMBERS) + r")\s+(?:år|years?|sano|sanno|سنوات|سنة|سال)\b",
                    re.IGNORECASE)
_YEARS_AR = re.compile(r"(?:منذ|لمدة|مدة)?\s*(\d{1,2})\s*(?:سنوات|سنة|عام|سال)")


def years_named(text: str) -> int | None:
    m = _YEARS.search(text) or _YEARS_AR.search(text)
    if not m:
        return None
    raw = m.group(1).lower()
    return int(raw) if raw.isdigit() else _NUMBERS.get(raw)


# --- the reading ------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def words() -> dict[str, dict[str, str]]:
    return json.loads(WORDS.read_text(encoding="utf-8"))


def _t(lang: str, key: str, **values) -> str:
    table = words()
    order = ("prs", "fa", "en", "sv") if lang == "prs" else (lang, "en", "sv")
    text = next((table.get(lg, {}).get(key) for lg in order if table.get(lg, {}).get(key)), None) or table["sv"][key]
    return text.format(**values)


# What a learner tells about themselves fits in a few paragraphs; the rest of a very long text is not
# read for facts (it is still searched), so a pasted book cannot tie up a replica.
READ_LIMIT = 4000


def read(text: str, lang: str | None = None) -> dict:
    """Occupations (as the learner named them, with SSYK-4 and role), years, skills, the language and
    a summary a counsellor can read aloud, in that language."""
    text = text[:READ_LIMIT]
    lang = lang or detect_language(text)
    occupations = named_occupations(text)
    years = years_named(" ".join(text.lower().split()))
    experience, goals, left = [], [], years
    for o in occupations:
        job = {"occupation": o["named"], "ssyk4": o["ssyk4"], "years": None}
        if o["role"] == "goal":
            goals.append(job)
        else:
            job["years"], left = left, None  # the years belong with the first occupation named
            experience.append(job)
    fields = fields_named(text, lang)
    graduate = any(job["ssyk4"].startswith(HIGHER_EDUCATION) for job in experience)  # a degree already
    if any(university_only(g["ssyk4"]) for g in goals) and not graduate \
            and not set(ELIGIBILITY) & set(fields["subjects"]):
        # No vocational exit leads to a teacher's or a nurse's job; the way there is university, and basic
        # eligibility first.
        fields["subjects"] = sorted({*fields["subjects"], *eligibility_subjects(lang)})
    # A school subject named ("engelska", "matte") is what the learner wants to study, not a skill they have.
    subjects = _field_patterns(lang)["subjects"].values()
    skills = [s for s in named_skills(text) if not any(p.search(fold(s)) for p in subjects)]
    facts = []
    for job in experience:
        facts.append(_t(lang, "r_worked", occ=job["occupation"].lower())
                     + (" " + _t(lang, "r_years", n=job["years"]) if job["years"] else ""))
    if skills:
        facts.append(_t(lang, "r_skills", skills=", ".join(s.lower() for s in skills)))
    facts += [_t(lang, "r_goal", occ=g["occupation"].lower()) for g in goals]
    return {"lang": lang, "occupations": occupations, "experience": experience, "goals": goals, "years": years,
            "fields": fields,
            "skills": skills, "summary": _join(facts, lang)}


@lru_cache(maxsize=1)
def areas_of() -> dict[str, frozenset[str]]:
    """SSYK-4 group -> the programme areas that lead to it (shared/data/occupation_areas.json)."""
    return {code: frozenset(areas) for code, areas in occupation_areas().items()}


def university_only(ssyk4: str) -> bool:
    """An occupation that needs a degree and that no vocational exit leads to (teacher, engineer, doctor)."""
    return ssyk4.startswith(HIGHER_EDUCATION) and ssyk4 not in _course_stems()


def _aimed_at(reading: dict) -> list[str]:
    """The SSYK-4 groups the courses should lead to: those the learner wants, else those worked in. Not
    a university-only goal: the courses near a teacher's job (child care) do not lead there (learner_dev
    nDCG@10 0.563 -> 0.569 without them)."""
    goals = [o["ssyk4"] for o in reading["occupations"] if o["role"] == "goal"]
    worked = {o["ssyk4"] for o in reading["occupations"] if o["role"] != "goal"}
    return [c for c in goals or worked if c in worked or not university_only(c)]


COURSES = Path(__file__).parent / "data" / "occupation_courses.json"


@lru_cache(maxsize=1)
def _course_stems() -> dict[str, list[str]]:
    return json.loads(COURSES.read_text(encoding="utf-8"))


def course_stems(reading: dict) -> frozenset[str]:
    """The course-code stems (INSELS, PEDPED ...) of Skolverket's vocational exits that lead to the
    occupations the learner wants, else those they have worked in; and the general subjects named."""
    stems = {s for c in _aimed_at(reading) for s in _course_stems().get(c, ())}
    return frozenset(stems | set(reading.get("fields", {}).get("subjects", ())))


FIELDS = Path(__file__).parent / "data" / "field_words.json"


@lru_cache(maxsize=16)
def _field_patterns(lang: str | None = None) -> dict[str, dict[str, re.Pattern]]:
    """One pattern per programme area and per general subject, of its words in the text's language and in
    Swedish and English (which learners mix in): Arabic مكتب is an office, Dari مکتب a school. Without a
    language, the words of all seven."""
    table = json.loads(FIELDS.read_text(encoding="utf-8"))
    out: dict[str, dict[str, re.Pattern]] = {}
    for kind in ("areas", "subjects"):
        out[kind] = {}
        for name, by_lang in table[kind].items():
            own = [ws for code, ws in by_lang.items() if lang is None or code in (lang, "sv", "en")]
            alts = [rf"(?<!\w){re.escape(w)}(?:s|en|er|ar|na)?(?!\w)" if w.isascii()
                    else rf"(?<!\w)(?:ال|بال|وال|لل|[وبلف])?{re.escape(w)}\w{{0,2}}(?!\w)"
                    for w in sorted({fold(w) for ws in own for w in ws}, key=len, reverse=True)]
            if alts:
                out[kind][name] = re.compile("|".join(alts))
    return out


# Basic eligibility for higher education (grundläggande behörighet, Skolverket): Swedish or Swedish as a
# second language 1-3, English 5-6 and Mathematics 1. What a learner who aims at university studies needs.
ELIGIBILITY = ("ENG", "MAT")
HIGHER_EDUCATION = "2"  # SSYK major group 2: occupations that need a university degree


def fields_named(text: str, lang: str | None = None) -> dict[str, list[str]]:
    """Programme areas and general subjects the text points to without naming an occupation."""
    norm = " ".join(fold(text[:READ_LIMIT]).split())
    return {kind: sorted(name for name, pattern in patterns.items() if pattern.search(norm))
            for kind, patterns in _field_patterns(lang).items()}


def eligibility_subjects(lang: str | None) -> tuple[str, ...]:
    return (*ELIGIBILITY, "SVE" if lang in (None, "sv") else "SVA")


def course_areas(reading: dict) -> frozenset[str]:
    """The programme areas of the occupations the learner wants, or else of the fields their words point to
    ("vill jobba inom hemtjänsten"), or else of the occupations they have worked in: a cleaner who wants
    home care is not sent to property maintenance."""
    aimed = _aimed_at(reading)
    wanted = {o["ssyk4"] for o in reading["occupations"] if o["role"] == "goal"} & set(aimed)
    goals = frozenset(a for c in wanted for a in areas_of().get(c, ()))
    worked = frozenset(a for c in aimed for a in areas_of().get(c, ()))
    return goals or frozenset(reading.get("fields", {}).get("areas", ())) or worked


def search_text(text: str, reading: dict, own_words: bool = True) -> str:
    """What to embed for a learner's text: the Swedish names of the occupations understood, the goal
    first, then the learner's own words. The course texts are Swedish; a Tigrinya or Somali story is
    far from them in the model, its occupations are not."""
    aimed = set(_aimed_at(reading))
    goals = [o["group"] for o in reading["occupations"] if o["role"] == "goal" and o["ssyk4"] in aimed]
    worked = [o["group"] for o in reading["occupations"] if o["role"] != "goal"]
    parts = [f"Jag vill bli {', '.join(dict.fromkeys(goals))}." if goals else "",
             f"Jag har arbetat som {', '.join(dict.fromkeys(worked))}." if worked else ""]
    if own_words or not (goals or worked):
        parts.append(text)
    return " ".join(p for p in parts if p)


def _join(parts: list[str], lang: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    sep = "، " if lang in ("ar", "fa", "prs") else ", "
    return sep.join(parts[:-1]) + f" {_t(lang, 'r_and')} " + parts[-1]
