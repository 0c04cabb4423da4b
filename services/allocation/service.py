"""The allocation service: its dependencies and its use cases (applications, rounds, offers, seats)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
from prometheus_client import Histogram
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.allocation import admission, storage
from services.allocation.distribution import DistributionInput, distribute, largest_remainder
from services.allocation.settings import AllocationSettings
from shared.service import BusService
from shared.events import (
    ApplicantErased, ApplicationForm, ApplicationReceived, ApplicationReceivedPayload, ApplicationRejected,
    ApplicationWaitlisted, ChatTurnPayload, Contact, CourseDoc, Envelope, ErasedPayload, OccurrenceRef, OfferAccepted,
    OfferDeclined, OfferExpired, OfferMade, OfferPayload, OfferReminder, OfferWithdrawn, RejectedPayload,
    WaitlistedPayload, WaitlistPosition,
)
from shared.logs import correlation_id
from shared.problems import Problem
from shared.outbox import OutboxRelay, add_events, claim_event, forget_published
from shared.reference import municipalities

log = logging.getLogger(__name__)
ROUND_SECONDS = Histogram("vux_admission_round_seconds", "Time to run an admission round",
                          buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
MIGRATIONS = Path(__file__).parent / "migrations"
PRODUCER = "allocation"
ACTIVE_STATUSES = ("received", "waitlisted", "offered", "accepted")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Outcome:
    status: int
    body: dict


class AllocationService(BusService):
    name = "allocation"
    migrations = MIGRATIONS

    def __init__(self, settings: AllocationSettings) -> None:
        super().__init__(settings)
        self.relay = OutboxRelay(self.engine, storage.outbox, self.bus, service=self.name, poll_s=settings.outbox_poll_s)
        self.policy = admission.PriorityPolicy(short_education=set(settings.priority_short_education),
                                               weak_position=set(settings.priority_weak_position))
        self.link_secret = b""

    def register_handlers(self) -> None:
        from services.allocation.handlers import register

        register(self.bus, self)

    async def on_start(self) -> None:
        self.link_secret = await self._load_link_secret()
        self.spawn(self._offer_clock(), "allocation-offer-clock")
        self.relay.start()

    async def on_stop(self) -> None:
        await self.relay.stop()

    async def _load_link_secret(self) -> bytes:
        """LINK_SECRET if set, else one generated at first start and kept in the database (replicas share it)."""
        if self.settings.link_secret:
            return self.settings.link_secret.encode()
        kv = storage.service_secrets
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-secret")
            row = (await conn.execute(select(kv.c.value).where(kv.c.name == "link"))).first()
            if row is None:
                value = secrets.token_hex(32)
                await conn.execute(insert(kv).values(name="link", value=value))
                return value.encode()
            return row.value.encode()

    async def _commit_events(self, conn: AsyncConnection, events: list[Envelope]) -> None:
        await add_events(conn, storage.outbox, events)

    def _ev(self, cls, payload) -> Envelope:  # noqa: ANN001
        return cls(producer=PRODUCER, correlation_id=correlation_id.get(), payload=payload)

    # --- catalogue events ----------------------------------------------------------------------

    async def upsert_course(self, course: CourseDoc, event_id: str | None = None) -> None:
        async with self.writer.begin() as conn:
            if event_id and not await claim_event(conn, storage.inbox, "catalogue", event_id):
                return
            events = await self._sync_course(conn, course.id, course)
            await self._commit_events(conn, events)
        self.relay.notify()

    async def withdraw_course(self, course_id: str, event_id: str | None = None) -> None:
        async with self.writer.begin() as conn:
            if event_id and not await claim_event(conn, storage.inbox, "catalogue", event_id):
                return
            events = await self._sync_course(conn, course_id, None)
            await self._commit_events(conn, events)
        self.relay.notify()

    async def _sync_course(self, conn: AsyncConnection, course_id: str, course: CourseDoc | None) -> list[Envelope]:
        o = storage.occurrences
        ts = storage.now()
        keep = set()
        if course is not None:
            for occ in course.occurrences:
                keep.add(occ.id)
                row = {"course_id": course.id, "course_code": course.code, "title": course.title,
                       "municipality_code": occ.municipality_code, "area": course.area, "start": occ.start,
                       "places": occ.places, "active": not occ.cancelled, "updated_at": ts}
                res = await conn.execute(update(o).where(o.c.id == occ.id).values(**row))
                if res.rowcount == 0:
                    await conn.execute(insert(o).values(id=occ.id, funded_places=None, **row))
        gone = [r.id for r in (await conn.execute(
            select(o.c.id).where(o.c.course_id == course_id, o.c.active.is_(True)))).all() if r.id not in keep]
        if course is not None:
            gone += [occ.id for occ in course.occurrences if occ.cancelled]
        if not gone:
            return []
        await conn.execute(update(o).where(o.c.id.in_(gone)).values(active=False, updated_at=ts))
        return await self._withdraw_offers(conn, storage.offers.c.occurrence_id.in_(gone))

    async def _withdraw_offers(self, conn: AsyncConnection, where, notify: bool = True) -> list[Envelope]:  # noqa: ANN001
        """Take back pending and accepted offers (the course was withdrawn, or the applicant erased)."""
        of = storage.offers
        rows = (await conn.execute(select(of).where(where, of.c.status.in_(("pending", "accepted"))))).all()
        events = []
        for r in rows:
            await conn.execute(update(of).where(of.c.id == r.id).values(status="withdrawn", answered_at=storage.now()))
            await conn.execute(update(storage.choices).where(
                storage.choices.c.application_id == r.application_id, storage.choices.c.rank == r.choice_rank
            ).values(state="withdrawn"))
            await conn.execute(update(storage.applications).where(storage.applications.c.id == r.application_id)
                               .values(status="waitlisted"))
            payload = await self._offer_payload(conn, r) if notify else None
            if payload:
                events.append(self._ev(OfferWithdrawn, payload))
        return events

    # --- applications --------------------------------------------------------------------------

    async def submit(self, form: ApplicationForm) -> Outcome:
        """Create an application; the same submission twice gives the same application."""
        app, s = storage.applications, self.settings
        try:
            email = validate_email(form.applicant.email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Problem(422, f"applicant.email: {exc}") from None
        if not form.consent:
            raise Problem(422, "consent: the application cannot be processed without consent to the processing "
                               "of personal data")
        home = form.applicant.home_municipality
        if home not in municipalities():
            raise Problem(422, f"applicant.home_municipality: {home} is not one of Västerbotten's municipalities")
        if len(set(form.choices)) != len(form.choices):
            raise Problem(422, "choices: the same course occurrence is listed twice")
        form_hash = _hash(orjson.dumps(form.model_dump(mode="json", exclude={"chat_session_id"}),
                                       option=orjson.OPT_SORT_KEYS).decode())
        async with self.writer.begin() as conn:
            existing = (await conn.execute(select(app).where(app.c.submission_id == form.submission_id))).first()
            if existing is not None:
                if existing.form_hash != form_hash:
                    raise Problem(409, "submission_id was already used for a different application",
                                  application_id=existing.id)
                return Outcome(200, {"application_id": existing.id, "status": existing.status, "duplicate": True,
                                     "message": "this submission was already received; nothing new was created"})
            email_key = _hash(email.lower())
            other = (await conn.execute(select(app.c.id).where(
                app.c.email_key == email_key, app.c.status.in_(ACTIVE_STATUSES)))).first()
            if other is not None:
                raise Problem(409, "this e-mail address already has an active application; change that one or "
                                   "withdraw it first", application_id=other.id)
            occ = {r.id: r for r in (await conn.execute(
                select(storage.occurrences).where(storage.occurrences.c.id.in_(form.choices)))).all()}
            for i, oid in enumerate(form.choices):
                if oid not in occ or not occ[oid].active:
                    raise Problem(422, f"choices[{i}]: {oid!r} is not a course occurrence open for application")
            group, reason = self.policy.group(form.applicant.education_level, form.applicant.employment)
            app_id = str(uuid.uuid4())
            secret = secrets.token_urlsafe(24)
            await conn.execute(insert(app).values(
                id=app_id, submission_id=form.submission_id, form_hash=form_hash, secret_hash=_hash(secret),
                name=form.applicant.name, email=email, email_key=email_key, lang=form.applicant.lang,
                home_municipality=home, education_level=form.applicant.education_level,
                employment=form.applicant.employment, priority_group=group, priority_reason=reason,
                status="received", created_at=storage.now(),
            ))
            rows = []
            for rank, oid in enumerate(form.choices, start=1):
                same = occ[oid].municipality_code == home
                approval = "approved" if same or home in s.auto_approve_municipalities else "pending"
                rows.append({"application_id": app_id, "rank": rank, "occurrence_id": oid, "approval": approval,
                             "state": "open", "reserve_position": None})
            await conn.execute(insert(storage.choices), rows)
            status_url = f"{s.public_url}/v1/applications/{app_id}?secret={secret}"
            await self._commit_events(conn, [self._ev(ApplicationReceived, ApplicationReceivedPayload(
                application_id=app_id, submission_id=form.submission_id,
                contact=Contact(name=form.applicant.name, email=email, lang=form.applicant.lang),
                home_municipality=home, choices=[_ref(occ[o]) for o in form.choices], status_url=status_url))])
        self.relay.notify()
        return Outcome(201, {"application_id": app_id, "secret": secret, "status": "received",
                             "priority_group": group, "status_url": status_url,
                             "choices": [{"rank": r["rank"], "occurrence_id": r["occurrence_id"],
                                          "approval": r["approval"]} for r in rows]})

    async def reject_submission(self, form: ApplicationForm, reason: str) -> None:
        """Tell a learner whose submission from the assistant could not be registered."""
        contact = Contact(name=form.applicant.name, email=form.applicant.email, lang=form.applicant.lang)
        async with self.writer.begin() as conn:
            await self._commit_events(conn, [self._ev(ApplicationRejected, RejectedPayload(
                submission_id=form.submission_id, contact=contact, reason=reason))])
        self.relay.notify()

    async def view(self, application_id: str, secret: str | None, staff: bool, scope: str | None = None) -> dict:
        """The applicant (by the secret) or a coordinator sees an application; a municipality's coordinator
        only those of its residents or with a choice in the municipality (`scope`)."""
        app = storage.applications
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(app).where(app.c.id == application_id))).first()
            if row is None or not (staff or (secret and secrets.compare_digest(row.secret_hash, _hash(secret)))):
                # The same answer for "no such id" and "wrong secret": ids are not guessable anyway.
                raise Problem(404, "no application with that id and secret")
            ch = (await conn.execute(select(storage.choices, storage.occurrences.c.title,
                                            storage.occurrences.c.municipality_code, storage.occurrences.c.start)
                                     .join(storage.occurrences, storage.occurrences.c.id == storage.choices.c.occurrence_id)
                                     .where(storage.choices.c.application_id == application_id)
                                     .order_by(storage.choices.c.rank))).all()
            if staff and scope and scope != row.home_municipality and scope not in {c.municipality_code for c in ch}:
                raise Problem(403, f"this application concerns neither {scope}'s residents nor its courses")
            offers = (await conn.execute(select(storage.offers).where(storage.offers.c.application_id == application_id)
                                         .order_by(storage.offers.c.created_at))).all()
        return {
            "application_id": row.id, "status": row.status, "priority_group": row.priority_group,
            "priority_reason": row.priority_reason, "home_municipality": row.home_municipality,
            "name": row.name, "email": row.email, "erased": row.erased_at is not None,
            "choices": [{"rank": c.rank, "occurrence_id": c.occurrence_id, "title": c.title,
                         "municipality_code": c.municipality_code, "start": c.start.isoformat() if c.start else None,
                         "approval": c.approval, "state": c.state, "reserve_position": c.reserve_position}
                        for c in ch],
            "offers": [{"offer_id": o.id, "occurrence_id": o.occurrence_id, "status": o.status,
                        "deadline": storage.aware(o.deadline).isoformat()} for o in offers],
        }

    async def decide_approval(self, application_id: str, rank: int, approved: bool, caller_scope: str | None) -> dict:
        app, ch = storage.applications, storage.choices
        async with self.writer.begin() as conn:
            row = (await conn.execute(select(app).where(app.c.id == application_id))).first()
            if row is None:
                raise Problem(404, "no application with that id")
            if caller_scope and caller_scope != row.home_municipality:
                raise Problem(403, f"only the home municipality ({row.home_municipality}) or the region decides this")
            res = await conn.execute(update(ch).where(ch.c.application_id == application_id, ch.c.rank == rank)
                                     .values(approval="approved" if approved else "denied"))
            if res.rowcount == 0:
                raise Problem(404, f"the application has no choice {rank}")
        return {"application_id": application_id, "rank": rank, "approval": "approved" if approved else "denied"}

    async def erase(self, application_id: str) -> dict:
        """Forget the person; keep anonymous statistics (area, municipality, group, outcome)."""
        app = storage.applications
        async with self.writer.begin() as conn:
            row = (await conn.execute(select(app).where(app.c.id == application_id))).first()
            if row is None:
                raise Problem(404, "no application with that id")
            await self._erase(conn, row)
        self.relay.notify()
        return {"application_id": application_id, "status": "erased"}

    async def erase_submissions(self, submission_ids: list[str]) -> int:
        """The assistant's erasure command: forget the applications sent from a forgotten conversation.
        Repeating it changes nothing; a submission that never became an application has nothing to forget."""
        app = storage.applications
        if not submission_ids:
            return 0
        async with self.writer.begin() as conn:
            rows = (await conn.execute(select(app).where(app.c.submission_id.in_(submission_ids),
                                                         app.c.erased_at.is_(None)))).all()
            for row in rows:
                await self._erase(conn, row)
        self.relay.notify()
        return len(rows)

    async def _erase(self, conn: AsyncConnection, row) -> None:  # noqa: ANN001
        app = storage.applications
        # The seat is freed; no withdrawal notice goes to someone who asked to be forgotten.
        await self._withdraw_offers(conn, storage.offers.c.application_id == row.id, notify=False)
        await conn.execute(update(app).where(app.c.id == row.id).values(
            name=None, email=None, email_key=None, education_level=None, employment=None, status="erased",
            erased_at=storage.now()))
        # Events already sent still hold the name and address in the outbox for a while: those go too.
        await forget_published(conn, storage.outbox, [row.id, row.submission_id])
        await self._commit_events(conn, [self._ev(ApplicantErased, ErasedPayload(application_id=row.id))])

    # --- rounds -------------------------------------------------------------------------------

    async def run_round(self, started_by: str, seed: str | None = None) -> dict:
        seed = seed or secrets.token_hex(8)
        round_id = str(uuid.uuid4())
        t0 = time.perf_counter()
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-round")
            o, of, ap, ch = storage.occurrences, storage.offers, storage.applications, storage.choices
            occ = {r.id: r for r in (await conn.execute(select(o).where(o.c.active.is_(True)))).all()}
            held = dict((await conn.execute(select(of.c.occurrence_id, func.count()).where(
                of.c.status.in_(("pending", "accepted"))).group_by(of.c.occurrence_id))).all())
            capacity = {oid: max(0, _seats(r) - held.get(oid, 0)) for oid, r in occ.items()}
            apps = {r.id: r for r in (await conn.execute(select(ap).where(
                ap.c.status.in_(("received", "waitlisted"))))).all()}
            by_app: dict[str, list] = {}
            for c in (await conn.execute(select(ch).join(ap, ap.c.id == ch.c.application_id)
                                         .where(ap.c.status.in_(("received", "waitlisted")))
                                         .order_by(ch.c.application_id, ch.c.rank))).all():
                by_app.setdefault(c.application_id, []).append(c)
            applicants, rejected, pending_only = [], {}, set()
            for aid, r in apps.items():
                cs = by_app.get(aid, [])
                open_cs = [c for c in cs if c.state == "open" and c.occurrence_id in occ]
                usable = [c.occurrence_id for c in open_cs if c.approval == "approved"]
                if not open_cs:
                    rejected[aid] = "ingen av dina valda kurser går att söka längre (inställda, nekade eller redan besvarade)"
                elif not usable and all(c.approval == "denied" for c in open_cs):
                    rejected[aid] = "din hemkommun har inte godkänt studier i den andra kommunen"
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
                    offer_rows.append({"id": offer_id, "application_id": a.id, "occurrence_id": got, "round_id": round_id,
                                       "choice_rank": rank, "status": "pending",
                                       "deadline": deadline, "reminded": False, "created_at": storage.now(),
                                       "answered_at": None})
                    status_updates.append({"aid": a.id, "st": "offered"})
                    events.append(self._ev(OfferMade, OfferPayload(
                        offer_id=offer_id, application_id=a.id, round_id=round_id, contact=_contact(r),
                        occurrence=_ref(occ[got]), choice_rank=rank, deadline=deadline,
                        answer_url=self.answer_url(offer_id))))
                    outcome = {"outcome": "offered", "occurrence_id": got, "choice_rank": rank}
                else:
                    status_updates.append({"aid": a.id, "st": "waitlisted"})
                    positions = result.reserve.get(a.id, {})
                    if a.id in pending_only:
                        expl.append("Väntar på hemkommunens beslut om studier i annan kommun")
                    events.append(self._ev(ApplicationWaitlisted, WaitlistedPayload(
                        application_id=a.id, round_id=round_id, contact=_contact(r),
                        positions=[WaitlistPosition(occurrence=_ref(occ[oid]), position=p)
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
                    application_id=aid, contact=_contact(apps[aid]), reason=reason)))
                per_applicant[aid] = {"outcome": "rejected", "reason": reason, "explanation": [reason]}
            if offer_rows:
                await conn.execute(insert(of), offer_rows)
                await conn.execute(update(ch).where(ch.c.application_id == bindparam("a"), ch.c.rank == bindparam("r"))
                                   .values(state="offered"),
                                   [{"a": x["application_id"], "r": x["choice_rank"]} for x in offer_rows])
            if status_updates:
                await conn.execute(update(ap).where(ap.c.id == bindparam("aid")).values(status=bindparam("st")),
                                   status_updates)
            if reserve_updates:
                await conn.execute(update(ch).where(ch.c.application_id == bindparam("aid"), ch.c.rank == bindparam("rk"))
                                   .values(reserve_position=bindparam("pos")), reserve_updates)
            summary = {"round_id": round_id, "seed": seed, "started_by": started_by,
                       "applicants": len(applicants) + len(rejected), "offers": len(offer_rows),
                       "waitlisted": sum(1 for v in per_applicant.values() if v["outcome"] == "waitlisted"),
                       "rejected": len(rejected),
                       "seats_free_before": sum(c for c in capacity.values() if c < UNLIMITED),
                       "open_intake_occurrences": sum(1 for c in capacity.values() if c >= UNLIMITED)}
            duration = time.perf_counter() - t0
            ROUND_SECONDS.observe(duration)
            summary["duration_s"] = round(duration, 3)
            await conn.execute(insert(storage.rounds).values(
                id=round_id, seed=seed, started_by=started_by, started_at=storage.now(), duration_s=duration,
                summary=orjson.dumps(summary).decode(), result=orjson.dumps(per_applicant).decode()))
            await self._commit_events(conn, events)
        self.relay.notify()
        log.info("round %s: %s", round_id, summary)
        return summary

    async def get_round(self, round_id: str) -> dict:
        async with self.engine.connect() as conn:
            r = (await conn.execute(select(storage.rounds).where(storage.rounds.c.id == round_id))).first()
        if r is None:
            raise Problem(404, "no round with that id")
        return {**orjson.loads(r.summary), "started_at": storage.aware(r.started_at).isoformat(),
                "results": orjson.loads(r.result)}

    async def list_rounds(self) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(storage.rounds.c.summary).order_by(storage.rounds.c.started_at))).all()
        return [orjson.loads(r.summary) for r in rows]

    # --- offers --------------------------------------------------------------------------------

    async def answer_offer(self, offer_id: str, token: str, accept: bool) -> dict:
        of = storage.offers
        async with self.writer.begin() as conn:
            r = (await conn.execute(select(of).where(of.c.id == offer_id))).first()
            if r is None or not self._check_answer_token(offer_id, token):
                raise Problem(404, "no offer with that id and answer code")
            if r.status != "pending":
                if (r.status == "accepted") == accept and r.status in ("accepted", "declined"):
                    return {"offer_id": offer_id, "status": r.status, "message": "already answered"}
                raise Problem(409, f"this offer is {r.status} and can no longer be answered")
            if storage.aware(r.deadline) < storage.now():
                raise Problem(409, "the answer deadline has passed; the seat has gone to the reserve list")
            status = "accepted" if accept else "declined"
            await conn.execute(update(of).where(of.c.id == offer_id).values(status=status, answered_at=storage.now()))
            await conn.execute(update(storage.choices).where(storage.choices.c.application_id == r.application_id,
                                                             storage.choices.c.rank == r.choice_rank).values(state=status))
            # Declining keeps the applicant on the reserve lists of their other choices.
            await conn.execute(update(storage.applications).where(storage.applications.c.id == r.application_id)
                               .values(status="accepted" if accept else "waitlisted"))
            payload = await self._offer_payload(conn, r)
            await self._commit_events(conn, [self._ev(OfferAccepted if accept else OfferDeclined, payload)])
        self.relay.notify()
        return {"offer_id": offer_id, "status": status}

    async def offer_page_data(self, offer_id: str, token: str) -> dict:
        of = storage.offers
        async with self.engine.connect() as conn:
            r = (await conn.execute(select(of).where(of.c.id == offer_id))).first()
            if r is None or not self._check_answer_token(offer_id, token):
                raise Problem(404, "no offer with that id and answer code")
            payload = await self._offer_payload(conn, r)
        return {"status": r.status, "payload": payload}

    async def tick_offers(self, now: datetime | None = None) -> dict:
        """Lapse offers past their deadline and remind those close to it."""
        now = now or storage.now()
        of = storage.offers
        expired = reminded = 0
        async with self.writer.begin() as conn:
            events = []
            for r in (await conn.execute(select(of).where(of.c.status == "pending", of.c.deadline < now))).all():
                await conn.execute(update(of).where(of.c.id == r.id).values(status="expired", answered_at=now))
                await conn.execute(update(storage.choices).where(storage.choices.c.application_id == r.application_id,
                                                                 storage.choices.c.rank == r.choice_rank)
                                   .values(state="expired"))
                await conn.execute(update(storage.applications).where(storage.applications.c.id == r.application_id)
                                   .values(status="waitlisted"))
                events.append(self._ev(OfferExpired, await self._offer_payload(conn, r)))
                expired += 1
            soon = now + timedelta(hours=self.settings.offer_reminder_hours)
            for r in (await conn.execute(select(of).where(of.c.status == "pending", of.c.reminded.is_(False),
                                                          of.c.deadline < soon, of.c.deadline >= now))).all():
                await conn.execute(update(of).where(of.c.id == r.id).values(reminded=True))
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

    async def _offer_payload(self, conn: AsyncConnection, offer) -> OfferPayload | None:  # noqa: ANN001
        app = (await conn.execute(select(storage.applications).where(
            storage.applications.c.id == offer.application_id))).first()
        occ = (await conn.execute(select(storage.occurrences).where(
            storage.occurrences.c.id == offer.occurrence_id))).first()
        if app is None or occ is None or app.email is None:
            return None
        return OfferPayload(offer_id=offer.id, application_id=offer.application_id, round_id=offer.round_id,
                            contact=_contact(app), occurrence=_ref(occ), choice_rank=offer.choice_rank,
                            deadline=storage.aware(offer.deadline), answer_url=self.answer_url(offer.id))

    # --- seat distribution ---------------------------------------------------------------------

    async def compute_distribution(self, inp: DistributionInput, created_by: str) -> dict:
        result = distribute(inp).as_dict()
        dist_id = str(uuid.uuid4())
        async with self.writer.begin() as conn:
            await conn.execute(insert(storage.distributions).values(
                id=dist_id, year=inp.year, input=inp.model_dump_json(), result=orjson.dumps(result).decode(),
                status="scenario", created_by=created_by, created_at=storage.now()))
        return {"distribution_id": dist_id, "status": "scenario", "year": inp.year, **result}

    async def get_distribution(self, dist_id: str) -> dict:
        async with self.engine.connect() as conn:
            r = (await conn.execute(select(storage.distributions).where(storage.distributions.c.id == dist_id))).first()
        if r is None:
            raise Problem(404, "no distribution with that id")
        return {"distribution_id": r.id, "status": r.status, "year": r.year, "created_by": r.created_by,
                "adopted_by": r.adopted_by, "adopted_at": storage.aware(r.adopted_at).isoformat() if r.adopted_at else None,
                **orjson.loads(r.result)}

    async def adopt_distribution(self, dist_id: str, adopted_by: str) -> dict:
        """Adopt a scenario: its places per municipality and area become the occurrences' capacities."""
        d, o = storage.distributions, storage.occurrences
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-distribution")
            r = (await conn.execute(select(d).where(d.c.id == dist_id))).first()
            if r is None:
                raise Problem(404, "no distribution with that id")
            if r.status == "adopted":
                raise Problem(409, f"already adopted by {r.adopted_by}")
            await conn.execute(update(d).where(d.c.year == r.year, d.c.status == "adopted").values(status="scenario"))
            await conn.execute(update(d).where(d.c.id == dist_id).values(status="adopted", adopted_by=adopted_by,
                                                                         adopted_at=storage.now()))
            result = orjson.loads(r.result)
            funded = 0
            for m in result["municipalities"]:
                for area, places in m["by_area"].items():
                    ids = [x.id for x in (await conn.execute(select(o.c.id).where(
                        o.c.municipality_code == m["code"], o.c.area == area, o.c.active.is_(True))
                        .order_by(o.c.id))).all()]
                    if not ids:
                        continue
                    # The area's places are shared evenly by the occurrences that area funds.
                    split = largest_remainder(places, {i: 1.0 for i in ids})
                    await conn.execute(update(o).where(o.c.id == bindparam("oid")).values(funded_places=bindparam("p")),
                                       [{"oid": i, "p": p} for i, p in split.items()])
                    funded += len(ids)
        return {"distribution_id": dist_id, "status": "adopted", "adopted_by": adopted_by,
                "occurrences_funded": funded}

    # --- demand ----------------------------------------------------------------------------------

    async def record_chat_turn(self, payload: ChatTurnPayload, event_id: str | None = None) -> None:
        cd = storage.chat_demand
        muni = payload.municipality_code or "-"
        async with self.writer.begin() as conn:
            if event_id and not await claim_event(conn, storage.inbox, "chat", event_id):
                return
            for area in set(payload.areas) or {"-"}:
                res = await conn.execute(update(cd).where(cd.c.area == area, cd.c.municipality_code == muni)
                                         .values(turns=cd.c.turns + 1))
                if res.rowcount == 0:
                    await conn.execute(insert(cd).values(area=area, municipality_code=muni, turns=1))

    async def demand(self) -> dict:
        o, ch, of = storage.occurrences, storage.choices, storage.offers
        table: dict[tuple[str, str], dict] = {}

        def cell(area, muni):  # noqa: ANN001, ANN202
            return table.setdefault((area or "-", muni or "-"), {"area": area or "-", "municipality_code": muni or "-",
                                                                 "applications": 0, "first_choices": 0, "offers": 0,
                                                                 "accepted": 0, "reserve": 0, "chat_turns": 0})

        async with self.engine.connect() as conn:
            for area, muni, n, first, reserve in (await conn.execute(
                select(o.c.area, o.c.municipality_code, func.count(), func.sum(case((ch.c.rank == 1, 1), else_=0)),
                       func.count(ch.c.reserve_position))
                .join(o, o.c.id == ch.c.occurrence_id).group_by(o.c.area, o.c.municipality_code))).all():
                c = cell(area, muni)
                c["applications"], c["first_choices"], c["reserve"] = n, int(first or 0), reserve
            for area, muni, status, n in (await conn.execute(
                select(o.c.area, o.c.municipality_code, of.c.status, func.count())
                .join(o, o.c.id == of.c.occurrence_id).group_by(o.c.area, o.c.municipality_code, of.c.status))).all():
                c = cell(area, muni)
                c["offers"] += n
                if status == "accepted":
                    c["accepted"] += n
            for area, muni, turns in (await conn.execute(select(storage.chat_demand))).all():
                cell(area, muni)["chat_turns"] += turns
        return {"items": sorted(table.values(), key=lambda c: (c["area"], c["municipality_code"]))}


UNLIMITED = 10**9


def _seats(occ_row) -> int:  # noqa: ANN001
    """Funded places win; else the feed's number; no number at all means open intake (e.g. SFI)."""
    if occ_row.funded_places is not None:
        return occ_row.funded_places
    return occ_row.places if occ_row.places is not None else UNLIMITED


def _contact(app_row) -> Contact:  # noqa: ANN001
    return Contact(name=app_row.name or "", email=app_row.email or "", lang=app_row.lang)


def _ref(occ_row) -> OccurrenceRef:  # noqa: ANN001
    start = occ_row.start
    if isinstance(start, str):
        start = date.fromisoformat(start)
    return OccurrenceRef(id=occ_row.id, course_id=occ_row.course_id, title=occ_row.title,
                         municipality_code=occ_row.municipality_code, start=start)


__all__ = ["AllocationService", "Outcome"]
