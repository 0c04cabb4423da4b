"""Seats and demand: distribution scenarios (distribution.py computes), adopting one as the occurrences'
capacities, the region's needs analysis (needs.py reads it), the demand per area and municipality
(applications, offers, chat interest, where applicants live and study), the approval queue and reports."""
from __future__ import annotations

import uuid
from datetime import date

import orjson

from services.allocation import storage
from services.allocation.distribution import DistributionInput, distribute, largest_remainder
from services.allocation.needs import NeedsErrors, parse as parse_needs
from services.allocation.statistics import report as period_report
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
                "input": orjson.loads(r.input), **orjson.loads(r.result)}

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

    async def list_distributions(self, year: int | None) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await storage.distribution_rows(conn, year)
        return [{"distribution_id": r.id, "year": r.year, "status": r.status, "created_by": r.created_by,
                 "created_at": storage.aware(r.created_at).isoformat(), "adopted_by": r.adopted_by} for r in rows]

    async def import_needs(self, text: str, imported_by: str) -> dict:
        """Store a needs analysis read from CSV; a file with any bad line is refused whole (422)."""
        try:
            n = parse_needs(text)
        except NeedsErrors as exc:
            first = exc.errors[0]
            raise Problem(422, f"the needs analysis was not imported: {exc}", field=first["field"],
                          line=first["line"], errors=exc.errors) from None
        needs_id = str(uuid.uuid4())
        async with self.writer.begin() as conn:
            await storage.add_needs(conn, {
                "id": needs_id, "source": n.source, "year": n.year, "basis": n.basis,
                "rows": orjson.dumps(n.rows).decode(), "weights": orjson.dumps(n.weights).decode(),
                "imported_by": imported_by, "imported_at": storage.now()})
        return await self.needs()

    async def needs(self) -> dict:
        async with self.engine.connect() as conn:
            r = await storage.latest_needs(conn)
        if r is None:
            raise Problem(404, "no needs analysis has been imported yet")
        return {"needs_id": r.id, "source": r.source, "year": r.year, "basis": r.basis,
                "weights": orjson.loads(r.weights), "rows": orjson.loads(r.rows), "imported_by": r.imported_by,
                "imported_at": storage.aware(r.imported_at).isoformat()}

    async def pending_approvals(self, home: str | None, limit: int = 500) -> list[dict]:
        async with self.engine.connect() as conn:
            rows = await storage.pending_approvals(conn, home, limit)
        return [{"application_id": r.id, "reference": r.id[:8].upper(), "name": r.name,
                 "home_municipality": r.home_municipality, "priority_group": r.priority_group,
                 "applied_at": storage.aware(r.created_at).isoformat(), "rank": r.rank,
                 "occurrence_id": r.occurrence_id, "title": r.title, "municipality_code": r.municipality_code,
                 "start": r.start.isoformat() if r.start else None} for r in rows]

    async def report(self, since: date, until: date, municipality: str | None) -> dict:
        """Per study municipality and area within the period: places distributed (the adopted scenarios of
        the period's years), applications, offers, accepted and withdrawn (statistics.py)."""
        snap = await self.statistics.get()
        async with self.engine.connect() as conn:
            adopted = [(year, orjson.loads(result)) for year, result in await storage.adopted_results(conn)]
        return period_report(snap, adopted, since, until, municipality)

    async def demand(self, municipality: str | None = None) -> dict:
        """Demand per area and municipality, and where applicants live and study; with `municipality`,
        only what concerns it."""
        snap = await self.statistics.get()
        items, flows = snap.demand, snap.flows
        if municipality:
            items = [c for c in items if c["municipality_code"] == municipality]
            flows = [f for f in flows if municipality in (f["home"], f["study"])]
        return {"as_of": snap.as_of.isoformat(), "items": items, "flows": flows}
