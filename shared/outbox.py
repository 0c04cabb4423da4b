"""Transactional outbox and idempotent-consumer inbox.

A producing service writes its state change and the events describing it in one database
transaction (`add_events`); the relay publishes unpublished rows with broker confirms and only
then marks them. A crash between commit and publish therefore loses nothing: the rows are still
there at the next start. A crash between publish and mark publishes a row twice, which is why
consumers dedupe by event id (`claim_event`).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import (
    BigInteger, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, delete, func, insert,
    select, text, update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.bus import Bus
from shared.events import Envelope
from shared.metrics import OUTBOX_BACKLOG

log = logging.getLogger(__name__)

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox", metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(80), nullable=False),
        Column("routing_key", String(120), nullable=False),
        Column("correlation_id", String(80)),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events", metadata,
        Column("consumer", String(80), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


async def add_events(conn: AsyncConnection, table: Table, events: Iterable[Envelope]) -> int:
    rows = [
        {
            "event_id": str(e.event_id), "event_type": e.type, "routing_key": e.type,
            "correlation_id": e.correlation_id, "body": e.to_json(), "created_at": now(),
        }
        for e in events
    ]
    if rows:
        await conn.execute(insert(table), rows)
    return len(rows)


async def forget_published(conn: AsyncConnection, table: Table, marks: Iterable[str], unsent: bool = False) -> int:
    """Erasure: delete already-published events that mention any of `marks` (an application or
    submission id), and with `unsent` those not yet sent too (nothing about the person leaves after
    they asked to be forgotten). Outbox rows are kept only briefly, so this looks at few rows."""
    needles = [m.encode() for m in marks if m]
    query = select(table.c.id, table.c.body)
    if not unsent:
        query = query.where(table.c.published_at.is_not(None))
    rows = (await conn.execute(query)).all()
    ids = [r.id for r in rows if any(n in r.body for n in needles)]
    if ids:
        await conn.execute(delete(table).where(table.c.id.in_(ids)))
    return len(ids)


async def claim_event(conn: AsyncConnection, table: Table, consumer: str, event_id: str) -> bool:
    """Record that `consumer` handles `event_id` in the caller's transaction; False if it already did."""
    dialect = conn.dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = ins.values(consumer=consumer, event_id=event_id, processed_at=now()).on_conflict_do_nothing()
    result = await conn.execute(stmt)
    return result.rowcount == 1


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, table: Table, bus: Bus, *, service: str, poll_s: float = 1.0,
                 batch: int = 500, keep_published: timedelta = timedelta(hours=1)) -> None:
        self.engine = engine
        self.table = table
        self.bus = bus
        self.service = service
        self.poll_s = poll_s
        self.batch = batch
        self.keep_published = keep_published
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._last_cleanup = 0.0

    def notify(self) -> None:
        """Called after a commit that added events, so they go out without waiting for the poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=10)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: try again later
                log.warning("outbox relay: %s", exc)
                sent = 0
            if sent:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except asyncio.TimeoutError:
                pass

    async def backlog(self) -> int:
        async with self.engine.connect() as conn:
            n = await conn.scalar(select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None)))
        OUTBOX_BACKLOG.labels(self.service).set(n or 0)
        return int(n or 0)

    async def drain_once(self) -> int:
        """Publish one batch of unpublished rows; returns how many went out."""
        t = self.table
        pg = self.engine.dialect.name == "postgresql"
        async with self.engine.connect() as conn:
            if pg:
                # One relay at a time across replicas, so events leave in commit order.
                got = await conn.scalar(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": f"outbox:{self.service}"})
                await conn.commit()
                if not got:
                    return 0
            try:
                rows = (await conn.execute(
                    select(t.c.id, t.c.event_id, t.c.event_type, t.c.routing_key, t.c.correlation_id, t.c.body)
                    .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch)
                )).all()
                await conn.commit()
                if not rows:
                    await self._cleanup(conn)
                    OUTBOX_BACKLOG.labels(self.service).set(0)
                    return 0
                # Confirms are pipelined: all publishes go out on one channel, in order, then we wait.
                await asyncio.gather(*[
                    self.bus.publish_raw(r.body, routing_key=r.routing_key, message_id=r.event_id,
                                         correlation_id=r.correlation_id, event_type=r.event_type)
                    for r in rows
                ])
                await conn.execute(update(t).where(t.c.id.in_([r.id for r in rows])).values(published_at=now()))
                await conn.commit()
                return len(rows)
            finally:
                if pg:
                    await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"outbox:{self.service}"})
                    await conn.commit()

    async def _cleanup(self, conn: AsyncConnection) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_cleanup < 60:
            return
        self._last_cleanup = loop_now
        await conn.execute(delete(self.table).where(self.table.c.published_at < now() - self.keep_published))
        await conn.commit()
