"""The catalogue's HTTP API: feed pushes (authenticated) and the public read side."""
from __future__ import annotations

from datetime import datetime, timezone

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.catalogue import storage
from services.catalogue.auth import STAFF_ROLES, may_push, may_read_feeds
from services.catalogue.service import CatalogueService
from shared.tokens import STAFF_HEADER, Caller, authenticate
from shared.http import (
    RateLimit, add_health_routes, json_response, make_middlewares, query_flag, read_body, read_query,
)
from shared.problems import Problem
from shared.events import CourseDoc
from shared.openapi import Api
from shared.reference import municipalities

FEED_TYPES = {"application/json": "json", "text/csv": "csv", "application/csv": "csv"}
FORMATS = {"emil3", "planned", "csv"}
SERVICE = web.AppKey("service", CatalogueService)
PUSH_LIMIT = web.AppKey("push_limit", RateLimit)
FEED_SCHEMA = {"type": "object", "description": "EMIL3 (Susa-navet) or Planned Educations JSON; CSV per "
               "docs/feed-csv-template.md", "additionalProperties": True}


class PushQuery(BaseModel):
    format: Literal["emil3", "planned", "csv"] | None = Field(None, description="the feed's format; default: detected")
    confirm_withdrawals: bool = Field(False, description="allow a snapshot to withdraw more than half the records")


class FeedsQuery(BaseModel):
    municipality: str = Field(min_length=4, max_length=4, description="the municipality's SCB code")
    limit: int = Field(20, ge=1, le=200)


class FeedReport(BaseModel):
    model_config = ConfigDict(extra="allow")
    feed_id: str | None = None
    status: str | None = None


class CourseQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, description="the `next` of the previous page")
    municipality: str | None = Field(None, pattern=r"^\d{4}$")
    school_type: str | None = None
    text: str | None = Field(None, description="words in the title or description")
    updated_since: datetime | None = None
    status: Literal["active", "withdrawn", "all"] = "active"


class MunicipalityQuery(BaseModel):
    municipality: str | None = Field(None, pattern=r"^\d{4}$")


class CourseView(CourseDoc):
    status: Literal["active", "withdrawn"]
    updated_at: str


class Page(BaseModel):
    items: list[dict]
    total: int
    next: str | None


def create_app(service: CatalogueService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("catalogue"),
                          client_max_size=service.settings.feed_max_bytes)
    app[SERVICE] = service
    app[PUSH_LIMIT] = RateLimit(service.settings.feed_rate_per_minute)
    add_health_routes(app, {"database": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten catalogue", "Municipal course feeds in, the county's courses, validation "
              "offers and learning centres out.")
    feed_meta = dict(body=FEED_SCHEMA, body_types=("application/json", "text/csv"), query=PushQuery,
                     response=FeedReport, auth=("bearer",), errors=(400, 403, 404, 409, 422, 429), tags=("feeds",))
    api.route("PUT", "/v1/feeds/{municipality}", push_snapshot, "Replace a municipality's whole feed", **feed_meta)
    api.route("PATCH", "/v1/feeds/{municipality}", push_delta, "Add or change some of a municipality's records",
              **feed_meta)
    api.route("GET", "/v1/feeds", list_feeds, "A municipality's pushes, newest first, with their reports (its "
              "staff or the region)", query=FeedsQuery, response=Page, auth=("bearer",), errors=(400, 401, 403),
              tags=("feeds",))
    api.route("GET", "/v1/feeds/{feed_id}", get_feed, "The report of one feed push", response=FeedReport,
              errors=(404,), tags=("feeds",))
    api.route("GET", "/v1/courses", list_courses, "Courses with their occurrences, filtered and paged",
              query=CourseQuery, response=Page, tags=("read",))
    api.route("GET", "/v1/courses/{course_id}", get_course, "One course", response=CourseView, errors=(404,),
              tags=("read",))
    api.route("GET", "/v1/validation-offers", list_validation_offers, "Validation offers", query=MunicipalityQuery,
              response=Page, tags=("read",))
    api.route("GET", "/v1/learning-centres", list_learning_centres, "Learning centres", query=MunicipalityQuery,
              response=Page, tags=("read",))
    api.route("GET", "/v1/municipalities", list_municipalities, "The 15 municipalities and their feeds' state",
              response=Page, errors=(), tags=("read",))
    return app


async def push_snapshot(request: web.Request) -> web.Response:
    return await _push(request, "snapshot")


async def push_delta(request: web.Request) -> web.Response:
    return await _push(request, "delta")


async def _caller(request: web.Request) -> Caller:
    async with request.app[SERVICE].engine.connect() as conn:
        caller = await authenticate(conn, storage.api_tokens, request.headers.get("Authorization"),
                                    staff=request.headers.get(STAFF_HEADER), staff_roles=STAFF_ROLES)
    if caller is None:
        raise Problem(401, "missing, unknown or revoked API token; send `Authorization: Bearer <token>`")
    return caller


async def list_feeds(request: web.Request) -> web.Response:
    caller = await _caller(request)
    q = read_query(request, FeedsQuery)
    if q.municipality not in municipalities():
        raise Problem(400, f"unknown municipality code {q.municipality!r}", field="municipality")
    if not may_read_feeds(caller, q.municipality):
        raise Problem(403, f"this caller may see only municipality {caller.scope}'s feeds, not {q.municipality}'s")
    async with request.app[SERVICE].engine.connect() as conn:
        items = await storage.list_feeds(conn, q.municipality, q.limit)
    return json_response({"items": items, "total": len(items), "next": None})


async def _push(request: web.Request, mode: str) -> web.Response:
    service = request.app[SERVICE]
    caller = await _caller(request)
    request.app[PUSH_LIMIT].check(f"token:{caller.token_id}")
    code = request.match_info["municipality"]
    if code not in municipalities():
        raise Problem(404, f"unknown municipality code {code!r}; use one of Västerbotten's SCB codes, "
                            + ", ".join(sorted(municipalities())))
    if not may_push(caller, code):
        raise Problem(403, f"this token may push only municipality {caller.scope}'s feed, not {code}'s")
    kind = FEED_TYPES.get(request.content_type)
    if kind is None:
        raise Problem(415, f"unsupported Content-Type {request.content_type!r}; send application/json "
                            "(EMIL3 or Planned Educations) or text/csv")
    fmt = request.query.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise Problem(400, f"unknown format {fmt!r}; use one of {sorted(FORMATS)} or leave it out")
    if fmt is not None and (fmt == "csv") != (kind == "csv"):
        raise Problem(415, f"format {fmt} does not match Content-Type {request.content_type}")
    limit = service.settings.feed_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"the feed is {request.content_length} bytes; the limit is {limit} bytes")
    body = await read_body(request, limit, timeout_s=120)  # a feed of megabytes from a slow municipal link
    if not body.strip():
        raise Problem(400, "the request body is empty; send the feed in the body")
    confirm = query_flag(request, "confirm_withdrawals")
    return json_response(await service.ingest(municipality=code, body=body, content_type=request.content_type,
                                              mode=mode, fmt=fmt, confirm=confirm, caller=caller))


async def get_feed(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    async with service.engine.connect() as conn:
        report = await storage.get_feed(conn, request.match_info["feed_id"])
    if report is None:
        raise Problem(404, "no feed with that id")
    return json_response(report)


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(400, f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise Problem(400, f"{name} must be between {lo} and {hi}, got {value}")
    return value


async def list_courses(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    q = request.query
    limit = _int(request, "limit", 50, 1, 500)
    since = None
    if q.get("updated_since"):
        try:
            since = datetime.fromisoformat(q["updated_since"].replace("Z", "+00:00"))
        except ValueError:
            raise Problem(400, f"updated_since must be an ISO 8601 time, got {q['updated_since']!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
    status = q.get("status", "active")
    if status not in ("active", "withdrawn", "all"):
        raise Problem(400, "status must be active, withdrawn or all")
    municipality = q.get("municipality")
    if municipality and municipality not in municipalities():
        raise Problem(400, f"unknown municipality code {municipality!r}")
    after = None
    if q.get("cursor"):
        try:
            after = storage.decode_cursor(q["cursor"])
        except Exception:  # noqa: BLE001
            raise Problem(400, "cursor is not one this API gave out; start again without it") from None
    async with service.engine.connect() as conn:
        items, total, nxt = await storage.list_courses(
            conn, municipality=municipality, school_type=q.get("school_type"), text_query=q.get("text"),
            updated_since=since, status=status, after=after, limit=limit,
        )
    return json_response({"items": items, "total": total, "next": nxt})


async def get_course(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    async with service.engine.connect() as conn:
        course = await storage.get_course(conn, request.match_info["course_id"])
    if course is None:
        raise Problem(404, "no course with that id")
    return json_response(course)


async def _list_records(request: web.Request, kind: str) -> web.Response:
    municipality = request.query.get("municipality")
    if municipality and municipality not in municipalities():
        raise Problem(400, f"unknown municipality code {municipality!r}")
    async with request.app[SERVICE].engine.connect() as conn:
        items = await storage.list_records(conn, kind, municipality)
    return json_response({"items": items, "total": len(items), "next": None})


async def list_validation_offers(request: web.Request) -> web.Response:
    return await _list_records(request, "validation_offer")


async def list_learning_centres(request: web.Request) -> web.Response:
    return await _list_records(request, "learning_centre")


async def list_municipalities(request: web.Request) -> web.Response:
    async with request.app[SERVICE].engine.connect() as conn:
        stats = await storage.municipality_stats(conn)
    items = []
    for code, m in sorted(municipalities().items()):
        s = stats.get(code, {})
        last = s.get("last_feed_at")
        items.append({
            "code": code, "name": m.name,
            "last_feed_at": storage.iso(last),
            "courses": s.get("course", 0), "occurrences": s.get("occurrence", 0),
            "validation_offers": s.get("validation_offer", 0), "learning_centres": s.get("learning_centre", 0),
        })
    return json_response({"items": items, "total": len(items), "next": None})
