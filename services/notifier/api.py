"""The notifier's HTTP API: deliveries for operators, and resending a failed one."""
from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from services.notifier import storage
from services.notifier.service import NotifierService
from shared.openapi import Api
from shared.http import add_health_routes, json_response, make_middlewares, require_role
from shared.operations import add_parked_routes
from shared.problems import Problem

SERVICE = web.AppKey("service", NotifierService)
STATUSES = ("pending", "sending", "sent", "retry", "failed", "cancelled")
MAX_ID = 2**63  # ids are 64-bit integers


class DeliveryQuery(BaseModel):
    status: Literal["pending", "sending", "sent", "retry", "failed", "cancelled"] | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: int | None = Field(None, ge=0, lt=MAX_ID, description="the `next` of the previous page")


class Delivery(BaseModel, extra="allow"):
    id: int
    status: Literal["pending", "sending", "sent", "retry", "failed", "cancelled"]
    template: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None


class Deliveries(BaseModel):
    items: list[Delivery]
    total: int
    next: str | None = Field(description="the cursor of the next page")


class Resent(BaseModel):
    id: int
    status: Literal["pending"]


def create_app(service: NotifierService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("notifier"))
    app[SERVICE] = service
    add_health_routes(app, {"database": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten notifier", "E-mails to applicants and learners: what was sent, and resending.")
    api.route("GET", "/v1/deliveries", list_deliveries, "E-mail deliveries, newest last, paged", query=DeliveryQuery,
              response=Deliveries, auth=("bearer",), errors=(400, 403), tags=("operators",))
    api.route("POST", "/v1/deliveries/{id}/resend", resend, "Send a failed or cancelled e-mail again",
              response=Resent, auth=("bearer",), errors=(403, 404, 409), tags=("operators",))
    add_parked_routes(api, service.bus, operator)
    return app


STAFF_ROLES = {"operator": "operator"}  # what a console user is here


async def operator(request: web.Request) -> None:
    await require_role(request, request.app[SERVICE].engine, storage.api_tokens, "operator", STAFF_ROLES)


async def list_deliveries(request: web.Request) -> web.Response:
    await operator(request)
    status = request.query.get("status")
    if status and status not in STATUSES:
        raise Problem(400, f"status must be one of {', '.join(STATUSES)}")
    try:
        limit = int(request.query.get("limit", "100"))
        after = int(request.query["cursor"]) if request.query.get("cursor") else None
    except ValueError:
        raise Problem(400, "limit and cursor must be whole numbers") from None
    if not 1 <= limit <= 1000:
        raise Problem(400, "limit must be between 1 and 1000")
    if after is not None and not 0 <= after < MAX_ID:
        raise Problem(400, "cursor is not one this API gave out; start again without it")
    return json_response(await request.app[SERVICE].list_deliveries(status, limit, after))


async def resend(request: web.Request) -> web.Response:
    await operator(request)
    try:
        delivery_id = int(request.match_info["id"])
    except ValueError:
        raise Problem(404, "no delivery with that id") from None
    if not 0 < delivery_id < MAX_ID:  # beyond a database integer: there is no such row
        raise Problem(404, "no delivery with that id")
    return json_response(await request.app[SERVICE].resend(delivery_id))
