"""Applications: submitting (HTTP or the assistant's command), viewing, the home municipality's
approval, and erasure."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import orjson
from email_validator import EmailNotValidError, validate_email

from services.allocation import storage
from services.allocation.words import t
from shared.events import (
    ApplicantErased, ApplicationConfirmationRequested, ApplicationForm, ApplicationReceived,
    ApplicationReceivedPayload, ApplicationRejected, ConfirmationPayload, Contact, ErasedPayload, OccurrenceRef,
    RejectedPayload,
)
from shared.db import forget_old_pages
from shared.outbox import forget_published
from shared.problems import Problem
from shared.reference import municipalities

ACTIVE_STATUSES = ("received", "waitlisted", "offered", "accepted")


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Applications:
    """Use cases of AllocationService (service.py gives engine, writer, relay, settings and policy)."""

    async def submit(self, form: ApplicationForm) -> tuple[int, dict]:
        """Take a submission: (202, the same answer always). Nothing counts until the applicant opens the
        link mailed to the address (confirm); an address with an active application gets a note instead.

        The answer says nothing about the address (known or not), so the intake cannot be used to find out
        who has applied, and the county mails a stranger's address only a few times a day, with no
        caller-chosen link in it."""
        s = self.settings
        try:
            email = validate_email(form.applicant.email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Problem(422, f"applicant.email: {exc}", field="applicant.email") from None
        if not form.consent:
            raise Problem(422, "consent: the application cannot be processed without consent to the processing "
                               "of personal data", field="consent")
        home = form.applicant.home_municipality
        if home not in municipalities():
            raise Problem(422, f"applicant.home_municipality: {home} is not one of Västerbotten's municipalities",
                          field="applicant.home_municipality")
        if len(set(form.choices)) != len(form.choices):
            raise Problem(422, "choices: the same course occurrence is listed twice", field="choices")
        form_hash = digest(orjson.dumps(form.model_dump(mode="json", exclude={"chat_session_id"}),
                                        option=orjson.OPT_SORT_KEYS).decode())
        email_key = digest(email.lower())
        lang = form.applicant.lang
        answer = {"status": "confirmation_sent", "message": t("confirmation_sent", lang, hours=f"{s.confirm_within_hours:g}")}
        async with self.writer.begin() as conn:
            # One submission per address at a time (across replicas on PostgreSQL): a command delivered
            # twice at once would otherwise pass the duplicate check twice.
            await storage.lock(conn, f"application:{email_key}")
            existing = await storage.application_by_submission(conn, form.submission_id)
            if existing is not None:
                if existing.form_hash != form_hash:
                    raise Problem(409, "submission_id was already used for a different application",
                                  field="submission_id")
                return 202, answer  # the same submission again: nothing new, no second e-mail
            # Checked before the address, so that these answers say nothing about it.
            occ = await storage.occurrences_by_id(conn, form.choices)
            for i, oid in enumerate(form.choices):
                if oid not in occ or not occ[oid].active:
                    raise Problem(422, f"choices[{i}]: {oid!r} is not a course occurrence open for application",
                                  field=f"choices[{i}]")
            # Each submission mails the address: strangers must not make the county mail anyone at will.
            day_ago = storage.now() - timedelta(days=1)
            if await storage.address_uses_since(conn, email_key, day_ago) >= s.applications_per_address_per_day:
                raise Problem(429, "this e-mail address has been used too many times today; try again tomorrow",
                              field="applicant.email", type="address-limit", retry_after_s=3600)
            await storage.add_address_use(conn, email_key)
            contact = Contact(name=form.applicant.name, email=email, lang=lang)
            if await storage.active_application_with_email(conn, email_key, ACTIVE_STATUSES) is not None:
                # Only the address's owner learns this, by e-mail; no submission id, so the assistant
                # shows the same "check your e-mail" as for a new address.
                await self._commit_events(conn, [self._ev(ApplicationRejected, RejectedPayload(
                    contact=contact, reason=t("rejected_already_active", lang)))])
                self.relay.notify()
                return 202, answer
            group, reason = self.policy.group(form.applicant.education_level, form.applicant.employment)
            app_id = str(uuid.uuid4())
            secret = secrets.token_urlsafe(24)
            rows = []
            for rank, oid in enumerate(form.choices, start=1):
                same = occ[oid].municipality_code == home
                approval = "approved" if same or home in s.auto_approve_municipalities else "pending"
                rows.append({"application_id": app_id, "rank": rank, "occurrence_id": oid, "approval": approval,
                             "state": "open", "reserve_position": None})
            created = storage.now()
            await storage.add_application(conn, {
                "id": app_id, "submission_id": form.submission_id, "form_hash": form_hash,
                "secret_hash": digest(secret), "name": form.applicant.name, "email": email, "email_key": email_key,
                "lang": lang, "home_municipality": home,
                "education_level": form.applicant.education_level, "employment": form.applicant.employment,
                "priority_group": group, "priority_reason": reason, "status": "unconfirmed", "created_at": created,
            }, rows)
            await self._commit_events(conn, [self._ev(ApplicationConfirmationRequested, ConfirmationPayload(
                application_id=app_id, submission_id=form.submission_id, contact=contact, home_municipality=home,
                choices=[occurrence_ref(occ[o]) for o in form.choices],
                confirm_url=f"{s.public_url}/applications/{app_id}/confirm?secret={secret}",
                expires_at=created + timedelta(hours=s.confirm_within_hours)))])
        self.relay.notify()
        return 202, answer

    async def confirm(self, application_id: str, secret: str | None) -> dict:
        """The applicant opened the mailed link: the application counts from now, and its receipt goes out.
        Confirming twice changes nothing."""
        s = self.settings
        async with self.writer.begin() as conn:
            row = await storage.application(conn, application_id)
            if row is None or row.erased_at is not None or not holds_secret(row, secret):
                raise Problem(404, "no application with that id and secret", type="not-found")
            if row.status == "unconfirmed":
                if storage.aware(row.created_at) < storage.now() - timedelta(hours=s.confirm_within_hours):
                    raise Problem(410, "the confirmation link has expired; apply again", type="link-expired",
                                  lang=row.lang)
                await storage.lock(conn, f"application:{row.email_key}")
                if await storage.active_application_with_email(conn, row.email_key, ACTIVE_STATUSES) is not None:
                    # Whoever gets here holds the mailed secret: the address is theirs, they may know.
                    raise Problem(409, "this e-mail address already has an active application; change that one or "
                                       "withdraw it first (the link is in its receipt)", type="already-active",
                                  lang=row.lang)
                await storage.confirm_application(conn, row.id)
            ch = await storage.choices_with_occurrences(conn, row.id)
            status_url = f"{s.public_url}/applications/{row.id}?secret={secret}"  # a page, not the JSON API
            if row.status == "unconfirmed":
                occ = await storage.occurrences_by_id(conn, [c.occurrence_id for c in ch])
                await self._commit_events(conn, [self._ev(ApplicationReceived, ApplicationReceivedPayload(
                    application_id=row.id, submission_id=row.submission_id, contact=contact(row),
                    home_municipality=row.home_municipality, choices=[occurrence_ref(occ[c.occurrence_id]) for c in ch],
                    status_url=status_url))])
                self.relay.notify()
            status = "received" if row.status == "unconfirmed" else row.status
        return {"application_id": row.id, "status": status, "priority_group": row.priority_group,
                "status_url": status_url, "lang": row.lang, "duplicate": row.status != "unconfirmed",
                "choices": [{"rank": c.rank, "occurrence_id": c.occurrence_id, "title": c.title,
                             "approval": c.approval} for c in ch]}

    async def confirmation_page_data(self, application_id: str, secret: str | None) -> dict:
        """What the confirmation page shows before the applicant presses the button."""
        async with self.engine.connect() as conn:
            row = await storage.application(conn, application_id)
            if row is None or row.erased_at is not None or not holds_secret(row, secret):
                raise Problem(404, "no application with that id and secret", type="not-found")
            ch = await storage.choices_with_occurrences(conn, row.id)
        return {"status": row.status, "lang": row.lang, "choices": [(c.title, c.municipality_code) for c in ch]}

    async def forget_unconfirmed(self, now: datetime | None = None) -> int:
        """Applications whose link was never opened go entirely (and the events that carried the address)."""
        before = (now or storage.now()) - timedelta(hours=self.settings.confirm_within_hours)
        async with self.writer.begin() as conn:
            rows = await storage.unconfirmed_before(conn, before)
            if rows:
                await storage.delete_applications(conn, [r.id for r in rows])
                await forget_published(conn, storage.outbox, [k for r in rows for k in (r.id, r.submission_id)])
        if rows:
            await forget_old_pages(self.engine)
        return len(rows)

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
        async with self.engine.connect() as conn:
            row = await storage.application(conn, application_id)
            if row is None or not (staff or holds_secret(row, secret)):
                # The same answer for "no such id" and "wrong secret": ids are not guessable anyway.
                raise Problem(404, "no application with that id and secret")
            ch = await storage.choices_with_occurrences(conn, application_id)
            if staff and scope and scope != row.home_municipality and scope not in {c.municipality_code for c in ch}:
                raise Problem(403, f"this application concerns neither {scope}'s residents nor its courses")
            offers = await storage.offers_of(conn, application_id)
        return {
            "application_id": row.id, "status": row.status, "priority_group": row.priority_group,
            "priority_reason": row.priority_reason, "home_municipality": row.home_municipality,
            "name": row.name, "email": row.email, "erased": row.erased_at is not None, "lang": row.lang,
            "choices": [{"rank": c.rank, "occurrence_id": c.occurrence_id, "title": c.title,
                         "municipality_code": c.municipality_code, "start": c.start.isoformat() if c.start else None,
                         "approval": c.approval, "state": c.state, "reserve_position": c.reserve_position}
                        for c in ch],
            "offers": [{"offer_id": o.id, "occurrence_id": o.occurrence_id, "status": o.status,
                        "deadline": storage.aware(o.deadline).isoformat()} for o in offers],
        }

    async def decide_approval(self, application_id: str, rank: int, approved: bool, caller_scope: str | None) -> dict:
        async with self.writer.begin() as conn:
            row = await storage.application(conn, application_id)
            if row is None:
                raise Problem(404, "no application with that id")
            if caller_scope and caller_scope != row.home_municipality:
                raise Problem(403, f"only the home municipality ({row.home_municipality}) or the region decides this")
            if not await storage.set_approval(conn, application_id, rank, "approved" if approved else "denied"):
                raise Problem(404, f"the application has no choice {rank}")
        return {"application_id": application_id, "rank": rank, "approval": "approved" if approved else "denied"}

    async def erase(self, application_id: str) -> dict:
        """Forget the person; keep anonymous statistics (area, municipality, group, outcome)."""
        async with self.writer.begin() as conn:
            row = await storage.application(conn, application_id)
            if row is None:
                raise Problem(404, "no application with that id")
            await self._erase(conn, row)
        await forget_old_pages(self.engine)
        self.relay.notify()
        return {"application_id": application_id, "status": "erased"}

    async def erase_submissions(self, submission_ids: list[str]) -> int:
        """The assistant's erasure command: forget the applications sent from a forgotten conversation.
        Repeating it changes nothing; a submission that never became an application has nothing to forget."""
        if not submission_ids:
            return 0
        async with self.writer.begin() as conn:
            rows = await storage.unerased_applications(conn, submission_ids)
            for row in rows:
                await self._erase(conn, row)
        await forget_old_pages(self.engine)
        self.relay.notify()
        return len(rows)

    async def _erase(self, conn, row) -> None:  # noqa: ANN001
        # The seat is freed; no withdrawal notice goes to someone who asked to be forgotten.
        await self._withdraw_offers(conn, storage.offers.c.application_id == row.id, notify=False)
        await storage.blank_person(conn, row.id)
        # Events in the outbox hold the name and address (sent ones for a while, a receipt not yet sent):
        # those go too; the receipt of someone who asked to be forgotten is not sent.
        await forget_published(conn, storage.outbox, [row.id, row.submission_id], unsent=True)
        await self._commit_events(conn, [self._ev(ApplicantErased, ErasedPayload(application_id=row.id))])


def holds_secret(app_row, secret: str | None) -> bool:  # noqa: ANN001
    """Whether `secret` is the application's own (its receipt's or its confirmation link's)."""
    return bool(secret) and secrets.compare_digest(app_row.secret_hash, digest(secret))


def contact(app_row) -> Contact:  # noqa: ANN001
    return Contact(name=app_row.name or "", email=app_row.email or "", lang=app_row.lang)


def occurrence_ref(occ_row) -> OccurrenceRef:  # noqa: ANN001
    from datetime import date

    start = occ_row.start
    if isinstance(start, str):
        start = date.fromisoformat(start)
    return OccurrenceRef(id=occ_row.id, course_id=occ_row.course_id, title=occ_row.title,
                         municipality_code=occ_row.municipality_code, start=start)
