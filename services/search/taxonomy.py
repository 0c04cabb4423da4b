"""What a learner's text says about their work: JobTech occupations (SSYK-4) named in it.

Only occupation names written in the text are taken, as whole words (each alternative of a
"A/B" name counts). Matching by meaning was tried with multilingual-e5-small: the names' cosines
sit in a narrow band (0.82-0.87 for right and wrong alike, e.g. "Jag vill läsa svenska" ->
Förlagsredaktör 0.85), so it would invent work experience; it waits for a better signal.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "occupations.jsonl"
_word = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Occupation:
    name: str
    ssyk4: str
    label: str


@lru_cache(maxsize=1)
def occupations() -> tuple[Occupation, ...]:
    with open(DATA, encoding="utf-8") as f:
        return tuple(Occupation(r["occupation"], r["ssyk4"], r["ssyk4_label"]) for r in map(json.loads, f))


@lru_cache(maxsize=1)
def _names() -> dict[str, Occupation]:
    names: dict[str, Occupation] = {}
    # "Undersköterska, hemtjänst, ..." is also "undersköterska"; a name that is exactly that wins.
    for exact in (False, True):
        for o in occupations():
            for alt in o.name.lower().split("/"):
                variant = " ".join(_word.findall(alt if exact else alt.split(",")[0]))
                if len(variant) >= 4 and (exact or variant not in names):
                    names[variant] = o
    return names


@lru_cache(maxsize=1)
def _names_by_first_word() -> dict[str, list[tuple[str, Occupation]]]:
    out: dict[str, list[tuple[str, Occupation]]] = {}
    for name, o in _names().items():
        out.setdefault(name.split(" ", 1)[0], []).append((name, o))
    return out


# Words just before an occupation that make it a goal rather than work done.
GOAL = {"bli", "become", "till", "utbilda", "utbildning", "become a", "vill", "want", "drömmer"}


def named_occupations(text: str, limit: int = 5) -> list[dict]:
    """Occupations whose name stands in the text, longest names first (most specific).

    Each says whether it reads as work done ("experience") or as what the learner wants ("goal":
    "vill bli undersköterska", "want to become a nurse").
    """
    tokens = _word.findall(text.lower())
    lowered = " " + " ".join(tokens) + " "
    # Only names whose first word is in the text can stand in it (a few instead of thousands).
    by_first = _names_by_first_word()
    hits = [(name, o) for t in set(tokens) for name, o in by_first.get(t, ()) if f" {name} " in lowered]
    hits.sort(key=lambda h: -len(h[0]))
    out, seen = [], set()
    for name, o in hits:
        if o.ssyk4 in seen or any(f" {name} " in f" {other} " for other, _ in hits if other != name):
            continue
        seen.add(o.ssyk4)
        before = lowered[: lowered.index(f" {name} ")].split()[-3:]
        role = "goal" if GOAL & set(before) else "experience"
        out.append({"occupation": o.name, "named": name, "ssyk4": o.ssyk4, "group": o.label, "role": role})
        if len(out) == limit:
            break
    return out


SKILLS = Path(__file__).parent / "data" / "skills.jsonl"


@lru_cache(maxsize=1)
def _skills_by_first_word() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Skill labels as word tuples (the part before a comma or parenthesis), indexed by first word."""
    out: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    with open(SKILLS, encoding="utf-8") as f:
        for r in map(json.loads, f):
            head = re.split(r"[,(]", r["skill"])[0]
            words = tuple(_word.findall(head.lower()))
            if words and len(" ".join(words)) >= 5:
                out.setdefault(words[0][:6], []).append((words, r["skill"]))
    # One label per wording: "Demensvård" rather than "Demensvård, specialistområde för sjuksköterska".
    for key, items in out.items():
        best: dict[tuple[str, ...], str] = {}
        for words, label in items:
            if words not in best or len(label) < len(best[words]):
                best[words] = label
        out[key] = list(best.items())
    return out


def _same_word(token: str, word: str) -> bool:
    # "äldreomsorgen" is "äldreomsorg": Swedish definite and plural endings on a long enough word.
    return token == word or (len(word) >= 6 and token.startswith(word) and len(token) - len(word) <= 3)


def named_skills(text: str, limit: int = 6) -> list[str]:
    """JobTech skills whose label (or its form with a Swedish ending) stands in the text, longest first."""
    tokens = _word.findall(text.lower())
    index = _skills_by_first_word()
    found: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        for words, label in index.get(tok[:6], ()):
            if i + len(words) <= len(tokens) and all(_same_word(tokens[i + k], w) for k, w in enumerate(words)):
                found[label] = max(found.get(label, 0), len(" ".join(words)))
    return sorted(found, key=lambda lb: -found[lb])[:limit]
