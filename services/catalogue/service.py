"""The catalogue service: its dependencies (database, bus, outbox relay) and its one use case,
applying a municipality's feed."""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from services.catalogue import domain, storage
from shared.tokens import Caller
from services.catalogue.feeds import FeedFormatError, detect_and_parse
from services.catalogue.settings import CatalogueSettings
from shared.bus import Bus
from shared.db import is_sqlite, make_engine, migrate, ping
from shared.logs import correlation_id
from shared.outbox import OutboxRelay, add_events

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class IngestResult:
    status: int
    body: dict


class CatalogueService:
    def __init__(self, settings: CatalogueSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.bus = Bus(settings.amqp_url, producer="catalogue", exchange=settings.events_exchange,
                       queue_prefix=settings.queue_prefix, retry_delays_s=settings.retry_delays_s)
        self.relay = OutboxRelay(self.engine, storage.outbox, self.bus, service="catalogue",
                                 poll_s=settings.outbox_poll_s)
        # SQLite has a single writer: one feed at a time. PostgreSQL locks per municipality instead.
        self._sqlite_lock = asyncio.Lock() if is_sqlite(settings.db_url()) else None
        self._connect_task: asyncio.Task | None = None

    async def start(self) -> None:
        await migrate(self.engine, MIGRATIONS, "alembic_version_catalogue")
        # The broker may be away at start; feeds are still accepted (the outbox keeps their events).
        self._connect_task = asyncio.create_task(self.bus.connect())
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        if self._connect_task and not self._connect_task.done():
            self._connect_task.cancel()
        await self.bus.close()
        await self.engine.dispose()

    async def db_ready(self) -> bool:
        return await ping(self.engine)

    async def broker_ready(self) -> bool:
        return self.bus.connected

    async def ingest(self, *, municipality: str, body: bytes, content_type: str, mode: str, fmt: str | None,
                     confirm: bool, caller: Caller) -> IngestResult:
        try:
            parsed = await asyncio.to_thread(detect_and_parse, body, content_type, municipality, fmt)
        except FeedFormatError as exc:
            return IngestResult(400, {"error": str(exc)})
        if self._sqlite_lock:
            async with self._sqlite_lock:
                return await self._apply(parsed, municipality, mode, confirm, caller)
        return await self._apply(parsed, municipality, mode, confirm, caller)

    async def _apply(self, parsed, municipality: str, mode: str, confirm: bool, caller: Caller) -> IngestResult:  # noqa: ANN001
        feed_id = str(uuid.uuid4())
        async with self.engine.begin() as conn:
            await storage.lock_municipality(conn, municipality)
            state = await storage.load_state(conn, municipality)
            ids = {k: set(parsed.records[k]) | parsed.withdrawn[k] for k in parsed.records}
            foreign = await storage.find_foreign(conn, municipality, ids)
            plan = await asyncio.to_thread(
                domain.plan_feed, parsed, state, municipality=municipality, mode=mode, foreign=foreign,
                correlation_id=correlation_id.get(),
            )
            report = {"feed_id": feed_id, "municipality_code": municipality, "mode": mode,
                      "format": parsed.format, **plan.report()}
            if plan.withdraws_too_much and not confirm:
                await conn.rollback()
                before = plan.active_occurrences_before
                n = plan.counts["occurrence"]["withdrawn"]
                return IngestResult(409, {
                    "error": f"this snapshot would withdraw {n} of the {before} active course occurrences of "
                             f"municipality {municipality} (more than half); nothing was changed. If that is "
                             "intended, send it again with ?confirm_withdrawals=true",
                    "report": {**report, "feed_id": None},
                })
            await storage.apply_plan(conn, plan, feed_id)
            await add_events(conn, storage.outbox, plan.events)
            await storage.save_feed(conn, feed_id, municipality, mode, parsed.format, caller.token_id, report)
        self.relay.notify()
        log.info("feed %s for %s applied: %s", feed_id, municipality,
                 {k: report[k] for k in ("added", "changed", "unchanged", "withdrawn", "events")},
                 extra={"feed_id": feed_id})
        return IngestResult(200, report)
