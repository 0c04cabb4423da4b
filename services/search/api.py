"""The search service's HTTP API: search, reading a text, and what the index holds."""
from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from services.search import understanding
from services.search.ranking import Filters
from services.search.service import SearchService
from shared.events import Lang
from shared.openapi import Api
from shared.http import add_health_routes, json_response, learner_text, make_middlewares, read_json_model
from shared.problems import Problem

SERVICE = web.AppKey("service", SearchService)


class SearchRequest(BaseModel):
    text: str = Field(max_length=100_000)
    limit: int = Field(10, ge=1, le=50)
    filters: Filters = Field(default_factory=Filters)
    kinds: list[str] = Field(default_factory=lambda: ["course", "validation", "learning_centre"])
    understand: bool = Field(True, description="Also return what the text says (`understood`)")
    lang: Lang | None = Field(None, description="The language of `understood.summary`; default: the text's")
    worked: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(
        default_factory=list, max_length=20,
        description="SSYK-4 groups the learner has worked in (as a conversation knows them): their validation "
                    "offers come first whatever the filters, marked `elsewhere` with `distance_km` when not in "
                    "the home municipality")
    wanted: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(
        default_factory=list, max_length=20,
        description="SSYK-4 groups the learner wants to work in: a validation offer for one of them also credits "
                    "work in a neighbouring group (a care assistant who wants to become an assistant nurse)")

    path: bool = Field(False, description="A learner's path: a course that builds on an earlier one of its subject "
                                          "comes with that one just before it (`before`), when offered")

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = set(v) - {"course", "validation", "learning_centre"}
        if bad:
            raise ValueError(f"unknown kinds {sorted(bad)}; use course, validation, learning_centre")
        return v


class UnderstandRequest(BaseModel):
    text: str = Field(max_length=100_000)
    lang: Lang | None = Field(None, description="The language expected (a conversation's): a text too short "
                                                "to tell is read as this one")


class OccurrencesRequest(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=50)


# --- what the answers look like (documented in /openapi.json) ---

class Job(BaseModel):
    occupation: str = Field(description="as the text named it")
    ssyk4: str
    years: int | None = None


class Understood(BaseModel):
    lang: str = Field(description="the text's language (or the one asked for when the text is too short to tell)")
    occupations: list[dict] = Field(description="JobTech occupations named: occupation, named, ssyk4, group, role "
                                                "(experience | goal)")
    experience: list[Job]
    goals: list[Job]
    years: int | None = Field(description="years of experience named in the text")
    skills: list[str] = Field(description="JobTech skills named")
    summary: str = Field(description="what was understood, in words a counsellor can read aloud")


class Result(BaseModel, extra="allow"):
    kind: Literal["course", "validation", "learning_centre"]
    id: str
    title: str | None
    score: float
    why: list[str] = Field(description="the text's words the document shares")
    occurrences: list[dict] | None = Field(None, description="courses: where and when, those fitting the filters")
    more_occurrences: int | None = None
    learning_centre: dict | None = Field(None, description="distance courses: the centre nearest the home")
    fit: Literal["strong", "partial"] | None = Field(None, description="how well it matches: null below the "
                                                     "calibrated floor (the closest there is, not a match)")
    before: str | None = Field(None, description="with `path`: the course code this course leads to")


class SearchAnswer(BaseModel):
    results: list[Result]
    understood: Understood | None = Field(None, description="absent when `understand` is false")
    took_ms: float
    notice: str | None = Field(None, description="the text was cut")


class UnderstandAnswer(BaseModel):
    understood: Understood
    notice: str | None = None


class KnownOccurrences(BaseModel):
    known: list[str]


class Digests(BaseModel):
    documents: dict[str, str] = Field(description='"kind:id" -> digest of the document held')
    unembedded: list[str] = Field(description="documents whose vector is not (yet) in the index")


def create_app(service: SearchService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("search"))
    app[SERVICE] = service
    add_health_routes(app, {"index": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten search", "Matches a learner's own words to courses, validation offers and "
              "learning centres, and reads what a text says about its writer.")
    api.route("POST", "/v1/search", search, "Courses, validation offers and learning centres for a text",
              body=SearchRequest, response=SearchAnswer, errors=(400, 422, 503), tags=("search",))
    api.route("POST", "/v1/understand", understand, "What a text says about its writer: language, occupations "
              "worked in and wanted (SSYK-4), years, skills, and a summary", body=UnderstandRequest,
              response=UnderstandAnswer, errors=(400, 422), tags=("search",))
    api.route("POST", "/v1/occurrences/known", known_occurrences, "Which of these course occurrences the "
              "catalogue offers", body=OccurrencesRequest, response=KnownOccurrences, errors=(422, 503),
              tags=("search",))
    api.route("GET", "/v1/index/digests", index_digests, "A digest of every document in this replica's index "
              "(to compare with the catalogue: `python -m services.search check-index`)", response=Digests,
              errors=(503,), tags=("operations",))
    # The chat pages moved to the guidance service: old links and bookmarks still arrive.
    for path in ("/", "/counsellor"):
        api.route("GET", path, moved, "Moved to the guidance service", status=308, response_type="text/html",
                  errors=(), tags=("pages",))
    return app


def _loaded(service: SearchService) -> None:
    if service.index is None or service.embedder is None:
        raise Problem(503, "the search index is still loading; try again in a moment")


async def search(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await read_json_model(request, SearchRequest)
    text, notice = learner_text(body.text, "text", service.settings.max_query_chars)
    _loaded(service)
    out = await service.search(text, body.limit, body.filters, set(body.kinds), body.understand, body.lang,
                               frozenset(body.worked), frozenset(body.wanted), body.path)
    if notice:
        out["notice"] = notice
    return json_response(out)


async def understand(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await read_json_model(request, UnderstandRequest)
    text, notice = learner_text(body.text, "text", service.settings.max_query_chars)
    lang = understanding.detect_language(text, body.lang)
    out = {"understood": understanding.read(text, lang)}
    if notice:
        out["notice"] = notice
    return json_response(out)


async def known_occurrences(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await read_json_model(request, OccurrencesRequest)
    _loaded(service)
    return json_response({"known": service.known_occurrences(body.ids)})


async def moved(request: web.Request) -> web.Response:
    target = request.app[SERVICE].settings.guidance_url.rstrip("/") + request.path
    raise web.HTTPPermanentRedirect(target)


async def index_digests(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if service.index is None:
        raise Problem(503, "the search index is still loading")
    return json_response(service.index_digests())
