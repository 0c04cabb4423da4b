"""The catalogue service: its dependencies (database, bus, outbox relay) and its one use case,
applying a municipality's feed."""
from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

from services.catalogue import domain, storage
from shared.tokens import Caller
from services.catalogue.feeds import FeedFormatError, detect_and_parse
from services.catalogue.settings import CatalogueSettings
from shared.service import BusService
from shared.logs import correlation_id
from shared.problems import Problem
from shared.outbox import OutboxRelay, add_events

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class CatalogueService(BusService):
    name = "catalogue"
    migrations = MIGRATIONS

    def __init__(self, settings: CatalogueSettings) -> None:
        super().__init__(settings)
        self.relay = OutboxRelay(self.engine, storage.outbox, self.bus, service=self.name,
                                 poll_s=settings.outbox_poll_s)

    async def on_start(self) -> None:
        self.relay.start()

    async def on_stop(self) -> None:
        await self.relay.stop()

    async def ingest(self, *, municipality: str, body: bytes, content_type: str, mode: str, fmt: str | None,
                     confirm: bool, caller: Caller) -> dict:
        """Apply a feed; its report. A feed that cannot be read, or withdraws too much unconfirmed, is
        refused (Problem) with nothing changed."""
        try:
            parsed = await asyncio.to_thread(detect_and_parse, body, content_type, municipality, fmt)
        except FeedFormatError as exc:
            raise Problem(400, str(exc), type="unreadable-feed") from None
        return await self._apply(parsed, municipality, mode, confirm, caller)

    async def _apply(self, parsed, municipality: str, mode: str, confirm: bool, caller: Caller) -> dict:  # noqa: ANN001
        feed_id = str(uuid.uuid4())
        async with self.writer.begin() as conn:
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
                raise Problem(409, f"this snapshot would withdraw {n} of the {before} active course occurrences "
                                   f"of municipality {municipality} (more than half); nothing was changed. If that is "
                                   "intended, send it again with ?confirm_withdrawals=true",
                              type="mass-withdrawal", report={**report, "feed_id": None}, active_before=before)
            await storage.apply_plan(conn, plan, feed_id)
            await add_events(conn, storage.outbox, plan.events)
            await storage.save_feed(conn, feed_id, municipality, mode, parsed.format, caller.token_id, report)
        self.relay.notify()
        log.info("feed %s for %s applied: %s", feed_id, municipality,
                 {k: report[k] for k in ("added", "changed", "unchanged", "withdrawn", "events")},
                 extra={"feed_id": feed_id})
        return report
