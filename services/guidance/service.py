"""The guidance service: learners' conversations with the assistant, counsellors, plans and applying.

It keeps the conversations (its own database and outbox) and asks the search service, over HTTP,
what a message says and which courses fit; it holds no index and no model.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from services.guidance import handlers, storage
from services.guidance.conversations import Chat
from services.guidance.search_client import SearchClient
from services.guidance.settings import GuidanceSettings
from shared.outbox import OutboxRelay
from shared.service import BusService

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class GuidanceService(BusService):
    name = "guidance"
    migrations = MIGRATIONS

    def __init__(self, settings: GuidanceSettings) -> None:
        super().__init__(settings)
        self.relay = OutboxRelay(self.engine, storage.outbox, self.bus, service=self.name, poll_s=settings.outbox_poll_s)
        self.search = SearchClient(settings.search_url, settings.search_timeout_s)
        self.chat = Chat(self.engine, self.writer, self.relay, self.search,
                         retention_days=settings.chat_retention_days, login_hours=settings.counsellor_login_hours)

    def register_handlers(self) -> None:
        handlers.register(self.bus, self.chat)

    async def on_start(self) -> None:
        self.spawn(self._purge_forever(), "chat-retention")
        self.relay.start()

    async def on_stop(self) -> None:
        await self.relay.stop()
        await self.search.close()

    async def _purge_forever(self) -> None:
        while True:
            try:
                n = await self.chat.purge_expired()
                if n:
                    log.info("deleted %d conversations past the retention period", n)
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("deleting expired conversations failed")
            await asyncio.sleep(min(3600.0, self.settings.chat_retention_days * 86400 / 4))
