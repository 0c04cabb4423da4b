"""The chat assistant's use cases: turns, marks, applications, privacy, and the counsellor's view.

Dependencies come in (nameko-style): the database, the outbox relay, and the search service's client
(search_client.py), which reads each message and turns a query and filters into results. Profile
keeping and wording are pure (profile.py, assistant.py); this module stores and fetches.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.guidance import assistant, path, storage
from services.guidance.assistant import t
from services.guidance.profile import (
    Profile, next_question, query_text, questions_asked, read_message, search_filters,
)
from services.guidance.search_client import SearchClient, SearchUnavailable
from shared.passwords import DUMMY_HASH, check_password, hash_password
from shared.db import Writer, aware, forget_old_pages
from shared.events import (
    ApplicantErasureRequested, ApplicantFacts, ApplicationForm, ApplicationSubmitted, ChatTurnObserved, ChatTurnPayload,
    Contact, ErasureRequestedPayload,
    GuidanceSummaryPayload, GuidanceSummaryRequested, PlanItem, SentApplication,
)
from shared.logs import correlation_id
from shared.problems import Problem
from shared.outbox import OutboxRelay, add_events, forget_published
from shared.reference import municipalities

log = logging.getLogger(__name__)
PRODUCER = "guidance"
SUGGESTIONS = 6
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread aloud



def session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass
class Counsellor:
    username: str
    name: str
    email: str | None


class Chat:
    def __init__(self, engine: AsyncEngine, writer: Writer, relay: OutboxRelay, search: SearchClient, *,
                 retention_days: float, login_hours: float) -> None:
        self.engine, self.writer, self.relay, self.search = engine, writer, relay, search
        self.retention = timedelta(days=retention_days)
        self.login_ttl = timedelta(hours=login_hours)

    # --- a learner's turn ----------------------------------------------------------------------

    async def turn(self, session_id: str | None, message: str, lang: str | None) -> dict:
        today = date.today()
        row = await self._session(session_id) if session_id else None
        if session_id and row is None:
            raise Problem(404, "no such conversation: it may have been deleted or have expired; start a new one "
                               "with session_id null")
        profile = Profile.model_validate_json(row.profile) if row else Profile()
        current = row.lang if row else None
        # Search reads the message (language, occupations, years, skills); when it cannot be reached the
        # learner still gets an answer: what this service reads itself, and a word that search is away.
        degraded = False
        try:
            reading = await self.search.understand(message, current)
        except SearchUnavailable:
            reading, degraded = None, True
        # A button's words (quick replies are Swedish under the label) are no sign of another language.
        said_in = current if current and assistant.is_quick_reply(message) else reading["lang"] if reading else current
        lang = lang or said_in or "sv"
        profile = read_message(profile, message, today, reading)
        marks = await self._marks(row.key) if row else {}
        suggestions, relaxed, fit = [], None, "none"
        if not degraded:
            try:
                suggestions, relaxed, fit = await self._suggestions(profile, marks, lang, today)
            except SearchUnavailable:
                degraded = True
        if assistant.vague(profile, fit) and "interests" not in profile.asked:
            # Nothing known and nothing matched: ask what they like before showing guesses.
            suggestions, q = [], "interests"
        else:
            q = next_question(profile, suggestions, lang)
        if q:
            profile.asked.append(q)
        text = assistant.reply(profile, suggestions, lang, relaxed, degraded=degraded, fit=fit,
                               questions=questions_asked(message))
        question = assistant.question(q, lang)
        now = storage.now()
        new_id = None
        async with self.writer.begin() as conn:
            if row is None:
                new_id = secrets.token_urlsafe(24)
                key, code = session_key(new_id), _code()
                await conn.execute(insert(storage.sessions).values(
                    key=key, code=code, lang=lang, profile=profile.model_dump_json(),
                    suggestions=json.dumps(suggestions), created_at=now, updated_at=now))
            else:
                key, code = row.key, row.code
                await conn.execute(update(storage.sessions).where(storage.sessions.c.key == key).values(
                    lang=lang, profile=profile.model_dump_json(), suggestions=json.dumps(suggestions),
                    updated_at=now))
            await conn.execute(insert(storage.messages), [
                {"session_key": key, "role": "learner", "text": message, "created_at": now},
                {"session_key": key, "role": "assistant", "text": " ".join(x for x in (text, question) if x),
                 "created_at": now},
            ])
            # Anonymous demand: what was asked about and where, never what was written.
            areas = sorted({s["area"] for s in suggestions if s.get("area")})[:5]
            await add_events(conn, storage.outbox, [ChatTurnObserved(
                producer=PRODUCER, correlation_id=correlation_id.get(),
                payload=ChatTurnPayload(areas=areas, municipality_code=profile.home_municipality, lang=lang))])
        self.relay.notify()
        out = {"session_id": new_id or session_id, "code": code, "lang": lang, "dir": t(lang, "dir"),
               "reply": text, "question": question, "quick_replies": assistant.quick_replies(q, lang),
               "understood": assistant.understood(profile, lang),
               "suggestions": suggestions, "fit": fit}
        if degraded:
            out["degraded"] = True
        return out

    async def _suggestions(self, p: Profile, marks: dict[str, dict], lang: str, today: date
                           ) -> tuple[list[dict], str | None, str]:
        """The learner's path (path.build), the condition dropped when nothing met them all, and the fit."""
        query = query_text(p)
        if not query:
            return [], None, "none"
        filters = search_filters(p, today)
        worked, wanted = sorted({j.ssyk4 for j in p.experience}), sorted({j.ssyk4 for j in p.goals})
        results = await self.search.suggest(query, filters, SUGGESTIONS + 10, worked, wanted)
        relaxed = None
        # Nothing fits every wish: drop the condition that narrows most, and say so.
        for what, keys in (("start", ("start_from", "start_to")), ("pace", ("pace_min", "pace_max")),
                           ("distance", ("distance_only", "max_distance_km"))):
            if any(r["kind"] == "course" and r.get("fit") for r in results) or not any(k in filters for k in keys):
                continue
            filters = {k: v for k, v in filters.items() if k not in keys}
            results = await self.search.suggest(query, filters, SUGGESTIONS + 10, worked, wanted)
            relaxed = what
        swedish = None
        if p.swedish in path.SWEDISH_COURSE:
            text, code = path.SWEDISH_COURSE[p.swedish]
            found = await self.search.suggest(text, filters, 10, kinds=("course",))
            swedish = next((r for r in found if (r.get("course_code") or "").upper().startswith(code)), None)
        hidden = {rid for rid, m in marks.items() if m["mark"] in ("hidden", "removed")}
        kept = {rid: m for rid, m in marks.items() if m["mark"] in ("added", "pinned", "saved")}
        steps, fit = path.build([r for r in results if r["id"] not in hidden and r["id"] not in kept], p, lang,
                                SUGGESTIONS, swedish)
        first = []
        for rid, m in sorted(kept.items(), key=lambda kv: kv[1]["mark"] == "saved"):
            fresh = next((r for r in results if r["id"] == rid), None)
            item = {**m["snapshot"], **(fresh or {}), "mark": m["mark"]}
            if m["by"] == "counsellor":
                item["fit"] = "strong"  # a counsellor chose it for this learner
            first.append(item)
        # Validation stays the first step, also before what was pinned or saved; each subject's levels in order.
        both = first + steps
        suggestions = [s for s in both if s["kind"] == "validation"] + \
            path.in_order([s for s in both if s["kind"] != "validation"])
        for i, s in enumerate(suggestions, 1):
            s["step"] = i
            s["explanation"] = assistant.explain(s, p, lang)
        chosen = any(m["by"] == "counsellor" for m in kept.values())
        return suggestions, relaxed, "good" if chosen else fit

    # --- a learner's session -------------------------------------------------------------------

    async def _session(self, session_id: str):  # noqa: ANN202
        async with self.engine.connect() as conn:
            return (await conn.execute(select(storage.sessions).where(
                storage.sessions.c.key == session_key(session_id)))).first()

    async def _require(self, session_id: str | None):  # noqa: ANN202
        row = await self._session(session_id) if session_id else None
        if row is None:
            raise Problem(404, "no such conversation: check the link, or it may have been deleted or have expired")
        return row

    async def _marks(self, key: str) -> dict[str, dict]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(storage.marks).where(storage.marks.c.session_key == key))).all()
        return {r.result_id: {"mark": r.mark, "by": r.by, "snapshot": json.loads(r.snapshot)} for r in rows}

    async def view(self, session_id: str | None) -> dict:
        row = await self._require(session_id)
        return await self._view(row, notes=False)

    async def _view(self, row, notes: bool) -> dict:  # noqa: ANN001
        async with self.engine.connect() as conn:
            msgs = (await conn.execute(select(storage.messages).where(storage.messages.c.session_key == row.key)
                                       .order_by(storage.messages.c.id))).all()
            apps = (await conn.execute(select(storage.applications).where(
                storage.applications.c.session_key == row.key).order_by(storage.applications.c.created_at))).all()
            note_rows = (await conn.execute(select(storage.notes).where(storage.notes.c.session_key == row.key)
                                            .order_by(storage.notes.c.id))).all() if notes else []
        profile = Profile.model_validate_json(row.profile)
        marks = await self._marks(row.key)
        suggestions = json.loads(row.suggestions)
        for s in suggestions:
            if s["id"] in marks:
                s["mark"] = marks[s["id"]]["mark"]
        # What a counsellor added, pinned or removed since the last turn shows too (the learner sees it).
        listed = {s["id"] for s in suggestions}
        by_counsellor = [{**m["snapshot"], "mark": m["mark"]} for rid, m in marks.items()
                         if m["by"] == "counsellor" and rid not in listed]
        suggestions = [s for s in by_counsellor if s["mark"] != "removed"] + suggestions + \
            [s for s in by_counsellor if s["mark"] == "removed"]
        out = {"code": row.code, "lang": row.lang, "dir": t(row.lang, "dir"),
               "understood": assistant.understood(profile, row.lang),
               "transcript": [{"role": m.role, "text": m.text, "at": aware(m.created_at).isoformat()} for m in msgs],
               "suggestions": suggestions,
               "marks": {rid: {"mark": m["mark"], "by": m["by"]} for rid, m in marks.items()},
               "applications": [{"submission_id": a.submission_id, "status": a.status,
                                 "application_id": a.application_id, "reason": a.reason} for a in apps],
               "updated_at": aware(row.updated_at).isoformat()}
        if notes:
            out["notes"] = [{"counsellor": n.counsellor, "text": n.text, "at": aware(n.created_at).isoformat()}
                            for n in note_rows]
        return out

    async def mark(self, session_id: str | None, result_id: str, mark: str | None, by: str = "learner") -> dict:
        row = await self._require(session_id)
        return await self._mark(row, result_id, mark, by)

    async def _mark(self, row, result_id: str, mark: str | None, by: str) -> dict:  # noqa: ANN001
        shown = {s["id"]: s for s in json.loads(row.suggestions)}
        old = await self._marks(row.key)
        if result_id not in shown and result_id not in old:
            raise Problem(404, f"result {result_id!r} is not among this conversation's suggestions")
        snapshot = shown.get(result_id) or old[result_id]["snapshot"]
        async with self.writer.begin() as conn:
            await conn.execute(delete(storage.marks).where(storage.marks.c.session_key == row.key,
                                                           storage.marks.c.result_id == result_id))
            if mark:
                await conn.execute(insert(storage.marks).values(
                    session_key=row.key, result_id=result_id, mark=mark, by=by,
                    snapshot=json.dumps({k: v for k, v in snapshot.items() if k != "mark"}), created_at=storage.now()))
            await conn.execute(update(storage.sessions).where(storage.sessions.c.key == row.key)
                               .values(updated_at=storage.now()))
        return {"result_id": result_id, "mark": mark}

    async def forget(self, session_id: str | None) -> None:
        """The learner asks to be forgotten: the conversation goes, and the other services are told in
        the same transaction (through the outbox) to forget what was sent from it."""
        row = await self._require(session_id)
        async with self.writer.begin() as conn:
            await self._forget_in(conn, row.key, row.code)
        await forget_old_pages(self.engine)
        self.relay.notify()

    async def application_erased(self, application_id: str) -> None:
        """The learner was forgotten through the allocation service: the conversation that sent it goes too."""
        async with self.writer.begin() as conn:
            found = (await conn.execute(
                select(storage.sessions.c.key, storage.sessions.c.code)
                .join(storage.applications, storage.applications.c.session_key == storage.sessions.c.key)
                .where(storage.applications.c.application_id == application_id))).first()
            if found is None:
                return
            await self._forget_in(conn, found.key, found.code)
        await forget_old_pages(self.engine)
        self.relay.notify()

    async def _forget_in(self, conn: AsyncConnection, key: str, code: str) -> None:
        sent = (await conn.execute(select(storage.applications.c.submission_id).where(
            storage.applications.c.session_key == key))).scalars().all()
        # Sent commands still hold the learner's name and address in the outbox for a while.
        await forget_published(conn, storage.outbox, [*sent, code])
        await add_events(conn, storage.outbox, [ApplicantErasureRequested(
            producer=PRODUCER, correlation_id=correlation_id.get(),
            payload=ErasureRequestedPayload(chat_session=code, submission_ids=sent))])
        await self._delete_in(conn, [key])

    async def _delete(self, keys: list[str]) -> None:
        async with self.writer.begin() as conn:
            await self._delete_in(conn, keys)

    @staticmethod
    async def _delete_in(conn: AsyncConnection, keys: list[str]) -> None:
        for table in storage.SESSION_CHILDREN:
            await conn.execute(delete(table).where(table.c.session_key.in_(keys)))
        await conn.execute(delete(storage.sessions).where(storage.sessions.c.key.in_(keys)))

    async def purge_expired(self) -> int:
        """Delete conversations nobody has touched for the retention period."""
        cutoff = storage.now() - self.retention
        async with self.engine.connect() as conn:
            keys = [r.key for r in (await conn.execute(select(storage.sessions.c.key).where(
                storage.sessions.c.updated_at < cutoff))).all()]
        for i in range(0, len(keys), 500):
            await self._delete(keys[i:i + 500])
        async with self.writer.begin() as conn:
            await conn.execute(delete(storage.logins).where(storage.logins.c.expires_at < storage.now()))
        if keys:
            await forget_old_pages(self.engine)
        return len(keys)

    # --- applying -----------------------------------------------------------------------------

    async def apply(self, session_id: str | None, submission_id: str | None, applicant: ApplicantFacts,
                    choices: list[str], consent: bool) -> dict:
        row = await self._require(session_id)
        if not consent:
            raise Problem(422, "consent: the application cannot be processed without your consent")
        if len(set(choices)) != len(choices):
            raise Problem(422, "choices: the same course occurrence is chosen twice")
        try:
            known = await self.search.known_occurrences(choices)
        except SearchUnavailable:
            raise Problem(503, "the course list cannot be checked just now; try again in a minute") from None
        for i, oid in enumerate(choices):
            if oid not in known:
                raise Problem(422, f"choices[{i}]: {oid!r} is not a course occurrence in the catalogue")
        if applicant.home_municipality not in municipalities():
            raise Problem(422, f"applicant.home_municipality: {applicant.home_municipality} is not one of "
                                 "Västerbotten's municipalities")
        if "lang" not in applicant.model_fields_set and row.lang:
            # The conversation's language travels with the application: its e-mails come in it.
            applicant = applicant.model_copy(update={"lang": row.lang})
        submission_id = submission_id or uuid.uuid4().hex
        form = ApplicationForm(submission_id=submission_id, applicant=applicant, choices=choices, consent=True,
                               chat_session_id=row.code)
        async with self.writer.begin() as conn:
            existing = (await conn.execute(select(storage.applications).where(
                storage.applications.c.submission_id == submission_id))).first()
            if existing is not None:
                if existing.session_key != row.key:
                    raise Problem(409, "submission_id was already used")
                return {"submission_id": submission_id, "status": existing.status,
                        "application_id": existing.application_id, "duplicate": True}
            await conn.execute(insert(storage.applications).values(
                submission_id=submission_id, session_key=row.key, status="sent", created_at=storage.now()))
            await add_events(conn, storage.outbox, [ApplicationSubmitted(
                producer=PRODUCER, correlation_id=correlation_id.get(), payload=form)])
        self.relay.notify()
        return {"submission_id": submission_id, "status": "sent", "application_id": None}

    async def application_outcome(self, submission_id: str | None, application_id: str | None, status: str,
                                  reason: str | None = None) -> None:
        """The allocation service registered (or refused) an application sent from a conversation."""
        if not submission_id:
            return
        async with self.writer.begin() as conn:
            await conn.execute(update(storage.applications).where(
                storage.applications.c.submission_id == submission_id).values(
                status=status, application_id=application_id, reason=reason))

    # --- counsellors ---------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> str | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(storage.counsellors).where(
                storage.counsellors.c.username == username))).first()
        ok = check_password(password, row.password_hash if row else DUMMY_HASH)
        if not ok or row is None or row.disabled_at is not None:
            return None
        token = secrets.token_urlsafe(32)
        now = storage.now()
        async with self.writer.begin() as conn:
            await conn.execute(insert(storage.logins).values(
                token_hash=hashlib.sha256(token.encode()).hexdigest(), username=username, created_at=now,
                expires_at=now + self.login_ttl))
        return token

    async def counsellor(self, token: str | None) -> Counsellor | None:
        if not token:
            return None
        c, lg = storage.counsellors, storage.logins
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(c.c.username, c.c.name, c.c.email, lg.c.expires_at)
                                      .join(lg, lg.c.username == c.c.username)
                                      .where(lg.c.token_hash == hashlib.sha256(token.encode()).hexdigest(),
                                             c.c.disabled_at.is_(None)))).first()
        if row is None or aware(row.expires_at) < storage.now():
            return None
        return Counsellor(row.username, row.name, row.email)

    async def logout(self, token: str) -> None:
        async with self.writer.begin() as conn:
            await conn.execute(delete(storage.logins).where(
                storage.logins.c.token_hash == hashlib.sha256(token.encode()).hexdigest()))

    async def _by_code(self, code: str):  # noqa: ANN202
        norm = code.strip().upper().replace(" ", "")
        if len(norm) == 8:
            norm = f"{norm[:4]}-{norm[4:]}"
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(storage.sessions).where(storage.sessions.c.code == norm))).first()
        if row is None:
            raise Problem(404, f"no conversation has the code {code!r}; ask the learner to read it again")
        return row

    async def open_session(self, who: Counsellor, code: str) -> dict:
        row = await self._by_code(code)
        async with self.writer.begin() as conn:
            seen = (await conn.execute(select(storage.opened).where(
                storage.opened.c.username == who.username, storage.opened.c.session_key == row.key))).first()
            if seen is None:
                await conn.execute(insert(storage.opened).values(username=who.username, session_key=row.key,
                                                                 opened_at=storage.now()))
        log.info("counsellor %s opened conversation %s", who.username, row.code)
        return await self._view(row, notes=True)

    async def counsellor_view(self, who: Counsellor, code: str) -> dict:  # noqa: ARG002 - signed in is enough
        return await self._view(await self._by_code(code), notes=True)

    async def my_sessions(self, who: Counsellor) -> list[dict]:
        s, o = storage.sessions, storage.opened
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(s.c.code, s.c.lang, s.c.updated_at, o.c.opened_at)
                                       .join(o, o.c.session_key == s.c.key).where(o.c.username == who.username)
                                       .order_by(s.c.updated_at.desc()).limit(200))).all()
        return [{"code": r.code, "lang": r.lang, "updated_at": aware(r.updated_at).isoformat(),
                 "opened_at": aware(r.opened_at).isoformat()} for r in rows]

    async def counsellor_mark(self, who: Counsellor, code: str, result_id: str, mark: str | None) -> dict:
        return await self._mark(await self._by_code(code), result_id, mark, by="counsellor")

    async def _found(self, row, text: str) -> list[dict]:  # noqa: ANN001
        """What a counsellor's search finds for this learner: the whole catalogue, the learner's home first."""
        p = Profile.model_validate_json(row.profile)
        filters = {"home_municipality": p.home_municipality} if p.home_municipality else {}
        try:
            return await self.search.suggest(text, filters, 10, kinds=("course", "validation"))
        except SearchUnavailable:
            raise Problem(503, "the catalogue search is not answering; try again in a moment") from None

    async def search_catalogue(self, who: Counsellor, code: str, text: str) -> list[dict]:  # noqa: ARG002
        return await self._found(await self._by_code(code), text)

    async def add_result(self, who: Counsellor, code: str, text: str, result_id: str, note: str | None) -> dict:
        """Put a course or validation offer the counsellor found on the learner's list, with a note they see."""
        row = await self._by_code(code)
        found = next((r for r in await self._found(row, text) if r["id"] == result_id), None)
        if found is None:
            raise Problem(404, f"result {result_id!r} is not among what the search {text!r} finds now; search again",
                          field="result_id")
        snapshot = {**found, "note": (note or "").strip() or None, "added_by": who.name}
        snapshot["explanation"] = assistant.explain(snapshot, Profile.model_validate_json(row.profile), row.lang)
        async with self.writer.begin() as conn:
            await conn.execute(delete(storage.marks).where(storage.marks.c.session_key == row.key,
                                                           storage.marks.c.result_id == result_id))
            await conn.execute(insert(storage.marks).values(
                session_key=row.key, result_id=result_id, mark="added", by="counsellor",
                snapshot=json.dumps(snapshot), created_at=storage.now()))
            await conn.execute(update(storage.sessions).where(storage.sessions.c.key == row.key)
                               .values(updated_at=storage.now()))
        log.info("counsellor %s added %s to conversation %s", who.username, result_id, row.code)
        return {"result_id": result_id, "mark": "added"}

    async def add_note(self, who: Counsellor, code: str, text: str) -> dict:
        row = await self._by_code(code)
        async with self.writer.begin() as conn:
            await conn.execute(insert(storage.notes).values(session_key=row.key, counsellor=who.username, text=text,
                                                            created_at=storage.now()))
        return {"counsellor": who.username, "text": text}

    async def send_summary(self, who: Counsellor, code: str, name: str, email: str, note: str | None,
                           lang: str | None) -> dict:
        """E-mail the learner a plan: validation first, then courses, with places and dates."""
        try:  # the notifier's own check: an address it would refuse is refused here, not after a 202
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Problem(422, f"email: {exc}", field="email") from None
        row = await self._by_code(code)
        marks = await self._marks(row.key)
        shown = [s for s in json.loads(row.suggestions) if marks.get(s["id"], {}).get("mark") not in
                 ("hidden", "removed")]
        chosen = [m["snapshot"] for m in marks.values() if m["mark"] in ("added", "pinned", "saved")]
        ids = {s["id"] for s in chosen}
        items = assistant.plan_items(chosen + [s for s in shown if s["id"] not in ids])
        lang = lang or row.lang
        async with self.engine.connect() as conn:
            apps = (await conn.execute(select(storage.applications).where(
                storage.applications.c.session_key == row.key).order_by(storage.applications.c.created_at))).all()
        sent = [SentApplication(reference=(a.application_id or a.submission_id)[:8], status=a.status)
                for a in apps][-20:]
        payload = GuidanceSummaryPayload(
            contact=Contact(name=name, email=email, lang=lang or "sv"),  # the notifier writes in all seven
            counsellor=who.name, session_id=row.code, items=[PlanItem(**i) for i in items], note=note,
            applications=sent)
        async with self.writer.begin() as conn:
            await add_events(conn, storage.outbox, [GuidanceSummaryRequested(
                producer=PRODUCER, correlation_id=correlation_id.get(), payload=payload)])
        self.relay.notify()
        return {"sent_to": email, "items": len(items)}


async def create_counsellor(conn: AsyncConnection, username: str, name: str, email: str | None, password: str) -> None:
    exists = (await conn.execute(select(func.count()).select_from(storage.counsellors).where(
        storage.counsellors.c.username == username))).scalar()
    values = {"name": name, "email": email, "password_hash": hash_password(password), "disabled_at": None}
    if exists:
        await conn.execute(update(storage.counsellors).where(storage.counsellors.c.username == username)
                           .values(**values))
    else:
        await conn.execute(insert(storage.counsellors).values(username=username, created_at=storage.now(), **values))


async def disable_counsellor(conn: AsyncConnection, username: str) -> bool:
    res = await conn.execute(update(storage.counsellors).where(storage.counsellors.c.username == username)
                             .values(disabled_at=datetime.now(timezone.utc)))
    await conn.execute(delete(storage.logins).where(storage.logins.c.username == username))
    return res.rowcount > 0
