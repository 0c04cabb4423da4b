"""The search service's message handlers: each replica its own queue on the catalogue's events and on
the vectors the embed workers announce; the workers share one queue of texts to embed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from services.search.embedding import EMBED_QUEUE
from shared.bus import Bus
from shared.events import Envelope, SearchEmbedRequested, SearchTextEmbedded

if TYPE_CHECKING:
    from services.search.service import SearchService

CATALOGUE_EVENTS = ["course.upserted", "course.withdrawn", "validation_offer.upserted", "validation_offer.withdrawn",
                    "learning_centre.upserted", "learning_centre.withdrawn"]


def register(bus: Bus, service: SearchService, instance: str, embed_worker: bool) -> None:
    # One queue per replica for both, so a vector and the documents waiting for it meet in order.
    @bus.subscribe(f"search.{instance}.catalogue", [*CATALOGUE_EVENTS, "search.text_embedded"])
    async def on_catalogue(event: Envelope) -> None:
        if isinstance(event, SearchTextEmbedded):
            await service.vector_arrived(event.payload)
        else:
            await service.on_event(event)

    if embed_worker:
        register_worker(bus, lambda: service.worker)


def register_worker(bus: Bus, worker) -> None:  # noqa: ANN001 - a callable giving the EmbedWorker once started
    @bus.subscribe(EMBED_QUEUE, ["search.embed_requested"])
    async def on_embed(event: SearchEmbedRequested) -> None:
        await worker().handle(event)
