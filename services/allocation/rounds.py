"""Admission rounds and the offers they make: running a round (admission.py decides), answering an
offer through its link, lapsing and reminding."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta

import orjson
from prometheus_client import Histogram

from services.allocation import admission, storage
from services.allocation.applications import contact, occurrence_ref
from services.allocation.words import t
from shared.events import (
    ApplicationRejected, ApplicationWaitlisted, Envelope, OfferAccepted, OfferDeclined, OfferExpired, OfferMade,
    OfferPayload, OfferReminder, RejectedPayload, WaitlistedPayload, WaitlistPosition,
)
from shared.problems import Problem
from shared.reference import municipalities

log = logging.getLogger(__name__)
ROUND_SECONDS = Histogram("vux_admission_round_seconds", "Time to run an admission round",
                          buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
UNLIMITED = 10**9
WAITING = ("received", "waitlisted")


def seats(occ_row) -> int:  # noqa: ANN001
    """Funded places win; else the feed's number; no number at all means open intake (e.g. SFI)."""
    if occ_row.funded_places is not None:
        return occ_row.funded_places
    return occ_row.places if occ_row.places is not None else UNLIMITED


class RoundsAndOffers:
    """Use cases of AllocationService (service.py gives engine, writer, relay, settings, link_secret)."""

    async def run_round(self, started_by: str, seed: str | None = None) -> dict:
        seed = seed or secrets.token_hex(8)
        round_id = str(uuid.uuid4())
        t0 = time.perf_counter()
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-round")
            occ, held, apps, by_app = await storage.round_input(conn, WAITING)
            capacity = {oid: max(0, seats(r) - held.get(oid, 0)) for oid, r in occ.items()}
            applicants, rejected, pending_only = [], {}, set()
            for aid, r in apps.items():
                cs = by_app.get(aid, [])
                open_cs = [c for c in cs if c.state == "open" and c.occurrence_id in occ]
                usable = [c.occurrence_id for c in open_cs if c.approval == "approved"]
                if not open_cs:
                    rejected[aid] = t("rejected_nothing_open", r.lang or "sv")
                elif not usable and all(c.approval == "denied" for c in open_cs):
                    rejected[aid] = t("rejected_not_approved", r.lang or "sv")
                else:
                    if not usable:
                        pending_only.add(aid)
                    applicants.append(admission.Applicant(aid, r.priority_group, tuple(usable)))
            result = await asyncio.to_thread(admission.run_round, applicants, capacity, seed)
            names = {c: m.name for c, m in municipalities().items()}
            titles = {oid: f"{r.title}, {names.get(r.municipality_code, r.municipality_code)}" for oid, r in occ.items()}
            events: list[Envelope] = []
            per_applicant = {}
            deadline = storage.now() + timedelta(days=self.settings.offer_answer_days)
            offer_rows, status_updates, reserve_updates = [], [], []
            for a in applicants:
                got = result.assignment[a.id]
                r = apps[a.id]
                expl = admission.explain(a, r.priority_reason, result, titles)
                if got is not None:
                    rank = next(c.rank for c in by_app[a.id] if c.occurrence_id == got)
                    offer_id = str(uuid.uuid4())
                    offer_rows.append({"id": offer_id, "application_id": a.id, "occurrence_id": got,
                                       "round_id": round_id, "choice_rank": rank, "status": "pending",
                                       "deadline": deadline, "reminded": False, "created_at": storage.now(),
                                       "answered_at": None})
                    status_updates.append({"aid": a.id, "st": "offered"})
                    events.append(self._ev(OfferMade, OfferPayload(
                        offer_id=offer_id, application_id=a.id, round_id=round_id, contact=contact(r),
                        occurrence=occurrence_ref(occ[got]), choice_rank=rank, deadline=deadline,
                        answer_url=self.answer_url(offer_id))))
                    outcome = {"outcome": "offered", "occurrence_id": got, "choice_rank": rank}
                else:
                    status_updates.append({"aid": a.id, "st": "waitlisted"})
                    positions = result.reserve.get(a.id, {})
                    if a.id in pending_only:
                        expl.append(t("waiting_for_approval"))
                    events.append(self._ev(ApplicationWaitlisted, WaitlistedPayload(
                        application_id=a.id, round_id=round_id, contact=contact(r),
                        positions=[WaitlistPosition(occurrence=occurrence_ref(occ[oid]), position=p)
                                   for oid, p in sorted(positions.items(), key=lambda kv: a.choices.index(kv[0]))])))
                    outcome = {"outcome": "waitlisted", "reserve": positions}
                for c in by_app.get(a.id, []):
                    reserve_updates.append({"aid": a.id, "rk": c.rank,
                                            "pos": result.reserve.get(a.id, {}).get(c.occurrence_id)})
                per_applicant[a.id] = {**outcome, "priority_group": a.group,
                                       "lottery": round(result.rank[a.id][1], 6), "explanation": expl}
            for aid, reason in rejected.items():
                status_updates.append({"aid": aid, "st": "rejected"})
                events.append(self._ev(ApplicationRejected, RejectedPayload(
                    application_id=aid, contact=contact(apps[aid]), reason=reason)))
                per_applicant[aid] = {"outcome": "rejected", "reason": reason, "explanation": [reason]}
            summary = {"round_id": round_id, "seed": seed, "started_by": started_by,
                       "applicants": len(applicants) + len(rejected), "offers": len(offer_rows),
                       "waitlisted": sum(1 for v in per_applicant.values() if v["outcome"] == "waitlisted"),
                       "rejected": len(rejected),
                       "seats_free_before": sum(c for c in capacity.values() if c < UNLIMITED),
                       "open_intake_occurrences": sum(1 for c in capacity.values() if c >= UNLIMITED)}
            duration = time.perf_counter() - t0
            ROUND_SECONDS.observe(duration)
            summary["duration_s"] = round(duration, 3)
            place_rows, counts = self._places(round_id, per_applicant, occ, names)
            await storage.save_round(conn, offer_rows, status_updates, reserve_updates, {
                "id": round_id, "seed": seed, "started_by": started_by, "started_at": storage.now(),
                "duration_s": duration, "summary": orjson.dumps(summary).decode(), "result": "{}",
                "occurrences": orjson.dumps(counts).decode()}, place_rows, [
                {"round_id": round_id, "application_id": aid, "result": orjson.dumps(r).decode()}
                for aid, r in per_applicant.items()])
            await self._commit_events(conn, events)
        self.relay.notify()
        log.info("round %s: %s", round_id, summary)
        return summary

    @staticmethod
    def _places(round_id: str, per_applicant: dict, occ: dict, names: dict) -> tuple[list[dict], dict]:
        """A round's rows per occurrence (admitted, reserves) and each occurrence's counts."""
        rows, counts = [], {}

        def count(oid: str, key: str) -> None:
            o = occ[oid]
            c = counts.setdefault(oid, {"title": o.title, "municipality_code": o.municipality_code,
                                        "municipality": names.get(o.municipality_code, o.municipality_code),
                                        "admitted": 0, "reserves": 0})
            c[key] += 1

        for aid, r in per_applicant.items():
            if r["outcome"] == "offered":
                rows.append({"round_id": round_id, "occurrence_id": r["occurrence_id"], "application_id": aid,
                             "outcome": "offered", "position": None, "choice_rank": r["choice_rank"],
                             "priority_group": r["priority_group"]})
                count(r["occurrence_id"], "admitted")
            for oid, pos in (r.get("reserve") or {}).items():
                rows.append({"round_id": round_id, "occurrence_id": oid, "application_id": aid, "outcome": "reserve",
                             "position": pos, "choice_rank": None, "priority_group": r["priority_group"]})
                count(oid, "reserves")
        return rows, counts

    async def _round(self, conn, round_id: str):  # noqa: ANN001, ANN202
        r = await storage.round_row(conn, round_id)
        if r is None:
            raise Problem(404, "no round with that id")
        return r

    async def get_round(self, round_id: str) -> dict:
        """A round whole: every applicant's result (an export; the pages read one occurrence at a time)."""
        async with self.engine.connect() as conn:
            r = await self._round(conn, round_id)
            stored = await storage.round_results_of(conn, round_id)
        results = {aid: orjson.loads(v) for aid, v in stored.items()} or orjson.loads(r.result)
        return {**orjson.loads(r.summary), "started_at": storage.aware(r.started_at).isoformat(), "results": results}

    async def round_occurrences(self, round_id: str, municipality: str | None) -> dict:
        """Each occurrence the round placed anyone in: how many admitted and on the reserve list."""
        async with self.engine.connect() as conn:
            r = await self._round(conn, round_id)
        counts = orjson.loads(r.occurrences or "{}")
        items = [{"occurrence_id": oid, **c} for oid, c in counts.items()
                 if not municipality or c["municipality_code"] == municipality]
        items.sort(key=lambda c: (c["municipality"], c["title"], c["occurrence_id"]))
        return {**orjson.loads(r.summary), "started_at": storage.aware(r.started_at).isoformat(), "items": items}

    async def round_occurrence(self, round_id: str, occurrence_id: str, municipality: str | None) -> dict:
        """One occurrence in a round: the admitted and the reserve list in order, each with the explanation."""
        async with self.engine.connect() as conn:
            await self._round(conn, round_id)
            rows = await storage.round_occurrence(conn, round_id, occurrence_id)
            occ = await storage.occurrence(conn, occurrence_id)
        if occ is None:
            raise Problem(404, "no such occurrence")
        if municipality and occ.municipality_code != municipality:
            raise Problem(403, f"this caller may see only municipality {municipality}'s occurrences")
        out = {"round_id": round_id, "occurrence_id": occurrence_id, "title": occ.title,
               "municipality_code": occ.municipality_code, "admitted": [], "reserves": []}
        for x in rows:
            res = orjson.loads(x.result)
            who = {"application_id": x.application_id, "reference": x.application_id[:8].upper(),
                   "priority_group": x.priority_group, "lottery": res.get("lottery"),
                   "explanation": res.get("explanation", [])}
            if x.outcome == "offered":
                out["admitted"].append({**who, "choice_rank": x.choice_rank})
            else:
                out["reserves"].append({**who, "position": x.position})
        return out

    async def list_rounds(self) -> list[dict]:
        async with self.engine.connect() as conn:
            return [orjson.loads(s) for s in await storage.round_summaries(conn)]

    # --- offers ------------------------------------------------------------------------------------

    async def answer_offer(self, offer_id: str, token: str, accept: bool) -> dict:
        async with self.writer.begin() as conn:
            r = await storage.offer(conn, offer_id)
            if r is None or not self._check_answer_token(offer_id, token):
                raise Problem(404, "no offer with that id and answer code")
            if r.status != "pending":
                if (r.status == "accepted") == accept and r.status in ("accepted", "declined"):
                    return {"offer_id": offer_id, "status": r.status, "message": "already answered"}
                raise Problem(409, f"this offer is {r.status} and can no longer be answered")
            if storage.aware(r.deadline) < storage.now():
                raise Problem(409, "the answer deadline has passed; the seat has gone to the reserve list")
            status = "accepted" if accept else "declined"
            # Declining keeps the applicant on the reserve lists of their other choices.
            await storage.settle_offer(conn, r, status, status, "accepted" if accept else "waitlisted",
                                       answered_at=storage.now())
            payload = await self._offer_payload(conn, r)
            await self._commit_events(conn, [self._ev(OfferAccepted if accept else OfferDeclined, payload)])
        self.relay.notify()
        return {"offer_id": offer_id, "status": status}

    async def offer_page_data(self, offer_id: str, token: str) -> dict:
        async with self.engine.connect() as conn:
            r = await storage.offer(conn, offer_id)
            if r is None or not self._check_answer_token(offer_id, token):
                raise Problem(404, "no offer with that id and answer code")
            payload = await self._offer_payload(conn, r)
        return {"status": r.status, "payload": payload}

    async def tick_offers(self, now: datetime | None = None) -> dict:
        """Lapse offers past their deadline and remind those close to it."""
        now = now or storage.now()
        expired = reminded = 0
        async with self.writer.begin() as conn:
            events = []
            for r in await storage.lapsed_offers(conn, now):
                await storage.settle_offer(conn, r, "expired", "expired", "waitlisted", answered_at=now)
                events.append(self._ev(OfferExpired, await self._offer_payload(conn, r)))
                expired += 1
            for r in await storage.offers_to_remind(conn, now, now + timedelta(hours=self.settings.offer_reminder_hours)):
                await storage.mark_reminded(conn, r.id)
                events.append(self._ev(OfferReminder, await self._offer_payload(conn, r)))
                reminded += 1
            await self._commit_events(conn, events)
        if expired or reminded:
            self.relay.notify()
        return {"expired": expired, "reminded": reminded}

    async def _offer_clock(self) -> None:
        while True:
            try:
                await self.tick_offers()
            except Exception:  # noqa: BLE001 - try again at the next tick
                log.exception("offer clock failed")
            await asyncio.sleep(self.settings.expiry_check_s)

    def answer_token(self, offer_id: str) -> str:
        """The code in an offer's answer link: derived, so reminders can carry the same link."""
        return hmac.new(self.link_secret, offer_id.encode(), hashlib.sha256).hexdigest()[:40]

    def answer_url(self, offer_id: str) -> str:
        return f"{self.settings.public_url}/offers/{offer_id}?token={self.answer_token(offer_id)}"

    def _check_answer_token(self, offer_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.answer_token(offer_id), token)

    async def _offer_payload(self, conn, offer) -> OfferPayload | None:  # noqa: ANN001
        app = await storage.application(conn, offer.application_id)
        occ = await storage.occurrence(conn, offer.occurrence_id)
        if app is None or occ is None or app.email is None:
            return None
        return OfferPayload(offer_id=offer.id, application_id=offer.application_id, round_id=offer.round_id,
                            contact=contact(app), occurrence=occurrence_ref(occ), choice_rank=offer.choice_rank,
                            deadline=storage.aware(offer.deadline), answer_url=self.answer_url(offer.id))
