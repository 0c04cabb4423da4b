"""What a feed push means: the catalogue's domain rules as pure functions (no I/O).

A push is compared with the municipality's stored records. Each record is added, changed,
unchanged or withdrawn; rejected records keep their stored version. Courses are published as
denormalised documents (info + provider + active occurrences), and a course whose document hash
did not change publishes nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import orjson

from services.catalogue.feeds.records import KINDS, ParsedFeed, Rejection
from shared.reference import course_area
from shared.events import (
    CourseDoc, CourseUpserted, CourseWithdrawn, Envelope, LearningCentreDoc, LearningCentreUpserted,
    LearningCentreWithdrawn, ValidationOfferDoc, ValidationOfferUpserted, ValidationOfferWithdrawn,
    WithdrawnPayload,
)

PRODUCER = "catalogue"


def content_hash(doc: dict) -> str:
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class Stored:
    """One stored record of a municipality (any kind)."""

    doc: dict
    hash: str
    active: bool
    course_id: str | None = None


@dataclass
class State:
    """Everything the catalogue holds for one municipality."""

    records: dict[str, dict[str, Stored]] = field(default_factory=lambda: {k: {} for k in KINDS})
    course_docs: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id -> (hash, active)

    def active_count(self, kind: str) -> int:
        return sum(1 for r in self.records[kind].values() if r.active)


@dataclass
class Write:
    kind: str
    id: str
    doc: dict
    hash: str
    active: bool
    course_id: str | None = None


@dataclass
class CourseDocWrite:
    id: str
    doc: dict
    hash: str
    active: bool


@dataclass
class Plan:
    municipality: str
    mode: str
    writes: list[Write] = field(default_factory=list)
    course_docs: list[CourseDocWrite] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: {"added": 0, "changed": 0, "unchanged": 0, "withdrawn": 0} for k in KINDS}
    )
    rejected: list[Rejection] = field(default_factory=list)
    active_occurrences_before: int = 0

    @property
    def withdraws_too_much(self) -> bool:
        """A snapshot that would withdraw more than half of the offering needs confirmation."""
        before = self.active_occurrences_before
        return self.mode == "snapshot" and before > 0 and self.counts["occurrence"]["withdrawn"] * 2 > before

    def report(self) -> dict:
        occ = self.counts["occurrence"]
        return {
            **occ,
            "rejected": [r.as_dict() for r in self.rejected],
            "by_kind": self.counts,
            "events": len(self.events),
        }


def plan_feed(
    parsed: ParsedFeed,
    state: State,
    *,
    municipality: str,
    mode: str,
    foreign: dict[tuple[str, str], str],
    correlation_id: str | None = None,
) -> Plan:
    """Decide what a feed changes. `foreign` maps (kind, id) held by another municipality to its code."""
    plan = Plan(municipality=municipality, mode=mode, rejected=list(parsed.rejected),
                active_occurrences_before=state.active_count("occurrence"))
    rejected = parsed.rejected_ids()

    def reject(rid: str, fld: str, msg: str) -> None:
        plan.rejected.append(Rejection(rid, fld, msg))
        rejected.add(rid)

    incoming: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
    for kind in KINDS:
        for rid, model in parsed.records[kind].items():
            if (kind, rid) in foreign:
                reject(rid, "id", f"{kind} id {rid!r} belongs to municipality {foreign[(kind, rid)]}; "
                                  "a feed can only change its own municipality's records")
                continue
            incoming[kind][rid] = model.model_dump(mode="json")
        for rid in parsed.withdrawn[kind]:
            if (kind, rid) in foreign:
                reject(rid, "id", f"{kind} id {rid!r} belongs to municipality {foreign[(kind, rid)]}")

    # Which stored records this push withdraws.
    withdraw: dict[str, set[str]] = {k: set() for k in KINDS}
    for kind in KINDS:
        stored = state.records[kind]
        withdraw[kind] = {rid for rid in parsed.withdrawn[kind] if rid in stored and stored[rid].active}
        if mode == "snapshot":
            withdraw[kind] |= {
                rid for rid, r in stored.items()
                if r.active and rid not in incoming[kind] and rid not in rejected and rid not in parsed.withdrawn[kind]
            }
        withdraw[kind] -= set(incoming[kind])

    # Courses that will be active after this push; occurrences must belong to one of them.
    live_courses = {rid for rid, r in state.records["course"].items() if r.active} - withdraw["course"]
    live_courses |= set(incoming["course"])
    for rid, doc in list(incoming["occurrence"].items()):
        if doc["course_id"] not in live_courses:
            del incoming["occurrence"][rid]
            where = "is withdrawn in this feed" if doc["course_id"] in withdraw["course"] else \
                "is neither in this feed nor in the catalogue"
            reject(rid, "education", f"occurrence refers to course (educationInfo) {doc['course_id']!r}, which {where}")
    # A withdrawn course takes its occurrences with it.
    for rid, r in state.records["occurrence"].items():
        if r.active and r.course_id in withdraw["course"] and rid not in incoming["occurrence"]:
            withdraw["occurrence"].add(rid)

    # Per-record outcome.
    new_state: dict[str, dict[str, Stored]] = {k: dict(state.records[k]) for k in KINDS}
    touched_courses: set[str] = set()
    for kind in KINDS:
        stored = state.records[kind]
        c = plan.counts[kind]
        for rid, doc in incoming[kind].items():
            h = content_hash(doc)
            old = stored.get(rid)
            course_id = doc.get("course_id") if kind == "occurrence" else None
            if old is not None and old.active and old.hash == h:
                c["unchanged"] += 1
                continue
            c["added" if old is None or not old.active else "changed"] += 1
            plan.writes.append(Write(kind, rid, doc, h, True, course_id))
            new_state[kind][rid] = Stored(doc, h, True, course_id)
            if kind == "occurrence":
                touched_courses.add(course_id)
                if old is not None and old.course_id:
                    touched_courses.add(old.course_id)
            elif kind == "course":
                touched_courses.add(rid)
        for rid in sorted(withdraw[kind]):
            old = stored[rid]
            c["withdrawn"] += 1
            plan.writes.append(Write(kind, rid, old.doc, old.hash, False, old.course_id))
            new_state[kind][rid] = Stored(old.doc, old.hash, False, old.course_id)
            if kind == "occurrence" and old.course_id:
                touched_courses.add(old.course_id)
            elif kind == "course":
                touched_courses.add(rid)

    # Provider changes reach every course that shows that provider.
    changed_providers = {w.id for w in plan.writes if w.kind == "provider"}
    if changed_providers:
        for rid, r in new_state["course"].items():
            if r.active and (r.doc.get("provider_id") or parsed.course_providers.get(rid)) in changed_providers:
                touched_courses.add(rid)

    _plan_course_docs(plan, state, new_state, touched_courses, parsed.course_providers, correlation_id)
    _plan_simple_events(plan, correlation_id)
    return plan


def build_course_doc(info: dict, provider: dict | None, occurrences: list[dict]) -> CourseDoc:
    doc = {k: v for k, v in info.items() if k != "provider_id"}
    doc["area"] = course_area(info.get("code"), info.get("school_type"))
    doc["provider"] = provider
    doc["occurrences"] = sorted(occurrences, key=lambda o: (o.get("start") or "", o["id"]))
    return CourseDoc.model_validate(doc)


def _plan_course_docs(plan: Plan, state: State, new_state: dict[str, dict[str, Stored]], touched: set[str],
                      course_providers: dict[str, str], correlation_id: str | None) -> None:
    if not touched:
        return
    occ_by_course: dict[str, list[dict]] = {cid: [] for cid in touched}
    for r in new_state["occurrence"].values():
        if r.active and r.course_id in occ_by_course:
            occ_by_course[r.course_id].append(r.doc)
    for cid in sorted(touched):
        info = new_state["course"].get(cid)
        old_hash, old_active = state.course_docs.get(cid, (None, False))
        if info is None or not info.active:
            if old_active:
                plan.course_docs.append(CourseDocWrite(cid, {}, old_hash or "", False))
                plan.events.append(CourseWithdrawn(
                    producer=PRODUCER, correlation_id=correlation_id,
                    payload=WithdrawnPayload(id=cid, municipality_code=plan.municipality)))
            continue
        pid = info.doc.get("provider_id") or course_providers.get(cid)
        prov = new_state["provider"].get(pid) if pid else None
        model = build_course_doc(info.doc, prov.doc if prov and prov.active else None, occ_by_course[cid])
        doc = model.model_dump(mode="json")
        h = content_hash(doc)
        if old_active and h == old_hash:
            continue
        plan.course_docs.append(CourseDocWrite(cid, doc, h, True))
        plan.events.append(CourseUpserted(producer=PRODUCER, correlation_id=correlation_id, payload=model))


def _plan_simple_events(plan: Plan, correlation_id: str | None) -> None:
    kinds = {
        "validation_offer": (ValidationOfferDoc, ValidationOfferUpserted, ValidationOfferWithdrawn),
        "learning_centre": (LearningCentreDoc, LearningCentreUpserted, LearningCentreWithdrawn),
    }
    for w in plan.writes:
        if w.kind not in kinds:
            continue
        doc_cls, up, down = kinds[w.kind]
        if w.active:
            plan.events.append(up(producer=PRODUCER, correlation_id=correlation_id, payload=doc_cls.model_validate(w.doc)))
        else:
            plan.events.append(down(producer=PRODUCER, correlation_id=correlation_id,
                                    payload=WithdrawnPayload(id=w.id, municipality_code=plan.municipality)))
