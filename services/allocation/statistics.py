"""Figures for the staff's demand and report pages, from a snapshot of the whole year.

Counting 100,000 applications' choices takes about half a second on SQLite, too long for every page
view, so the figures are counted at most every `refresh_s` seconds: the first request waits for the
count, later ones get the last snapshot at once (it says when it was counted, `as_of`) while a newer
one is counted in the background. `refresh_s` 0 counts on every request. The report for any period
is summed from per-day counts, so a period needs no count of its own.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from services.allocation import storage


@dataclass
class Snapshot:
    as_of: datetime
    demand: list[dict]
    flows: list[dict]
    days: dict[tuple[str, str, str], dict] = field(default_factory=dict)  # (muni, area, day) -> counts


def demand_items(applied: list, offered: list, chat: list) -> list[dict]:
    """Rows of choices, offers and chat turns per (area, municipality) as one list of cells (pure)."""
    table: dict[tuple[str, str], dict] = {}

    def cell(area, muni):  # noqa: ANN001, ANN202
        return table.setdefault((area or "-", muni or "-"), {
            "area": area or "-", "municipality_code": muni or "-", "applications": 0, "first_choices": 0,
            "offers": 0, "accepted": 0, "reserve": 0, "chat_turns": 0})

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
    return sorted(table.values(), key=lambda c: (c["area"], c["municipality_code"]))


def day_counts(applied: list, offered: list) -> dict[tuple[str, str, str], dict]:
    """Per (study municipality, area, day): applications and withdrawn choices by the day the application
    was confirmed, offers and their outcome by the day they were made (pure)."""
    days: dict[tuple[str, str, str], dict] = {}

    def cell(muni, area, day):  # noqa: ANN001, ANN202
        return days.setdefault((muni or "-", area or "-", str(day)[:10]), {
            "applications": 0, "offers": 0, "accepted": 0, "withdrawn": 0})

    for area, muni, day, n, withdrawn in applied:
        c = cell(muni, area, day)
        c["applications"] += n
        c["withdrawn"] += int(withdrawn or 0)
    for area, muni, day, status, n in offered:
        c = cell(muni, area, day)
        c["offers"] += n
        if status == "accepted":
            c["accepted"] += n
        elif status == "withdrawn":
            c["withdrawn"] += n
    return days


def report(snapshot: Snapshot, adopted: list[dict], since: date, until: date, municipality: str | None) -> dict:
    """Per study municipality and area in [since, until]: places (adopted scenarios of the period's years),
    applications, offers, accepted and withdrawn (pure)."""
    table: dict[tuple[str, str], dict] = {}

    def cell(muni, area):  # noqa: ANN001, ANN202
        return table.setdefault((muni, area), {"municipality_code": muni, "area": area, "places": 0,
                                               "applications": 0, "offers": 0, "accepted": 0, "withdrawn": 0})

    for year, result in adopted:
        if since.year <= year <= until.year:
            for m in result["municipalities"]:
                for area, places in m["by_area"].items():
                    cell(m["code"], area)["places"] += places
    lo, hi = since.isoformat(), until.isoformat()
    for (muni, area, day), counts in snapshot.days.items():
        if lo <= day <= hi:
            c = cell(muni, area)
            for k, v in counts.items():
                c[k] += v
    items = [c for _, c in sorted(table.items()) if not municipality or c["municipality_code"] == municipality]
    return {"from": lo, "to": hi, "as_of": snapshot.as_of.isoformat(), "items": items}


class Statistics:
    def __init__(self, engine, refresh_s: float) -> None:  # noqa: ANN001
        self.engine, self.refresh_s = engine, refresh_s
        self.snapshot: Snapshot | None = None
        self._counted_at = 0.0
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task | None = None

    async def get(self) -> Snapshot:
        if self.snapshot is None or self.refresh_s <= 0:
            return await self._count()
        if time.monotonic() - self._counted_at > self.refresh_s and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._count())
        return self.snapshot

    async def _count(self) -> Snapshot:
        async with self._lock:
            if self.snapshot is not None and self.refresh_s > 0 and \
                    time.monotonic() - self._counted_at <= self.refresh_s:
                return self.snapshot  # counted while this one waited for the lock
            started = time.monotonic()
            async with self.engine.connect() as conn:
                applied, offered, chat = await storage.demand_rows(conn)
                flows = await storage.home_study_flows(conn)
                days_applied, days_offered = await storage.report_days(conn)
            self.snapshot = Snapshot(
                as_of=datetime.now(timezone.utc), demand=demand_items(applied, offered, chat),
                flows=[{"home": h, "study": s, "applications": n} for h, s, n in sorted(flows)],
                days=day_counts(days_applied, days_offered))
            self._counted_at = started
            return self.snapshot

    async def stop(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
