"""The guidance service's HTTP API and its web pages: learners (by their secret session id) and counsellors
(signed in).

A learner's session id is a secret: it travels in the JSON body or the `X-Chat-Session` header,
never in a URL path or query, so it stays out of access logs; the page keeps it in the URL fragment.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from services.guidance import storage
from services.guidance.conversations import Counsellor
from services.guidance.service import GuidanceService
from shared.events import NAME_PATTERN, ApplicantFacts, Lang
from shared.openapi import Api
from shared.operations import add_parked_routes
from shared.http import (
    RateLimit, add_health_routes, client_address, json_response, learner_text, make_middlewares, read_json_model,
    require_role,
)
from shared.problems import Problem
from shared.reference import municipalities

WEB = Path(__file__).parent / "web"
COOKIE = "vux_counsellor"
SECURITY_HEADERS = {
    # Feed texts are untrusted: nothing inline may run, only this page's own script.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ChatRequest(BaseModel):
    session_id: str | None = Field(None, min_length=16, max_length=100)
    message: str = Field(max_length=100_000)
    lang: Lang | None = None


class MarkRequest(BaseModel):
    session_id: str | None = Field(None, min_length=16, max_length=100, description="or the X-Chat-Session header")
    result_id: str = Field(min_length=1, max_length=200)
    mark: Literal["saved", "hidden"] | None


class ApplyRequest(BaseModel):
    session_id: str | None = Field(None, min_length=16, max_length=100, description="or the X-Chat-Session header")
    submission_id: str | None = Field(None, min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")
    applicant: ApplicantFacts
    choices: list[str] = Field(min_length=1, max_length=5)
    consent: StrictBool  # "yes" or 1 is not consent: only a JSON true


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class OpenRequest(BaseModel):
    code: str = Field(min_length=8, max_length=12)


class CounsellorMarkRequest(BaseModel):
    result_id: str = Field(min_length=1, max_length=200)
    mark: Literal["pinned", "removed"] | None


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class CatalogueSearchRequest(BaseModel):
    text: str = Field(min_length=2, max_length=500, description="what to look for in the county's catalogue")


class AdditionRequest(BaseModel):
    text: str = Field(min_length=2, max_length=500, description="the search that found the result")
    result_id: str = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=500, description="why, for the learner to read")


class CatalogueResults(BaseModel):
    results: list[dict] = Field(description="courses and validation offers, best first (search's results)")


# --- what the answers look like (documented in /openapi.json) ---

class Understood(BaseModel, extra="allow"):
    experience: list[dict] = Field(description="{occupation, ssyk4, years}")
    goals: list[dict] = Field(description="{occupation, ssyk4, years}")
    skills: list[str]
    home_municipality: dict | None = Field(description="{code, name}")
    constraints: dict = Field(description="distance, can_move, travel, pace, start, swedish: those known")
    education: Literal["none", "compulsory", "upper_secondary", "post_secondary"] | None = Field(
        None, description="highest completed education, in Sweden or abroad")
    facts: list[str]
    summary: str = Field(description="in the conversation's language")


class Suggestion(BaseModel, extra="allow"):
    kind: Literal["course", "validation", "learning_centre"]
    id: str
    title: str | None
    explanation: str = Field(description="why, in the conversation's language")
    mark: str | None = None
    step: int | None = Field(None, description="its place in the learner's path: validation, Swedish at the level "
                                               "needed, then courses, a course before the one that builds on it")
    fit: Literal["strong", "partial"] | None = Field(None, description="how well it matches the learner")
    closest: bool | None = Field(None, description="true: nothing fits; this is only the closest the county has")


class TurnAnswer(BaseModel):
    session_id: str = Field(description="the conversation's secret: keep it, send it with the next turn")
    code: str = Field(description="what the learner reads out to a counsellor")
    lang: str
    dir: Literal["ltr", "rtl"]
    reply: str
    question: str | None
    quick_replies: list[dict] = Field(default_factory=list, description="buttons that answer the question: "
                                      "{label (in the learner's language), message (to send as the answer)}")
    understood: Understood
    suggestions: list[Suggestion]
    fit: Literal["good", "weak", "none"] = Field(description="how well the suggestions fit: good (a strong match), "
                                                "weak (partial matches only) or none (only the closest are shown)")
    degraded: bool | None = Field(None, description="true when search could not be reached")
    notice: str | None = None


class ConversationView(BaseModel, extra="allow"):
    code: str
    lang: str
    dir: str
    understood: Understood
    transcript: list[dict] = Field(description="{role, text, at}")
    suggestions: list[Suggestion]
    marks: dict[str, dict]
    applications: list[dict] = Field(description="{submission_id, status, application_id, reason}")
    updated_at: str
    notes: list[dict] | None = Field(None, description="counsellors only: {counsellor, text, at}")


class MarkAnswer(BaseModel):
    result_id: str
    mark: str | None


class ApplyAnswer(BaseModel):
    submission_id: str
    status: str
    application_id: str | None
    duplicate: bool | None = None


class Deleted(BaseModel):
    deleted: bool


class SignedIn(BaseModel):
    username: str
    name: str | None = None


class SignedOut(BaseModel):
    signed_out: bool


class SessionList(BaseModel):
    items: list[dict] = Field(description="{code, lang, updated_at, opened_at}")


class NoteAnswer(BaseModel):
    counsellor: str
    text: str


class SummaryAnswer(BaseModel):
    sent_to: str
    items: int


class Municipalities(BaseModel):
    items: list[dict] = Field(description="{code, name}")


class SummaryRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    note: str | None = Field(None, max_length=4000)
    lang: Lang | None = None


SERVICE = web.AppKey("service", GuidanceService)


def create_app(service: GuidanceService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("guidance"))
    app[SERVICE] = service
    add_health_routes(app, {"database": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten guidance", "The chat assistant for learners and the counsellors' view: "
              "conversations, profiles, plans and applying.")
    add_chat_routes(api, service)

    async def operator(request: web.Request) -> None:
        await require_role(request, service.engine, storage.api_tokens, "operator", STAFF_ROLES)

    add_parked_routes(api, service.bus, operator)
    app.on_response_prepare.append(_security_headers)
    return app


STAFF_ROLES = {"operator": "operator"}  # what a console user is here


def add_chat_routes(api: Api, service: GuidanceService) -> None:
    chat = service.chat
    limit = RateLimit(service.settings.chat_rate_per_minute)

    async def post_chat(request: web.Request) -> web.Response:
        limit.check(client_address(request, service.settings.trusted_proxies))
        body = await read_json_model(request, ChatRequest)
        message, notice = learner_text(body.message, "message", service.settings.max_message_chars)
        out = await chat.turn(body.session_id, message, body.lang)
        if notice:
            out["notice"] = notice
        return json_response(out)

    def learner_secret(request: web.Request, in_body: str | None = None) -> str:
        sid = in_body or request.headers.get("X-Chat-Session", "")
        if not 16 <= len(sid) <= 100:
            raise Problem(401, "send the conversation's secret id in the X-Chat-Session header")
        return sid

    async def get_session(request: web.Request) -> web.Response:
        return json_response(await chat.view(learner_secret(request)))

    async def delete_session(request: web.Request) -> web.Response:
        await chat.forget(learner_secret(request))
        return json_response({"deleted": True})

    async def post_mark(request: web.Request) -> web.Response:
        body = await read_json_model(request, MarkRequest)
        sid = learner_secret(request, body.session_id)
        return json_response(await chat.mark(sid, body.result_id, body.mark))

    async def post_apply(request: web.Request) -> web.Response:
        body = await read_json_model(request, ApplyRequest)
        out = await chat.apply(learner_secret(request, body.session_id), body.submission_id, body.applicant,
                               body.choices, body.consent)
        return json_response(out, status=200 if out.get("duplicate") else 202)

    # --- counsellors ---

    async def signed_in(request: web.Request) -> Counsellor:
        who = await chat.counsellor(request.cookies.get(COOKIE))
        if who is None:
            raise Problem(401, "sign in as a counsellor first")
        return who

    async def login(request: web.Request) -> web.Response:
        limit.check("login:" + client_address(request, service.settings.trusted_proxies))
        body = await read_json_model(request, LoginRequest)
        token = await chat.login(body.username, body.password)
        if token is None:
            raise Problem(401, "wrong username or password")
        resp = json_response({"username": body.username})
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=service.settings.cookie_secure,
                        path="/", max_age=int(service.settings.counsellor_login_hours * 3600))
        return resp

    async def logout(request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE)
        if token:
            await chat.logout(token)
        resp = json_response({"signed_out": True})
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def me(request: web.Request) -> web.Response:
        who = await signed_in(request)
        return json_response({"username": who.username, "name": who.name})

    async def my_sessions(request: web.Request) -> web.Response:
        return json_response({"items": await chat.my_sessions(await signed_in(request))})

    async def open_session(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, OpenRequest)
        return json_response(await chat.open_session(who, body.code))

    async def view_session(request: web.Request) -> web.Response:
        who = await signed_in(request)
        return json_response(await chat.counsellor_view(who, request.match_info["code"]))

    async def counsellor_mark(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, CounsellorMarkRequest)
        return json_response(await chat.counsellor_mark(who, request.match_info["code"], body.result_id, body.mark))

    async def add_note(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, NoteRequest)
        return json_response(await chat.add_note(who, request.match_info["code"], body.text), status=201)

    async def search_catalogue(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, CatalogueSearchRequest)
        return json_response({"results": await chat.search_catalogue(who, request.match_info["code"], body.text)})

    async def add_result(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, AdditionRequest)
        out = await chat.add_result(who, request.match_info["code"], body.text, body.result_id, body.note)
        return json_response(out, status=201)

    async def send_summary(request: web.Request) -> web.Response:
        who = await signed_in(request)
        body = await read_json_model(request, SummaryRequest)
        out = await chat.send_summary(who, request.match_info["code"], body.name, body.email, body.note, body.lang)
        return json_response(out, status=202)

    async def list_municipalities(_request: web.Request) -> web.Response:
        return json_response({"items": [{"code": m.code, "name": m.name}
                                        for m in sorted(municipalities().values(), key=lambda m: m.name)]})

    # --- pages ---

    def page(name: str):  # noqa: ANN202
        async def handler(_request: web.Request) -> web.FileResponse:
            return web.FileResponse(WEB / name)
        return handler

    r = api.route
    learner, counsellor = ("chatSession",), ("counsellorCookie",)
    r("POST", "/v1/chat", post_chat, "One chat turn: the learner's message in, summary, suggestions, question out",
      body=ChatRequest, response=TurnAnswer, errors=(400, 404, 422, 429), tags=("chat",))
    r("GET", "/v1/chat/session", get_session, "The learner's conversation: transcript, suggestions, receipts",
      response=ConversationView, auth=learner, errors=(404,), tags=("chat",))
    r("DELETE", "/v1/chat/session", delete_session, "Forget the conversation now", response=Deleted, auth=learner,
      errors=(404,), tags=("chat",))
    r("POST", "/v1/chat/marks", post_mark, "Save or hide a suggestion", body=MarkRequest, response=MarkAnswer,
      errors=(401, 404, 422), tags=("chat",))
    r("POST", "/v1/chat/apply", post_apply, "Apply to ranked occurrences from the conversation (sent on the bus)",
      body=ApplyRequest, response=ApplyAnswer, status=202, errors=(401, 404, 409, 422, 503), tags=("chat",))
    r("GET", "/v1/municipalities", list_municipalities, "The county's municipalities", response=Municipalities,
      errors=(), tags=("chat",))
    r("POST", "/v1/counsellor/login", login, "Sign in (sets a cookie)", body=LoginRequest, response=SignedIn,
      errors=(401, 422, 429), tags=("counsellors",))
    r("POST", "/v1/counsellor/logout", logout, "Sign out", response=SignedOut, errors=(), tags=("counsellors",))
    r("GET", "/v1/counsellor/me", me, "Who is signed in", response=SignedIn, auth=counsellor, errors=(),
      tags=("counsellors",))
    r("GET", "/v1/counsellor/sessions", my_sessions, "Conversations this counsellor has opened",
      response=SessionList, auth=counsellor, errors=(), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions", open_session, "Open a learner's conversation by the code they show",
      body=OpenRequest, response=ConversationView, auth=counsellor, errors=(404, 422), tags=("counsellors",))
    r("GET", "/v1/counsellor/sessions/{code}", view_session, "A conversation with notes", response=ConversationView,
      auth=counsellor, errors=(404,), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions/{code}/marks", counsellor_mark, "Pin or remove a suggestion",
      body=CounsellorMarkRequest, response=MarkAnswer, auth=counsellor, errors=(404, 422), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions/{code}/notes", add_note, "Add a note", body=NoteRequest, response=NoteAnswer,
      status=201, auth=counsellor, errors=(404, 422), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions/{code}/search", search_catalogue, "Search the county's catalogue for the "
      "learner (their home first)", body=CatalogueSearchRequest, response=CatalogueResults, auth=counsellor,
      errors=(404, 422, 503), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions/{code}/additions", add_result, "Add a course or validation offer found by a "
      "search to the learner's list, with a note they see", body=AdditionRequest, response=MarkAnswer, status=201,
      auth=counsellor, errors=(404, 422, 503), tags=("counsellors",))
    r("POST", "/v1/counsellor/sessions/{code}/summary", send_summary, "E-mail the learner a plan",
      body=SummaryRequest, response=SummaryAnswer, status=202, auth=counsellor, errors=(404, 422),
      tags=("counsellors",))
    r("GET", "/", page("index.html"), "The learners' chat page", response_type="text/html", errors=(),
      tags=("pages",))
    r("GET", "/counsellor", page("counsellor.html"), "The counsellors' page", response_type="text/html", errors=(),
      tags=("pages",))
    app = api.app
    app.router.add_static("/static", WEB, show_index=False, append_version=False)


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)

