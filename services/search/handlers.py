"""The search service's message handlers: each replica its own queue on the catalogue's events."""
from __future__ import annotations

from typing import TYPE_CHECKING

from shared.bus import Bus
from shared.events import Envelope

if TYPE_CHECKING:
    from services.search.service import SearchService

CATALOGUE_EVENTS = ["course.upserted", "course.withdrawn", "validation_offer.upserted", "validation_offer.withdrawn",
                    "learning_centre.upserted", "learning_centre.withdrawn"]


def register(bus: Bus, service: SearchService, instance: str) -> None:
    @bus.subscribe(f"search.{instance}.catalogue", CATALOGUE_EVENTS)
    async def on_catalogue(event: Envelope) -> None:
        await service.on_event(event)
