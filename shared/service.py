"""What every service process shares: a database, the bus, background tasks, start and stop.

A service subclasses `BusService`, registers its handlers in `on_start` and adds its own use
cases (nameko-style: a small class whose dependencies are attributes).
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Coroutine

from shared.bus import Bus
from shared.config import ServiceSettings
from shared.db import Writer, make_engine, migrate, ping

log = logging.getLogger(__name__)


class BusService:
    name: str = "service"
    migrations: Path | None = None  # None: the service keeps no relational data

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url())
        self.writer = Writer(self.engine)
        self.bus = Bus(settings.broker_url(), producer=self.name, exchange=settings.events_exchange,
                       queue_prefix=settings.queue_prefix, retry_delays_s=settings.retry_delays_s,
                       prefetch=settings.consumer_prefetch)
        self._tasks: list[asyncio.Task] = []

    def register_handlers(self) -> None:
        """Subscribe the service's message handlers on self.bus (the CLI's `parked` uses it too)."""

    async def start(self) -> None:
        if self.migrations is not None:
            await migrate(self.engine, self.migrations, f"alembic_version_{self.name}")
        self.register_handlers()
        await self.on_start()
        # The broker may be away at start; the service still serves, and connects when it can.
        self.spawn(self._bus_up(), f"{self.name}-bus")

    async def on_start(self) -> None:
        """Register handlers, start background work."""

    async def on_stop(self) -> None:
        """Stop what on_start started (before the bus and database close)."""

    def spawn(self, coro: Coroutine, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def _bus_up(self) -> None:
        await self.bus.connect()
        if self.bus.subscriptions:
            await self.bus.start_consuming()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.wait(self._tasks, timeout=10) if self._tasks else None
        try:
            await asyncio.wait_for(self.on_stop(), 15)
        except asyncio.TimeoutError:
            log.warning("%s: stopping its background work took too long; stopping anyway", self.name)
        await self.bus.close()
        await self.engine.dispose()

    async def db_ready(self) -> bool:
        return await ping(self.engine)

    async def broker_ready(self) -> bool:
        return self.bus.connected and (self.bus.consuming or not self.bus.subscriptions)
