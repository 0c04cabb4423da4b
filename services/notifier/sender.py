"""Sending recorded deliveries over SMTP: a few connections, a rate limit, and honest retries.

Temporary failures (4xx, refused or dropped connections, time-outs) are retried with back-off;
permanent ones (5xx) are recorded as failed with the server's answer. A delivery is claimed
(`sending`) before it is sent and marked `sent` after; one still `sending` when its replica died
is sent again with the same Message-ID and flagged as a possible duplicate.
"""
from __future__ import annotations

import asyncio
import logging
import re
import ssl
from datetime import timedelta

import aiosmtplib
from prometheus_client import Counter
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier import storage
from services.notifier.settings import NotifierSettings
from shared.logs import correlation_id
from shared.db import Writer

log = logging.getLogger(__name__)
SENT = Counter("vux_emails_total", "E-mails by outcome (sent, retried, failed)", ["outcome"])
ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:]+")
SECRET = re.compile(r"\b(secret|token)=[A-Za-z0-9_.~%-]+")


def without_secrets(raw: bytes) -> bytes:
    """A sent e-mail as it is kept: the links' secrets (an application's status, an offer's answer)
    were for the recipient only; a copy in the database must not open them."""
    from email import message_from_bytes
    from email.policy import SMTP

    msg = message_from_bytes(raw, policy=SMTP)
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            text = part.get_content()
            if SECRET.search(text):
                part.set_content(SECRET.sub(r"\1=(removed after sending)", text),
                                 subtype=part.get_content_subtype(), charset="utf-8")
    return msg.as_bytes()


def without_addresses(text: str) -> str:
    """An SMTP answer or error as it may be kept and logged: relays quote the recipient's address
    ("550 5.1.1 <anna@example.se>: ..."), which must not outlive an erasure in a column or a log."""
    return ADDRESS.sub("<address>", text)


class RateLimiter:
    def __init__(self, per_s: float) -> None:
        self.interval = 1.0 / per_s if per_s > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval


def classify(exc: BaseException) -> tuple[bool, str]:
    """(temporary?, the server's answer or the error) for an SMTP failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        r = exc.recipients[0]
        return 400 <= r.code < 500, f"{r.code} {r.message}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500, f"{exc.code} {exc.message}"
    return True, f"{type(exc).__name__}: {exc}"  # connection trouble: try again later


class Sender:
    def __init__(self, settings: NotifierSettings, engine: AsyncEngine, writer: Writer) -> None:
        self.s = settings
        self.engine = engine
        self.writer = writer
        self._done: list[tuple[int, asyncio.Future, bytes]] = []  # sent, not yet recorded: recorded in batches
        self._flush = asyncio.Event()
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=settings.smtp_max_connections * 8)
        self.limiter = RateLimiter(settings.smtp_rate_per_s)
        self.wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._poll(), name="notifier-poll"),
                       asyncio.create_task(self._mark_sent(), name="notifier-mark-sent")]
        self._tasks += [asyncio.create_task(self._worker(i), name=f"notifier-smtp-{i}")
                        for i in range(self.s.smtp_max_connections)]

    async def stop(self) -> None:
        # Record what was sent before stopping, so a clean stop never resends.
        if self._done:
            self._flush.set()
            await asyncio.sleep(0)
            for _ in range(50):
                if not self._done:
                    break
                await asyncio.sleep(0.02)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def recover(self) -> int:
        """At start: this replica's claims from before a crash are due again, flagged as possible duplicates."""
        d = storage.deliveries
        async with self.writer.begin() as conn:
            res = await conn.execute(update(d).where(d.c.status == "sending", d.c.claimed_by == self.s.instance_name)
                                     .values(status="retry", possible_duplicate=True, next_attempt_at=storage.now()))
        return res.rowcount

    async def release_stale(self) -> int:
        """Claims another replica left behind when it died are due again (possible duplicates)."""
        d = storage.deliveries
        stale = storage.now() - timedelta(seconds=self.s.stale_claim_s)
        async with self.writer.begin() as conn:
            res = await conn.execute(update(d).where(d.c.status == "sending", d.c.claimed_at < stale)
                                     .values(status="retry", possible_duplicate=True, next_attempt_at=storage.now()))
        return res.rowcount

    async def _claim(self, limit: int) -> list:
        d = storage.deliveries
        now = storage.now()
        due = (select(d.c.id).where(d.c.status.in_(("pending", "retry")), d.c.next_attempt_at <= now)
               .order_by(d.c.id).limit(limit))
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)  # replicas share the work, never the same row
        async with self.writer.begin() as conn:
            rows = (await conn.execute(
                update(d).where(d.c.id.in_(due.scalar_subquery()))
                .values(status="sending", claimed_by=self.s.instance_name, claimed_at=now, attempts=d.c.attempts + 1)
                .returning(d.c.id, d.c.recipient, d.c.raw, d.c.attempts, d.c.message_id, d.c.correlation_id)
            )).all()
        return sorted(rows, key=lambda r: r.id)

    async def _poll(self) -> None:
        last_sweep = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - last_sweep > 30:
                    last_sweep = loop.time()
                    await self.release_stale()
                # Claim in batches, when the queue is at least half empty: fewer, cheaper transactions.
                free = self.queue.maxsize - self.queue.qsize()
                rows = await self._claim(free) if free >= self.queue.maxsize // 2 else []
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database away: try again
                log.warning("could not claim deliveries: %s", exc)
                rows = []
            for r in rows:
                await self.queue.put(r)
            if not rows:
                self.wake.clear()
                try:
                    # Woken by new deliveries; otherwise look again soon (queue drained, retries due).
                    await asyncio.wait_for(self.wake.wait(), timeout=0.5 if free >= self.queue.maxsize // 2 else 0.02)
                except asyncio.TimeoutError:
                    pass

    def _client(self) -> aiosmtplib.SMTP:
        s = self.s
        return aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_s,
            use_tls=s.smtp_security == "tls", start_tls=True if s.smtp_security == "starttls" else False,
            username=s.smtp_username or None, password=s.smtp_password or None,
            tls_context=ssl.create_default_context() if s.smtp_security != "none" else None,
        )

    async def _worker(self, n: int) -> None:
        smtp: aiosmtplib.SMTP | None = None
        while True:
            row = await self.queue.get()
            # Logs about this e-mail carry the id of the request that caused it.
            token = correlation_id.set(row.correlation_id)
            try:
                await self.limiter.wait()
                if smtp is None or not smtp.is_connected:
                    smtp = self._client()
                    await smtp.connect()
                await smtp.sendmail(self.s.mail_from, [row.recipient], row.raw)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                temporary, answer = classify(exc)
                if isinstance(exc, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError,
                                    asyncio.TimeoutError)) or (temporary and smtp is not None and not smtp.is_connected):
                    smtp = None
                await self._failed(row, temporary, answer)
            else:
                await self._sent(row)
                log.info("delivery %s sent as %s", row.id, row.message_id)
            finally:
                correlation_id.reset(token)

    async def _sent(self, row) -> None:  # noqa: ANN001
        # The connection sends nothing more until this one is recorded (in a batch with the other
        # connections' e-mails): a crash can then leave at most one sent-but-unrecorded e-mail per
        # connection, the only kind that is sent again after a restart.
        recorded = asyncio.get_running_loop().create_future()
        self._done.append((row.id, recorded, without_secrets(row.raw)))
        self._flush.set()
        SENT.labels("sent").inc()
        await recorded

    async def _mark_sent(self) -> None:
        """Record sent e-mails in batches: one transaction for everything sent since the last one."""
        d = storage.deliveries
        while True:
            await self._flush.wait()
            self._flush.clear()
            batch, self._done = self._done, []
            if not batch:
                continue
            try:
                async with self.writer.begin() as conn:
                    await conn.execute(update(d).where(d.c.id == bindparam("sent_id"))
                                       .values(status="sent", sent_at=storage.now(), last_error=None,
                                               raw=bindparam("kept")),
                                       [{"sent_id": i, "kept": kept} for i, _, kept in batch])
            except asyncio.CancelledError:
                self._done = batch + self._done
                raise
            except Exception as exc:  # noqa: BLE001 - try again with the next batch
                log.warning("could not record %d sent e-mails yet: %s", len(batch), exc)
                self._done = batch + self._done
                await asyncio.sleep(0.2)
                self._flush.set()
            else:
                for _, recorded, _ in batch:
                    if not recorded.done():
                        recorded.set_result(None)

    async def _failed(self, row, temporary: bool, answer: str) -> None:  # noqa: ANN001
        d = storage.deliveries
        answer = without_addresses(answer)
        delays = self.s.send_retry_delays_s
        if temporary and row.attempts <= len(delays):
            delay = delays[row.attempts - 1]
            values = {"status": "retry", "last_error": answer,
                      "next_attempt_at": storage.now() + timedelta(seconds=delay)}
            SENT.labels("retried").inc()
            log.warning("delivery %s: temporary failure (%s); retrying in %.0fs", row.id, answer, delay)
        else:
            values = {"status": "failed", "last_error": answer}
            SENT.labels("failed").inc()
            log.error("delivery %s failed: %s", row.id, answer)
        async with self.writer.begin() as conn:
            await conn.execute(update(d).where(d.c.id == row.id).values(**values))
