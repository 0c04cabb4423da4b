"""The search service's HTTP API."""
from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from services.search.chat_api import add_chat_routes, add_security_headers, learner_text
from services.search.ranking import Filters
from services.search.service import SearchService
from shared.openapi import Api
from shared.http import ApiError, add_health_routes, json_response, make_middlewares, read_json_model

SERVICE = web.AppKey("service", SearchService)


class SearchRequest(BaseModel):
    text: str = Field(max_length=100_000)
    limit: int = Field(10, ge=1, le=50)
    filters: Filters = Field(default_factory=Filters)
    kinds: list[str] = Field(default_factory=lambda: ["course", "validation", "learning_centre"])

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = set(v) - {"course", "validation", "learning_centre"}
        if bad:
            raise ValueError(f"unknown kinds {sorted(bad)}; use course, validation, learning_centre")
        return v


def create_app(service: SearchService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("search"))
    app[SERVICE] = service
    add_health_routes(app, {"index": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten search and chat", "Matches a learner's own words to courses, validation "
              "offers and learning centres; the chat assistant and the counsellors' view.")
    api.route("POST", "/v1/search", search, "Courses, validation offers and learning centres for a text",
              body=SearchRequest, errors=(400, 422, 503), tags=("search",))
    api.route("GET", "/v1/index/digests", index_digests, "A digest of every document in this replica's index "
              "(to compare with the catalogue: `python -m services.search check-index`)", errors=(503,),
              tags=("operations",))
    add_chat_routes(api, service)
    add_security_headers(app)
    return app


async def search(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await read_json_model(request, SearchRequest)
    text, notice = learner_text(service, body.text, "text")
    out = await service.search(text, body.limit, body.filters, set(body.kinds))
    if notice:
        out["notice"] = notice
    return json_response(out)


async def index_digests(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.index is None:
        raise ApiError(503, "the search index is still loading")
    return json_response(service.index_digests())
