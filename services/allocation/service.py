"""The allocation service: its dependencies, start and stop. The use cases live by concern, each in its
own module: catalogue_copy.py, applications.py, rounds.py (rounds and offers), seats.py (seats and
demand); pure rules in admission.py and distribution.py; every query in storage.py."""
from __future__ import annotations

import logging
import secrets
from pathlib import Path

from services.allocation import admission, handlers, storage
from services.allocation.applications import Applications
from services.allocation.catalogue_copy import CatalogueCopy
from services.allocation.rounds import RoundsAndOffers
from services.allocation.seats import SeatsAndDemand
from services.allocation.settings import AllocationSettings
from services.allocation.statistics import Statistics
from shared.events import Envelope
from shared.logs import correlation_id
from shared.outbox import OutboxRelay, add_events
from shared.service import BusService

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
PRODUCER = "allocation"


class AllocationService(CatalogueCopy, Applications, RoundsAndOffers, SeatsAndDemand, BusService):
    name = "allocation"
    migrations = MIGRATIONS

    def __init__(self, settings: AllocationSettings) -> None:
        super().__init__(settings)
        self.relay = OutboxRelay(self.engine, storage.outbox, self.bus, service=self.name, poll_s=settings.outbox_poll_s)
        self.policy = admission.PriorityPolicy(short_education=set(settings.priority_short_education),
                                               weak_position=set(settings.priority_weak_position))
        self.link_secret = b""
        self.statistics = Statistics(self.engine, settings.statistics_refresh_s)

    def register_handlers(self) -> None:
        handlers.register(self.bus, self)

    async def on_start(self) -> None:
        self.link_secret = await self._load_link_secret()
        self.spawn(self._offer_clock(), "allocation-offer-clock")
        self.relay.start()

    async def on_stop(self) -> None:
        await self.relay.stop()
        await self.statistics.stop()

    async def _load_link_secret(self) -> bytes:
        """LINK_SECRET if set, else one generated at first start and kept in the database (replicas share it)."""
        if self.settings.link_secret:
            return self.settings.link_secret.encode()
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-secret")
            value = await storage.secret(conn, "link")
            if value is None:
                value = secrets.token_hex(32)
                await storage.save_secret(conn, "link", value)
            return value.encode()

    async def _commit_events(self, conn, events: list[Envelope]) -> None:  # noqa: ANN001
        await add_events(conn, storage.outbox, events)

    def _ev(self, cls, payload) -> Envelope:  # noqa: ANN001
        return cls(producer=PRODUCER, correlation_id=correlation_id.get(), payload=payload)


__all__ = ["AllocationService"]
