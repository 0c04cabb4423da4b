"""Reference data every service may need: the county's 15 municipalities."""
from __future__ import annotations

import csv
import json
import re
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


@lru_cache(maxsize=1)
def subject_areas() -> dict[str, str]:
    with open(DATA / "subject_areas.csv", encoding="utf-8") as f:
        return {r["subject_code"]: r["area"] for r in csv.DictReader(f)}


@lru_cache(maxsize=1)
def occupation_areas() -> dict[str, tuple[str, ...]]:
    """SSYK-4 group -> the programme areas whose courses lead to it (occupation_areas.json)."""
    table = json.loads((DATA / "occupation_areas.json").read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for area, codes in table.items():
        if not area.startswith("_"):
            for code in codes:
                out.setdefault(code, []).append(area)
    return {code: tuple(areas) for code, areas in out.items()}


def course_area(code: str | None, school_type: str | None = None) -> str | None:
    """The education area of a course: SFI, or the area of its Skolverket subject (code prefix)."""
    if school_type and ("invandrare" in school_type.lower() or school_type.lower() == "sfi"):
        return "Svenska för invandrare"
    if code and code.upper().startswith("SFI"):
        return "Svenska för invandrare"
    if not code:
        return None
    areas = subject_areas()
    for n in (4, 3, 2):
        if code[:n] in areas:
            return areas[code[:n]]
    return None


# --- places in a learner's own words --------------------------------------------------------------

_word = re.compile(r"\w+", re.UNICODE)
_ARABIC_SCRIPT = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ی", "ي": "ی", "ئ": "ی", "ك": "ک",
                                "ة": "ه", "ۀ": "ه", "ؤ": "و", "ە": "ه", "ھ": "ه", "\u200c": "", "\u00ad": "",
                                "ـ": ""})
_LATIN = str.maketrans("åäöéèüáàâêíóúçø", "aaoeeuaaaeioucø".replace("ø", "o"))
_marks = re.compile(r"[\u064b-\u065f\u0670\u0300-\u036f]")  # Arabic harakat, combining accents


def fold(text: str) -> str:
    """Text as it is compared with word lists: lower case; Arabic and Persian letters written one way
    (ي/ی, ك/ک, hamza seats, ta marbuta, ZWNJ); Swedish and other Latin letters without their accents
    (learners write "Umea", "Burtrask"); Arabic and Persian digits as 0-9."""
    text = _marks.sub("", text.lower().translate(_ARABIC_SCRIPT).translate(_LATIN))
    return text.translate(_DIGITS)


_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@dataclass(frozen=True)
class Place:
    code: str
    name: str


@lru_cache(maxsize=1)
def _place_forms() -> dict[str, Place]:
    """Every written form of the county's places (the 15 municipalities and their towns and villages, in
    Latin, Arabic, Persian and Ethiopic script), folded."""
    forms: dict[str, Place] = {}
    with open(DATA / "places.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            place = Place(r["code"], r["place"])
            for form in [r["place"], *filter(None, (r["spellings"] or "").split("|"))]:
                forms.setdefault(fold(form), place)
    return forms


def _near(a: str, b: str) -> bool:
    """One letter added, dropped or changed (Levenshtein distance at most 1)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _min_fuzzy(form: str) -> int:
    # A misspelling is forgiven only in a long name: "Vindeln" must not be "vinden".
    if form.isascii():
        return 8
    return 4 if "\u1200" <= form[0] <= "\u137f" else 5


def places_in(text: str) -> list[tuple[int, Place]]:
    """The county's places named in a text, as (word position, place), in order. Names are read in any
    script, with a one-letter misspelling in long names, and with an Arabic preposition attached
    ("بأوميو", "لشيلفتيو")."""
    forms = _place_forms()
    out = []
    for i, token in enumerate(_word.findall(fold(text))):
        candidates = [token]
        if token.endswith("s") and token.isascii():
            candidates.append(token[:-1])  # Umeås
        if not token.isascii() and token[0] in "بولفک" and len(token) > 4:
            candidates.append(token[1:])
        found = next((forms[c] for c in candidates if c in forms), None)
        if found is None:
            found = next((p for c in candidates if len(c) >= _min_fuzzy(c)
                          for form, p in forms.items() if len(form) >= _min_fuzzy(form) and _near(c, form)), None)
        if found is not None:
            out.append((i, found))
    return out


def words_of(text: str) -> list[str]:
    """The words of a folded text, as places_in counts them."""
    return _word.findall(fold(text))
