"""Operators' routes every bus service has: its parked messages (count, reasons) and replaying them.

The same as the `parked list|replay` command line, over HTTP, so the staff console can show them.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, Field

from shared.http import json_response
from shared.problems import Problem


class ParkedMessage(BaseModel):
    message_id: str
    type: str
    reason: str
    moved_at: str
    producer: str


class ParkedQueue(BaseModel):
    queue: str
    parking: str
    count: int
    messages: list[ParkedMessage] = Field(description="the first 20, in order; the count may be more")


class ParkedQueues(BaseModel):
    items: list[ParkedQueue]


class Replayed(BaseModel):
    queue: str
    replayed: int


def add_parked_routes(api, bus, operator: Callable[[web.Request], Awaitable[object]]) -> None:  # noqa: ANN001
    """GET /v1/parked and POST /v1/parked/{queue}/replay, for callers `operator` lets through."""

    def known(request: web.Request) -> str:
        queue = request.match_info["queue"]
        queues = [s.queue for s in bus.subscriptions]
        if queue not in queues:
            raise Problem(404, f"no queue {queue!r} here; this service's queues: {', '.join(queues)}")
        return queue

    async def list_parked(request: web.Request) -> web.Response:
        await operator(request)
        try:
            return json_response({"items": [await bus.parked(s.queue) for s in bus.subscriptions]})
        except RuntimeError:
            raise Problem(503, "not connected to the broker yet; try again shortly") from None

    async def replay(request: web.Request) -> web.Response:
        await operator(request)
        queue = known(request)
        try:
            return json_response({"queue": queue, "replayed": await bus.replay_parked(queue)})
        except RuntimeError:
            raise Problem(503, "not connected to the broker yet; try again shortly") from None

    api.route("GET", "/v1/parked", list_parked, "Parked messages per queue, with their reasons (operators)",
              response=ParkedQueues, auth=("bearer",), errors=(403, 503), tags=("operations",))
    api.route("POST", "/v1/parked/{queue}/replay", replay, "Move a queue's parked messages back (operators)",
              response=Replayed, auth=("bearer",), errors=(403, 404, 503), tags=("operations",))
