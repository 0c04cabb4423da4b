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
            await storage.save_round(conn, offer_rows, status_updates, reserve_updates, {
                "id": round_id, "seed": seed, "started_by": started_by, "started_at": storage.now(),
                "duration_s": duration, "summary": orjson.dumps(summary).decode(),
                "result": orjson.dumps(per_applicant).decode()})
            await self._commit_events(conn, events)
        self.relay.notify()
        log.info("round %s: %s", round_id, summary)
        return summary

    async def get_round(self, round_id: str) -> dict:
        async with self.engine.connect() as conn:
            r = await storage.round_row(conn, round_id)
        if r is None:
            raise Problem(404, "no round with that id")
        results = orjson.loads(r.result)
        ids = sorted({oid for v in results.values() for oid in
                      ([v["occurrence_id"]] if v.get("occurrence_id") else []) + list(v.get("reserve", {}))})
        async with self.engine.connect() as conn:
            titles = await storage.occurrence_titles(conn, ids)
        return {**orjson.loads(r.summary), "started_at": storage.aware(r.started_at).isoformat(),
                "results": results,
                "occurrences": {i: {"title": t, "municipality_code": m} for i, (t, m) in titles.items()}}

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
