"""`python -m services.search embed-worker`: a process that only embeds texts from the shared queue
(embedding.py), e.g. on a GPU node; its HTTP port serves /healthz, /readyz and /metrics."""
from __future__ import annotations

import asyncio

from aiohttp import web

from services.search.embedder import Embedder
from services.search.embedding import EmbedWorker
from services.search.handlers import register_worker
from services.search.service import MIGRATIONS
from services.search.settings import SearchSettings
from shared.http import add_health_routes, make_middlewares
from shared.service import BusService


class EmbedWorkerService(BusService):
    name = "search"  # publishes as search, and shares search's table of vectors
    migrations = MIGRATIONS

    def __init__(self, settings: SearchSettings) -> None:
        super().__init__(settings)
        self.worker: EmbedWorker | None = None

    def register_handlers(self) -> None:
        register_worker(self.bus, lambda: self.worker)

    async def on_start(self) -> None:
        embedder = await asyncio.to_thread(Embedder, self.settings.embedding_model, self.settings.max_passage_tokens,
                                           "torch", self.settings.embed_device, self.settings.passage_backend)
        self.worker = EmbedWorker(self.engine, self.writer, self.bus, embedder)

    async def db_ready(self) -> bool:
        return self.worker is not None and await super().db_ready()


def create_worker_app(service: EmbedWorkerService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("search-embed-worker"))
    add_health_routes(app, {"database": service.db_ready, "broker": service.broker_ready})
    return app
