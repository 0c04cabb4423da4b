"""Seats and demand: distribution scenarios (distribution.py computes), adopting one as the occurrences'
capacities, and the demand per area and municipality (applications, offers, chat interest)."""
from __future__ import annotations

import uuid

import orjson

from services.allocation import storage
from services.allocation.distribution import DistributionInput, distribute, largest_remainder
from shared.events import ChatTurnPayload
from shared.outbox import claim_event
from shared.problems import Problem


class SeatsAndDemand:
    """Use cases of AllocationService (service.py gives engine and writer)."""

    async def compute_distribution(self, inp: DistributionInput, created_by: str) -> dict:
        result = distribute(inp).as_dict()
        dist_id = str(uuid.uuid4())
        async with self.writer.begin() as conn:
            await storage.add_distribution(conn, {
                "id": dist_id, "year": inp.year, "input": inp.model_dump_json(), "result": orjson.dumps(result).decode(),
                "status": "scenario", "created_by": created_by, "created_at": storage.now()})
        return {"distribution_id": dist_id, "status": "scenario", "year": inp.year, **result}

    async def get_distribution(self, dist_id: str) -> dict:
        async with self.engine.connect() as conn:
            r = await storage.distribution(conn, dist_id)
        if r is None:
            raise Problem(404, "no distribution with that id")
        return {"distribution_id": r.id, "status": r.status, "year": r.year, "created_by": r.created_by,
                "adopted_by": r.adopted_by,
                "adopted_at": storage.aware(r.adopted_at).isoformat() if r.adopted_at else None,
                **orjson.loads(r.result)}

    async def adopt_distribution(self, dist_id: str, adopted_by: str) -> dict:
        """Adopt a scenario: its places per municipality and area become the occurrences' capacities."""
        async with self.writer.begin() as conn:
            await storage.lock(conn, "allocation-distribution")
            r = await storage.distribution(conn, dist_id)
            if r is None:
                raise Problem(404, "no distribution with that id")
            if r.status == "adopted":
                raise Problem(409, f"already adopted by {r.adopted_by}")
            await storage.adopt(conn, dist_id, r.year, adopted_by)
            funded = 0
            for m in orjson.loads(r.result)["municipalities"]:
                for area, places in m["by_area"].items():
                    ids = await storage.active_occurrence_ids_in(conn, m["code"], area)
                    if ids:
                        # The area's places are shared evenly by the occurrences that area funds.
                        await storage.set_funded_places(conn, largest_remainder(places, {i: 1.0 for i in ids}))
                        funded += len(ids)
        return {"distribution_id": dist_id, "status": "adopted", "adopted_by": adopted_by,
                "occurrences_funded": funded}

    async def record_chat_turn(self, payload: ChatTurnPayload, event_id: str | None = None) -> None:
        async with self.writer.begin() as conn:
            if event_id and not await claim_event(conn, storage.inbox, "chat", event_id):
                return
            for area in set(payload.areas) or {"-"}:
                await storage.count_chat_turn(conn, area, payload.municipality_code or "-")

    async def demand(self) -> dict:
        table: dict[tuple[str, str], dict] = {}

        def cell(area, muni):  # noqa: ANN001, ANN202
            return table.setdefault((area or "-", muni or "-"), {"area": area or "-", "municipality_code": muni or "-",
                                                                 "applications": 0, "first_choices": 0, "offers": 0,
                                                                 "accepted": 0, "reserve": 0, "chat_turns": 0})

        async with self.engine.connect() as conn:
            applied, offered, chat = await storage.demand_rows(conn)
        for area, muni, n, first, reserve in applied:
            c = cell(area, muni)
            c["applications"], c["first_choices"], c["reserve"] = n, int(first or 0), reserve
        for area, muni, status, n in offered:
            c = cell(area, muni)
            c["offers"] += n
            if status == "accepted":
                c["accepted"] += n
        for area, muni, turns in chat:
            cell(area, muni)["chat_turns"] += turns
        return {"items": sorted(table.values(), key=lambda c: (c["area"], c["municipality_code"]))}
