"""What a learner's text says about their work: JobTech occupations (SSYK-4) named in it.

Only occupation names written in the text are taken, as whole words (each alternative of a
"A/B" name counts). Matching by meaning was measured with multilingual-e5-small
(scripts/calibrate_occupations.py: 1,500 Persian, Arabic and English occupation names against JobTech's
Swedish ones): the nearest name is in the right SSYK-4 group for 14 %, and the surest 5 % by cosine or
by margin over the next group are right only about half the time, so it would invent work experience;
it waits for a better model.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.reference import fold

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
                shown = " ".join(_word.findall(alt if exact else alt.split(",")[0]))
                variant = fold(shown)
                if len(variant) >= 4 and (exact or variant not in names):
                    names[variant] = o
                    _shown[variant] = shown
    return names


_shown: dict[str, str] = {}  # a folded name -> as JobTech writes it (lower case), for the summary


@lru_cache(maxsize=1)
def _names_by_first_word() -> dict[str, list[tuple[str, Occupation]]]:
    out: dict[str, list[tuple[str, Occupation]]] = {}
    for name, o in _names().items():
        out.setdefault(name.split(" ", 1)[0], []).append((name, o))
    return out


ESCO = Path(__file__).parent / "data" / "occupation_labels_esco.jsonl"


@lru_cache(maxsize=1)
def _esco_by_first_word() -> dict[str, list[tuple[str, Occupation]]]:
    """ESCO's English and Arabic occupation labels (scripts/build_occupation_labels.py), folded, by first word."""
    labels = {o.ssyk4: o.label for o in occupations()}
    out: dict[str, list[tuple[str, Occupation]]] = {}
    with open(ESCO, encoding="utf-8") as f:
        for r in map(json.loads, f):
            if r["ssyk4"] in labels:
                name = " ".join(_word.findall(fold(r["label"])))
                out.setdefault(name.split(" ", 1)[0], []).append(
                    (name, Occupation(r["label"], r["ssyk4"], labels[r["ssyk4"]])))
    return out


WORDS = Path(__file__).parent / "data" / "occupation_words.json"
ROLES = Path(__file__).parent / "data" / "occupation_roles.json"


@lru_cache(maxsize=1)
def _everyday_names() -> tuple[re.Pattern, dict[str, Occupation]]:
    """The everyday names in six more languages (occupation_words.json) as one pattern over folded text;
    an Arabic-script name may carry an attached preposition or article and a short ending."""
    by_code = {}
    for o in occupations():
        by_code.setdefault(o.ssyk4, o)
    table = json.loads(WORDS.read_text(encoding="utf-8"))
    found: dict[str, Occupation] = {}
    for code, by_lang in table.items():
        if code.startswith("_") or code not in by_code:
            continue
        for lang, names in by_lang.items():
            for name in names:
                found.setdefault(" ".join(fold(name).split()), Occupation(name, code, by_code[code].label))
    alts = []
    for name in sorted(found, key=len, reverse=True):
        body = r"\W+".join(re.escape(w) for w in name.split())
        if name.isascii():
            alts.append(rf"(?<!\w)(?P<n{len(alts)}>{body})(?:s|es|ka|ta|da|ha)?(?!\w)")
        else:
            alts.append(rf"(?<!\w)(?:ال|بال|وال|لل|[وبلفکن])?(?P<n{len(alts)}>{body})\w{{0,2}}(?!\w)")
    keys = sorted(found, key=len, reverse=True)
    return re.compile("|".join(alts)), {f"n{i}": found[k] for i, k in enumerate(keys)}


@lru_cache(maxsize=1)
def _role_cues() -> dict[str, re.Pattern]:
    table = json.loads(ROLES.read_text(encoding="utf-8"))
    out = {}
    for role in ("goal", "experience", "trained", "other"):
        phrases = {fold(p) for ps in table[role].values() for p in ps}
        out[role] = re.compile("|".join(
            rf"(?<!\w)(?:[وبل])?{re.escape(p)}(?!\w)" if not p.isascii() else rf"(?<!\w){re.escape(p)}(?!\w)"
            for p in sorted(phrases, key=len, reverse=True)))
    return out


# Sentences, and "but" or "now" inside one: "jobbar som X men vill bli Y", "كنت X … هلق Y".
_clause = re.compile(r"[.;!?؛።\n]+|\s(?:men|but|och nu|now|then|هلق|هلا|الان|حالا|هسه|dabadeed|hadda|laakiin|ሕጂ)\s")


def _role(clause: str, start: int, end: int) -> str:
    """The role of the cue word nearest the name in its clause: "goal" (a want-word: "vill bli", "بدي",
    "rabaa inaan noqdo", "ክኸውን እደሊ"), "experience" ("jobbat som", "كنت", "بودم", "ሰሪሐ"), "trained" (only
    studied for it) or "other" (someone else's job: "my wife's postdoc")."""
    def nearest(role: str) -> float:
        return min((min(abs(m.start() - end), abs(start - m.end())) for m in _role_cues()[role].finditer(clause)),
                   default=float("inf"))
    near = {role: nearest(role) for role in ("goal", "experience", "trained", "other")}
    best = min(near, key=lambda r: near[r])
    if near[best] == float("inf"):
        return "experience"  # "svetsare, 5 år": a name on its own is work done
    return best


def named_occupations(text: str, limit: int = 8) -> list[dict]:
    """Occupations whose name stands in the text, in any of the seven languages, in the order they stand
    (where names overlap, the longest is taken).

    Each says whether it reads as work done ("experience") or as what the learner wants ("goal"), from
    the words beside it in its clause; the same occupation may be both ("انا كهربائي … أريد أشتغل كهربائي").
    """
    norm = " ".join(fold(text).split())
    hits = []  # (start, end, named, occupation); on the same words a later source wins: ESCO, JobTech, everyday
    for by_first, shown in ((_esco_by_first_word(), lambda n, o: o.name),
                            (_names_by_first_word(), lambda n, o: _shown.get(n, n))):
        for m in re.finditer(r"\w+", norm):
            for name, o in by_first.get(m.group(), ()):
                after = norm[m.start() + len(name):m.start() + len(name) + 1]
                if norm.startswith(name, m.start()) and not after.isalnum():
                    hits.append((m.start(), m.start() + len(name), shown(name, o), o))
    pattern, groups = _everyday_names()
    for word in re.finditer(r"\w+", norm):  # a name starts where a word does: tried only there
        m = pattern.match(norm, word.start())
        if m:
            key = m.lastgroup
            hits.append((m.start(key), m.end(key), groups[key].name, groups[key]))
    # The longest name wins where names overlap ("industrial electrician" over "electrician").
    # On the same words an everyday name wins over a JobTech head word ("chef" is a cook, not "Chef, Corporate
    # Finance"): everyday hits come last in `hits`, so they sort first among equals.
    hits = [(s, e, n, o, -i) for i, (s, e, n, o) in enumerate(hits)]
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[4]))
    taken: list[tuple[int, int]] = []
    out, seen = [], set()
    bounds = [0] + [m.end() for m in _clause.finditer(norm)] + [len(norm)]
    for start, end, named, o, _ in hits:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        c0 = max(b for b in bounds if b <= start)
        c1 = min(b for b in bounds if b >= end)
        role = _role(norm[c0:c1], start - c0, end - c0)
        if role in ("trained", "other") or (o.ssyk4, role) in seen:
            continue
        seen.add((o.ssyk4, role))
        out.append({"occupation": o.name, "named": named, "ssyk4": o.ssyk4, "group": o.label, "role": role,
                    "at": start})
    out.sort(key=lambda h: h["at"])
    for h in out:
        del h["at"]
    return out[:limit]


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
                # Shown as what the learner named: "Engelska", not "Engelska, cirkelledning".
                out.setdefault(words[0][:6], []).append((words, head.strip()))
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
