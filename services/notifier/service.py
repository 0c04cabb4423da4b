"""The notifier: records one delivery per e-mail an event causes, and sends them."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.notifier import storage
from services.notifier.compose import Composer, Undeliverable, whose
from services.notifier.sender import Sender, without_addresses
from services.notifier.settings import NotifierSettings
from shared.service import BusService
from shared.problems import Problem
from shared.events import Envelope
from shared.db import forget_old_pages
from shared.outbox import claim_event

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class NotifierService(BusService):
    name = "notifier"
    migrations = MIGRATIONS

    def __init__(self, settings: NotifierSettings) -> None:
        super().__init__(settings)
        self.composer = Composer(settings.templates_dir, mail_from=settings.mail_from, sender_name=settings.sender_name,
                                 sender_contact=settings.sender_contact, domain=settings.message_id_domain)
        self.sender = Sender(settings, self.engine, self.writer)
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    def register_handlers(self) -> None:
        from services.notifier.handlers import register

        register(self.bus, self)

    async def on_start(self) -> None:
        recovered = await self.sender.recover()
        if recovered:
            log.warning("%d e-mails were being sent when this notifier stopped; sending them again "
                        "(same Message-ID, flagged as possible duplicates)", recovered)
        self.sender.start()

    async def on_stop(self) -> None:
        await self.sender.stop()

    async def record(self, event: Envelope) -> bool:
        """Record the e-mail this event causes (once, whatever the redeliveries); False if it causes none.

        The delivery's unique (event, template) key is what makes a redelivered event a no-op.
        Records are written in small batches, one transaction for all events that arrived together;
        each handler returns (and its message is acked) only after its batch is committed.
        """
        try:
            mail = self.composer.compose(event)
        except Undeliverable as exc:
            await self._record_failed(event, str(exc))
            return True
        if mail is None:
            return False
        row = {
            "event_id": str(event.event_id), "event_type": event.type, "template": mail.template,
            "application_id": mail.application_id, "recipient": mail.recipient, "lang": mail.lang,
            "subject": mail.subject, "message_id": mail.message_id, "raw": mail.raw, "status": "pending",
            "attempts": 0, "possible_duplicate": False, "next_attempt_at": storage.now(),
            "created_at": storage.now(), "correlation_id": event.correlation_id,
        }
        done = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_records())
        await done
        return True

    async def _flush_records(self) -> None:
        d = storage.deliveries
        while self._pending:
            await asyncio.sleep(0.005)  # let the rest of this burst arrive
            batch, self._pending = self._pending, []
            try:
                async with self.writer.begin() as conn:
                    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(d)
                    await conn.execute(ins.on_conflict_do_nothing(index_elements=["event_id", "template"]),
                                       [r for r, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each handler fails, so each message is retried
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            self.sender.wake.set()

    async def _record_failed(self, event: Envelope, reason: str) -> None:
        from services.notifier.compose import TEMPLATE_FOR

        d = storage.deliveries
        reason = without_addresses(reason)
        async with self.writer.begin() as conn:
            if not await claim_event(conn, storage.inbox, "notifier", str(event.event_id)):
                return
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(d)
            await conn.execute(ins.values(
                event_id=str(event.event_id), event_type=event.type, template=TEMPLATE_FOR.get(event.type, "-"),
                application_id=whose(event.payload),
                recipient=str(getattr(event.payload.contact, "email", ""))[:254], lang="sv", subject="",
                message_id="", raw=b"", status="failed", attempts=0, last_error=reason, possible_duplicate=False,
                next_attempt_at=storage.now(), created_at=storage.now(), correlation_id=event.correlation_id,
            ).on_conflict_do_nothing(index_elements=["event_id", "template"]))
        log.error("event %s: %s", event.event_id, reason)

    async def erase(self, application_id: str) -> int:
        """Forget a person: their e-mails' contents and address go; unsent ones are cancelled."""
        d = storage.deliveries
        async with self.writer.begin() as conn:
            await conn.execute(update(d).where(d.c.application_id == application_id,
                                               d.c.status.in_(("pending", "retry")))
                               .values(status="cancelled"))
            res = await conn.execute(update(d).where(d.c.application_id == application_id)
                                     .values(recipient="", subject="", raw=b""))
            # Errors are kept without addresses; one written before that rule goes too.
            await conn.execute(update(d).where(d.c.application_id == application_id, d.c.last_error.contains("@"))
                               .values(last_error=None))
        await forget_old_pages(self.engine)
        return res.rowcount

    async def list_deliveries(self, status: str | None, limit: int, after: int | None) -> dict:
        d = storage.deliveries
        q = select(d.c.id, d.c.event_id, d.c.event_type, d.c.template, d.c.recipient, d.c.lang, d.c.subject,
                   d.c.message_id, d.c.status, d.c.attempts, d.c.last_error, d.c.possible_duplicate,
                   d.c.created_at, d.c.sent_at, d.c.next_attempt_at, d.c.correlation_id).order_by(d.c.id)
        count = select(func.count()).select_from(d)
        if status:
            q, count = q.where(d.c.status == status), count.where(d.c.status == status)
        if after:
            q = q.where(d.c.id > after)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q.limit(limit + 1))).all()
            total = await conn.scalar(count)
        items = []
        for r in rows[:limit]:
            item = {str(k): v for k, v in r._mapping.items()}  # orjson wants plain str keys
            for k in ("created_at", "sent_at", "next_attempt_at"):
                item[k] = storage.aware(item[k]).isoformat() if item[k] else None
            items.append(item)
        return {"items": items, "total": total, "next": str(rows[limit - 1].id) if len(rows) > limit else None}

    async def resend(self, delivery_id: int) -> dict:
        d = storage.deliveries
        async with self.writer.begin() as conn:
            row = (await conn.execute(select(d.c.status, d.c.raw).where(d.c.id == delivery_id))).first()
            if row is None:
                raise Problem(404, "no delivery with that id")
            if row.status not in ("failed", "cancelled") or not row.raw:
                raise Problem(409, f"only failed deliveries can be resent; this one is {row.status}"
                                   + ("" if row.raw else " and its content was erased"))
            await conn.execute(update(d).where(d.c.id == delivery_id).values(
                status="pending", attempts=0, next_attempt_at=storage.now(), last_error=None))
        self.sender.wake.set()
        return {"id": delivery_id, "status": "pending"}
