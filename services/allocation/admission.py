"""Admitting applicants to course seats (pure, no I/O).

Priority follows förordning (2011:1108) om vuxenutbildning 3 kap. 7 §: those with the greatest
need first, i.e. short previous education and a weak position on the labour market. Equals are
ordered by a lottery drawn from a stored seed, so anyone can rerun a round and get the same
result. Seats are assigned by applicant-proposing deferred acceptance over each applicant's
ranked choices: no applicant prefers a seat that went to someone of lower priority.
"""
from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field

from pydantic import BaseModel

from services.allocation.words import t

EDUCATION_LEVELS = ("none", "primary", "upper_secondary_incomplete", "upper_secondary", "post_secondary")
EMPLOYMENT = ("unemployed", "labour_market_programme", "part_time", "employed", "student", "other")


class PriorityPolicy(BaseModel):
    """Configurable rules: group 1 = short education and weak position, 2 = one of them, 3 = neither."""

    short_education: set[str] = {"none", "primary", "upper_secondary_incomplete"}
    weak_position: set[str] = {"unemployed", "labour_market_programme", "part_time"}

    def group(self, education: str, employment: str) -> tuple[int, str]:
        short = education in self.short_education
        weak = employment in self.weak_position
        if short and weak:
            return 1, t("group_1")
        if short:
            return 2, t("group_2_education")
        if weak:
            return 2, t("group_2_position")
        return 3, t("group_3")


def lottery(seed: str, applicant_id: str) -> float:
    """A number in [0, 1) fixed by the round's seed and the applicant: the tie-break among equals."""
    digest = hashlib.sha256(f"{seed}:{applicant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Applicant:
    id: str
    group: int
    choices: tuple[str, ...]  # eligible occurrences, best first


@dataclass
class RoundResult:
    seed: str
    assignment: dict[str, str | None]  # applicant -> occurrence or None
    rank: dict[str, tuple[int, float]]  # applicant -> (group, lottery); lower is better
    reserve: dict[str, dict[str, int]] = field(default_factory=dict)  # applicant -> occurrence -> position
    cutoff: dict[str, tuple[int, float] | None] = field(default_factory=dict)  # occurrence -> last admitted

    def admitted(self, occurrence: str) -> list[str]:
        return [a for a, o in self.assignment.items() if o == occurrence]


def deferred_acceptance(applicants: list[Applicant], capacity: dict[str, int],
                        rank: dict[str, tuple]) -> dict[str, str | None]:
    """Applicant-proposing deferred acceptance; `rank` orders applicants at every occurrence (lower first)."""
    by_id = {a.id: a for a in applicants}
    nxt = {a.id: 0 for a in applicants}
    held: dict[str, list] = {}  # occurrence -> max-heap by rank: (negated rank, applicant)
    free = [a.id for a in reversed(applicants)]
    assignment: dict[str, str | None] = {a.id: None for a in applicants}
    while free:
        aid = free.pop()
        choices = by_id[aid].choices
        while nxt[aid] < len(choices):
            occ = choices[nxt[aid]]
            nxt[aid] += 1
            cap = capacity.get(occ, 0)
            if cap <= 0:
                continue
            heap = held.setdefault(occ, [])
            key = tuple(-x for x in rank[aid])
            if len(heap) < cap:
                heapq.heappush(heap, (key, aid))
                assignment[aid] = occ
                break
            worst_key, worst = heap[0]
            if key > worst_key:  # aid ranks better than the worst held applicant
                heapq.heapreplace(heap, (key, aid))
                assignment[aid] = occ
                assignment[worst] = None
                free.append(worst)
                break
    return assignment


def run_round(applicants: list[Applicant], capacity: dict[str, int], seed: str) -> RoundResult:
    rank = {a.id: (a.group, lottery(seed, a.id)) for a in applicants}
    assignment = deferred_acceptance(applicants, capacity, rank)
    result = RoundResult(seed=seed, assignment=assignment, rank=rank)
    # Reserve lists: everyone who wanted an occurrence more than what they got, best first.
    waiting: dict[str, list[str]] = {}
    for a in applicants:
        got = assignment[a.id]
        for occ in a.choices:
            if occ == got:
                break
            waiting.setdefault(occ, []).append(a.id)
    for occ, ids in waiting.items():
        ids.sort(key=lambda i: rank[i])
        for pos, aid in enumerate(ids, start=1):
            result.reserve.setdefault(aid, {})[occ] = pos
    for occ in capacity:
        result.cutoff[occ] = None
    for aid, occ in assignment.items():
        if occ is not None and (result.cutoff.get(occ) is None or rank[aid] > result.cutoff[occ]):
            result.cutoff[occ] = rank[aid]
    return result


def explain(a: Applicant, reason: str, result: RoundResult, titles: dict[str, str] | None = None) -> list[str]:
    """Why this applicant got what they got, in words a coordinator can read out."""
    titles = titles or {}
    group, draw = result.rank[a.id]
    lines = [t("explain_priority", group=group, reason=reason, draw=f"{draw:.6f}")]
    got = result.assignment[a.id]
    for i, occ in enumerate(a.choices, start=1):
        name = titles.get(occ, occ)
        if occ == got:
            lines.append(t("explain_offered", i=i, name=name))
            break
        cut = result.cutoff.get(occ)
        if cut is None:
            lines.append(t("explain_no_seats", i=i, name=name))
        else:
            lines.append(t("explain_full", i=i, name=name, group=cut[0], draw=f"{cut[1]:.6f}",
                           position=result.reserve.get(a.id, {}).get(occ)))
    if got is None and not a.choices:
        lines.append(t("explain_nothing_to_try"))
    return lines
