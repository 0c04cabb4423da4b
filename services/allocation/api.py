"""The allocation service's HTTP API: applications, offers, rounds, seat distributions, demand."""
from __future__ import annotations

import asyncio
import html
from datetime import date, datetime
from zoneinfo import ZoneInfo
from typing import Literal
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from services.allocation import storage
from services.allocation.distribution import DistributionInput
from services.allocation.service import AllocationService
from shared.events import ApplicationForm
from shared.openapi import Api
from shared.operations import add_parked_routes
from shared.http import (
    BODY_TIMEOUT_S, RateLimit, add_health_routes, client_address, json_response, make_middlewares, read_body,
    read_json_model, read_query, require_role,
)
from services.allocation.words import t
from shared.problems import Problem
from shared.reference import municipalities
from shared.tokens import Caller

SERVICE = web.AppKey("service", AllocationService)


class RoundRequest(BaseModel):
    seed: str | None = Field(None, max_length=80, description="reuse a published seed to rerun a round")


class ApprovalRequest(BaseModel):
    rank: int = Field(ge=1, le=5)
    approved: bool


class AnswerRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class OfferForm(BaseModel):
    token: str
    answer: Literal["accept", "decline"]


class SecretQuery(BaseModel):
    secret: str | None = Field(None, description="the application's secret (or send X-Application-Secret)")


class TokenQuery(BaseModel):
    token: str = Field("", description="the token from the offer e-mail's link")


# --- what the answers look like (documented in /openapi.json) ---

class ConfirmationSent(BaseModel):
    status: Literal["confirmation_sent"]
    message: str = Field(description="what happens next, in the applicant's language")


class ConfirmForm(BaseModel):
    secret: str


class Receipt(BaseModel, extra="allow"):
    application_id: str
    status: str
    priority_group: int | None = None
    status_url: str | None = Field(None, description="where the applicant sees the application (the secret in it)")
    lang: str | None = None
    choices: list[dict] | None = Field(None, description="{rank, occurrence_id, title, approval}")
    duplicate: bool = Field(False, description="it was confirmed before: nothing changed")


class ApplicationView(BaseModel):
    application_id: str
    status: str
    priority_group: int
    priority_reason: str
    home_municipality: str
    name: str | None
    email: str | None
    erased: bool
    lang: str = Field(description="the applicant's language (e-mails and pages)")
    choices: list[dict] = Field(description="{rank, occurrence_id, title, municipality_code, start, approval, state, "
                                            "reserve_position}")
    offers: list[dict] = Field(description="{offer_id, occurrence_id, status, deadline}")


class Erased(BaseModel):
    application_id: str
    status: Literal["erased"]


class Approval(BaseModel):
    application_id: str
    rank: int
    approval: Literal["approved", "denied"]


class OfferAnswer(BaseModel):
    offer_id: str
    status: str
    message: str | None = None


class Tick(BaseModel):
    expired: int
    reminded: int


class RoundSummary(BaseModel, extra="allow"):
    round_id: str
    seed: str
    started_by: str
    applicants: int
    offers: int
    waitlisted: int
    rejected: int
    duration_s: float


class RoundView(RoundSummary):
    started_at: str
    results: dict[str, dict] = Field(description="per application: outcome, priority group, lottery number and "
                                                 "the explanation a coordinator reads")


class RoundOccurrences(BaseModel, extra="allow"):
    round_id: str
    items: list[dict] = Field(description="{occurrence_id, title, municipality_code, municipality, admitted, "
                                          "reserves}")


class RoundOccurrence(BaseModel):
    round_id: str
    occurrence_id: str
    title: str
    municipality_code: str
    admitted: list[dict] = Field(description="{application_id, reference, choice_rank, priority_group, lottery, "
                                             "explanation}")
    reserves: list[dict] = Field(description="{application_id, reference, position, priority_group, lottery, "
                                             "explanation}, in reserve order")


class Rounds(BaseModel):
    items: list[RoundSummary]
    total: int
    next: str | None


class Distribution(BaseModel, extra="allow"):
    distribution_id: str
    status: Literal["scenario", "adopted"]
    year: int
    municipalities: list[dict] = Field(description="places per municipality and area, with the explanation")


class Adopted(BaseModel):
    distribution_id: str
    status: Literal["adopted"]
    adopted_by: str
    occurrences_funded: int


class Demand(BaseModel):
    items: list[dict] = Field(description="{area, municipality_code, applications, first_choices, offers, accepted, "
                                          "reserve, chat_turns}")
    flows: list[dict] = Field(description="{home, study, applications}: where applicants live and where they study")


class DistributionsQuery(BaseModel):
    year: int | None = Field(None, ge=2000, le=2100)


class Distributions(BaseModel):
    items: list[dict] = Field(description="{distribution_id, year, status, created_by, created_at, adopted_by}")


class Needs(BaseModel, extra="allow"):
    needs_id: str
    source: str
    year: int
    basis: Literal["weight", "shortage"]
    weights: dict[str, float] = Field(description="per cent per education area, adding up to 100")


class Approvals(BaseModel):
    items: list[dict] = Field(description="{application_id, reference, name, home_municipality, rank, "
                                          "occurrence_id, title, municipality_code, start}")


class ReportQuery(BaseModel):
    from_: date = Field(alias="from", description="first day of the period")
    to: date = Field(description="last day of the period")
    municipality: str | None = Field(None, min_length=4, max_length=4)


class Report(BaseModel):
    items: list[dict] = Field(description="{municipality_code, area, places, applications, offers, accepted, "
                                          "withdrawn}")


def create_app(service: AllocationService) -> web.Application:
    app = web.Application(middlewares=make_middlewares("allocation"))
    app[SERVICE] = service
    app[APPLY_LIMIT] = RateLimit(service.settings.apply_rate_per_minute)
    add_health_routes(app, {"database": service.db_ready, "broker": service.broker_ready})
    api = Api(app, "Vux Västerbotten allocation", "Applications, offers and admission rounds under the Education "
              "Act's priority rules, and the regional yrkesvux seat distribution.")
    coord = ("bearer",)
    api.route("POST", "/v1/applications", submit, "Apply: ranked occurrences and the facts that decide priority. "
              "The answer is the same for every address: a link goes to the address, and the application counts "
              "once it is opened", body=ApplicationForm, response=ConfirmationSent, status=202,
              errors=(409, 422, 429), tags=("applications",))
    api.route("POST", "/v1/applications/{id}/confirm", confirm_application,
              "Confirm an application with the secret from the mailed link (again: changes nothing)",
              query=SecretQuery, response=Receipt, auth=("applicationSecret",), errors=(404, 409, 410),
              tags=("applications",))
    api.route("GET", "/applications/{id}/confirm", confirm_page, "The page behind the confirmation e-mail's link",
              query=SecretQuery, response_type="text/html", errors=(404,), tags=("applications",))
    api.route("POST", "/applications/{id}/confirm", confirm_form, "The confirmation page's button", body=ConfirmForm,
              body_types=("application/x-www-form-urlencoded",), response_type="text/html", errors=(400, 404, 409, 410),
              tags=("applications",))
    api.route("GET", "/applications/{id}", status_page, "The page behind the receipt's link: each choice, offers "
              "to answer, how to withdraw and erase, in the applicant's language", query=SecretQuery,
              response_type="text/html", errors=(404,), tags=("applications",))
    api.route("POST", "/applications/{id}/erase", erase_form, "The status page's erase button", body=ConfirmForm,
              body_types=("application/x-www-form-urlencoded",), response_type="text/html", errors=(400, 404),
              tags=("applications",))
    api.route("GET", "/v1/applications/{id}", view_application, "An application (its secret, or a coordinator)",
              query=SecretQuery, response=ApplicationView, auth=("applicationSecret", "bearer"), errors=(403, 404), tags=("applications",))
    api.route("DELETE", "/v1/applications/{id}", erase_application, "Forget an applicant (statistics remain)",
              query=SecretQuery, response=Erased, auth=("applicationSecret", "bearer"), errors=(403, 404), tags=("applications",))
    api.route("POST", "/v1/applications/{id}/approvals", decide_approval,
              "The home municipality approves or denies studies elsewhere", body=ApprovalRequest, response=Approval,
              auth=coord,
              errors=(403, 404, 409, 422), tags=("applications",))
    api.route("POST", "/v1/offers/{id}/accept", accept_offer, "Accept an offer (token from the e-mail)",
              body=AnswerRequest, response=OfferAnswer, errors=(403, 404, 409, 422), tags=("offers",))
    api.route("POST", "/v1/offers/{id}/decline", decline_offer, "Decline an offer (token from the e-mail)",
              body=AnswerRequest, response=OfferAnswer, errors=(403, 404, 409, 422), tags=("offers",))
    api.route("POST", "/v1/offers/tick", tick_offers, "Send due reminders and lapse expired offers now",
              response=Tick, auth=coord, errors=(403,), tags=("offers",))
    api.route("GET", "/offers/{id}", offer_page, "The answer page behind an offer e-mail's link", query=TokenQuery,
              response_type="text/html", errors=(404,), tags=("offers",))
    api.route("POST", "/offers/{id}", offer_form, "The answer page's form", body=OfferForm,
              body_types=("application/x-www-form-urlencoded",), status=303, response_type="text/html",
              errors=(400, 403, 404, 409), tags=("offers",))
    api.route("POST", "/v1/rounds", start_round, "Run an admission round (regional coordinator)",
              body=RoundRequest, response=RoundSummary, status=201, auth=coord, errors=(403, 409, 422), tags=("rounds",))
    api.route("GET", "/v1/rounds", list_rounds, "Admission rounds", response=Rounds, auth=coord, errors=(403,),
              tags=("rounds",))
    api.route("GET", "/v1/rounds/{id}/occurrences", round_occurrences, "A round's occurrences: admitted and "
              "reserves counted (a municipality's coordinator: its own)", response=RoundOccurrences, auth=coord,
              errors=(403, 404), tags=("rounds",))
    api.route("GET", "/v1/rounds/{id}/occurrences/{occurrence_id}", round_occurrence, "One occurrence in a round: "
              "the admitted and the reserve list, each with the explanation", response=RoundOccurrence, auth=coord,
              errors=(403, 404), tags=("rounds",))
    api.route("GET", "/v1/rounds/{id}", get_round, "One round with its explanation", response=RoundView, auth=coord,
              errors=(403, 404), tags=("rounds",))
    api.route("POST", "/v1/distributions", compute_distribution, "Compute a seat distribution scenario",
              body=DistributionInput, response=Distribution, status=201, auth=coord, errors=(403, 422), tags=("seats",))
    api.route("GET", "/v1/distributions/{id}", get_distribution, "One distribution scenario", response=Distribution,
              auth=coord,
              errors=(403, 404), tags=("seats",))
    api.route("POST", "/v1/distributions/{id}/adopt", adopt_distribution, "Adopt a scenario: it sets capacities",
              response=Adopted, auth=coord, errors=(403, 404, 409), tags=("seats",))
    api.route("GET", "/v1/demand", demand, "Applications and chat interest per area and municipality",
              response=Demand, auth=coord, errors=(403,), tags=("seats",))
    api.route("GET", "/v1/distributions", list_distributions, "Distribution scenarios, newest first",
              query=DistributionsQuery, response=Distributions, auth=coord, errors=(400, 403), tags=("seats",))
    api.route("POST", "/v1/needs", import_needs, "Import the region's needs analysis (CSV, docs/needs-analysis.md)",
              body={"type": "string"}, body_types=("text/csv",), response=Needs, auth=coord,
              errors=(400, 403, 413, 415, 422), tags=("seats",))
    api.route("GET", "/v1/needs", get_needs, "The latest needs analysis", response=Needs, auth=coord,
              errors=(403, 404), tags=("seats",))
    api.route("GET", "/v1/approvals", list_approvals, "Studies elsewhere waiting for the home municipality's "
              "approval (a municipality's coordinator sees its residents')", response=Approvals, auth=coord,
              errors=(403,), tags=("applications",))
    api.route("GET", "/v1/reports", report, "Places, applications, offers, accepted and withdrawn per "
              "municipality and area in a period", query=ReportQuery, response=Report, auth=coord,
              errors=(400, 403), tags=("seats",))
    add_parked_routes(api, service.bus, operator)
    return app


# What a console user is here: the region's and a municipality's coordinators (scoped by the console's
# header), and operators for the parked messages.
STAFF_ROLES = {"regional": "coordinator", "municipality": "coordinator", "operator": "operator"}


async def coordinator(request: web.Request, region_only: bool = False) -> Caller:
    caller = await require_role(request, request.app[SERVICE].engine, storage.api_tokens, "coordinator", STAFF_ROLES)
    if region_only and caller.scope:
        raise Problem(403, "this needs a regional coordinator token, not a municipality's")
    return caller


async def operator(request: web.Request) -> Caller:
    return await require_role(request, request.app[SERVICE].engine, storage.api_tokens, "operator", STAFF_ROLES)


async def optional_coordinator(request: web.Request) -> Caller | None:
    if not request.headers.get("Authorization"):
        return None
    return await coordinator(request)


def _secret(request: web.Request) -> str | None:
    return request.headers.get("X-Application-Secret") or request.query.get("secret")


APPLY_LIMIT = web.AppKey("apply_limit", RateLimit)


async def submit(request: web.Request) -> web.Response:
    # Anyone may apply without signing in: a client gets a few tries a minute (its address, as our
    # own reverse proxy saw it), an e-mail address a few a day (in the service, across replicas).
    service = request.app[SERVICE]
    request.app[APPLY_LIMIT].check(client_address(request, service.settings.trusted_proxies))
    form = await read_json_model(request, ApplicationForm)
    status, receipt = await request.app[SERVICE].submit(form)
    return json_response(receipt, status=status)


async def confirm_application(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].confirm(request.match_info["id"], _secret(request)))


async def confirm_page(request: web.Request) -> web.Response:
    # A GET only shows the button: mail scanners open links, and must not confirm for the applicant.
    service = request.app[SERVICE]
    try:
        data = await service.confirmation_page_data(request.match_info["id"], _secret(request))
    except Problem as exc:
        return _page(t("confirm_title", "sv"), _both("confirm_not_found"), "sv", status=exc.status)
    lang, e = data["lang"], html.escape
    if data["status"] != "unconfirmed":
        return _page(t("confirm_title", lang), f"<p>{e(t('confirm_already', lang))}</p>", lang)
    names = {code: m.name for code, m in municipalities().items()}
    items = "".join(f"<li>{e(title or '')}, {e(names.get(code, code or ''))}</li>" for title, code in data["choices"])
    body = (f"<p>{e(t('confirm_intro', lang))}</p><ol>{items}</ol>"
            + _secret_form(None, _secret(request) or "", t("confirm_button", lang), "yes"))
    return _page(t("confirm_title", lang), body, lang)


async def confirm_form(request: web.Request) -> web.Response:
    form = await _read_form(request, "send the secret as a web form")
    service = request.app[SERVICE]
    try:
        receipt = await service.confirm(request.match_info["id"], str(form.get("secret", "")))
    except Problem as exc:
        key = {409: "confirm_conflict", 410: "confirm_expired"}.get(exc.status)
        if key is None:
            return _page(t("confirm_title", "sv"), _both("confirm_not_found"), "sv", status=exc.status)
        lang = exc.extensions.get("lang", "sv")
        return _page(t("confirm_title", lang), f"<p>{html.escape(t(key, lang))}</p>", lang, status=exc.status)
    lang = receipt["lang"]
    said = t("confirm_already" if receipt["duplicate"] else "confirmed", lang)
    return _page(t("confirm_title", lang), f"<p role=status>{html.escape(said)}</p>", lang)


def _secret_form(action: str | None, secret: str, label: str, cls: str) -> str:
    """A page's one button, carrying the application's secret from the link (a POST: mail scanners only GET)."""
    e = html.escape
    target = f' action="{e(action)}"' if action else ""
    return (f"<form method=post{target}><input type=hidden name=secret value=\"{e(secret)}\">"
            f"<button class={cls}>{e(label)}</button></form>")


def _both(key: str) -> str:
    """Before we know whose link it is: Swedish and English."""
    return "".join(f"<p lang={lang}>{html.escape(t(key, lang))}</p>" for lang in ("sv", "en"))


async def view_application(request: web.Request) -> web.Response:
    staff = await optional_coordinator(request)
    return json_response(await request.app[SERVICE].view(request.match_info["id"], _secret(request), staff is not None,
                                                         staff.scope if staff else None))


def _when(iso: str | None) -> str:
    """A date and time the applicant reads: Swedish time, whole (kept left to right in a right-to-left page)."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso).astimezone(SWEDEN)
    return f"<bdi dir=ltr>{at:%Y-%m-%d %H:%M}</bdi>"


def _choice_line(c: dict, offer: dict | None, lang: str, answer_url: str | None) -> str:
    e = html.escape
    state = c["state"]
    if c["approval"] in ("pending", "denied") and state == "open":
        said = e(t(f"approval_{c['approval']}", lang))
    elif state == "open" and c.get("reserve_position"):
        said = e(t("choice_reserve", lang, n=c["reserve_position"]))
    elif state == "offered" and offer:
        said = e(t("choice_offered", lang, deadline="\0")).replace("\0", _when(offer["deadline"]))
        if answer_url:
            said += f' <a href="{e(answer_url)}">{e(t("answer_offer", lang))}</a>'
    else:
        said = e(t(f"choice_{state}", lang))
    place = municipalities().get(c.get("municipality_code") or "")
    start = f", <bdi dir=ltr>{e(c['start'])}</bdi>" if c.get("start") else ""
    return f"<li><strong>{e(c.get('title') or '')}</strong>, {e(place.name if place else '')}{start}<br>{said}</li>"


async def status_page(request: web.Request) -> web.Response:
    """Readable, never raw JSON: the link in the receipt e-mail opens this."""
    service = request.app[SERVICE]
    secret = _secret(request) or ""
    try:
        v = await service.view(request.match_info["id"], secret, False)
    except Problem as exc:
        return _page(t("status_title", "sv"), _both("status_not_found"), "sv", status=exc.status)
    if v["erased"]:
        return _page(t("status_title", "sv"), _both("status_not_found"), "sv", status=404)
    lang, e = v["lang"], html.escape
    offers = {o["occurrence_id"]: o for o in v["offers"] if o["status"] == "pending"}
    items = "".join(_choice_line(c, offers.get(c["occurrence_id"]), lang,
                                 service.answer_url(offers[c["occurrence_id"]]["offer_id"])
                                 if c["occurrence_id"] in offers else None) for c in v["choices"])
    body = (f"<p>{e(t('status_reference', lang, ref=v['application_id'][:8]))}</p>"
            f"<p>{e(t('status_intro', lang))}</p><ol>{items}</ol><p>{e(t('status_withdraw', lang))}</p>"
            + _secret_form(f"/applications/{quote(v['application_id'])}/erase", secret, t("erase_button", lang), "no"))
    return _page(t("status_title", lang), body, lang)


async def erase_form(request: web.Request) -> web.Response:
    form = await _read_form(request, "send the secret as a web form")
    service = request.app[SERVICE]
    try:
        v = await service.view(request.match_info["id"], str(form.get("secret", "")), False)
    except Problem as exc:
        return _page(t("status_title", "sv"), _both("status_not_found"), "sv", status=exc.status)
    if not v["erased"]:
        await service.erase(v["application_id"])
    return _page(t("status_title", v["lang"]), f"<p>{html.escape(t('erased', v['lang']))}</p>", v["lang"])


async def erase_application(request: web.Request) -> web.Response:
    """The applicant, by the secret, or the region (the controller of the data) erases."""
    service = request.app[SERVICE]
    if request.headers.get("Authorization"):
        await coordinator(request, region_only=True)
    else:
        await service.view(request.match_info["id"], _secret(request), False)  # 404 unless the secret is right
    return json_response(await service.erase(request.match_info["id"]))


async def decide_approval(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    body = await read_json_model(request, ApprovalRequest)
    return json_response(await request.app[SERVICE].decide_approval(
        request.match_info["id"], body.rank, body.approved, caller.scope))


async def _answer(request: web.Request, accept: bool) -> web.Response:
    body = await read_json_model(request, AnswerRequest)
    return json_response(await request.app[SERVICE].answer_offer(request.match_info["id"], body.token, accept))


async def accept_offer(request: web.Request) -> web.Response:
    return await _answer(request, True)


async def decline_offer(request: web.Request) -> web.Response:
    return await _answer(request, False)


async def tick_offers(request: web.Request) -> web.Response:
    await coordinator(request)
    return json_response(await request.app[SERVICE].tick_offers())


STYLE = ("body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;"
         "color:#111}button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .5rem .3rem 0;border-radius:.3rem;"
         "border:2px solid #044}.yes{background:#05603a;color:#fff}.no{background:#fff;color:#111}"
         ":focus{outline:3px solid #c60}")
RTL = {"ar", "fa", "prs"}
SWEDEN = ZoneInfo("Europe/Stockholm")


def _page(title: str, body: str, lang: str, status: int = 200) -> web.Response:
    """A small page of its own for a link in an e-mail (no script; the page's words in the applicant's language)."""
    e = html.escape
    page = (f'<!doctype html><html lang="{e(lang)}" dir="{"rtl" if lang in RTL else "ltr"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body><main><h1>{e(title)}</h1>{body}</main></body></html>")
    return web.Response(text=page, content_type="text/html", status=status)


async def _read_form(request: web.Request, hint: str):  # noqa: ANN202 - a MultiDict
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            return await request.post()
    except TimeoutError:
        raise Problem(408, f"the form did not arrive within {BODY_TIMEOUT_S:g} seconds") from None
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError, web.HTTPException):
        # aiohttp's parser refuses a malformed multipart or urlencoded body with these
        raise Problem(400, f"could not read the form; {hint}") from None


async def offer_page(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    data = await request.app[SERVICE].offer_page_data(request.match_info["id"], token)
    p = data["payload"]
    e = html.escape
    if p is None:
        body = "<p>Erbjudandet finns inte längre.</p>"
    elif data["status"] != "pending":
        body = f"<p>{e(p.occurrence.title or '')}: erbjudandet är <strong>{e(data['status'])}</strong>.</p>"
    else:
        body = (f"<p>Du erbjuds en plats på <strong>{e(p.occurrence.title or '')}</strong>"
                f"{', start ' + e(str(p.occurrence.start)) if p.occurrence.start else ''}.</p>"
                f"<p>Svara senast {e(p.deadline.strftime('%Y-%m-%d %H:%M'))} (UTC).</p>"
                f"<form method=post><input type=hidden name=token value=\"{e(token)}\">"
                "<button class=yes name=answer value=accept>Ja, jag tar platsen</button>"
                "<button class=no name=answer value=decline>Nej tack</button></form>")
    return _page("Erbjudande om studieplats", body, "sv")


async def offer_form(request: web.Request) -> web.Response:
    form = await _read_form(request, "send answer and token as a web form")
    answer = form.get("answer")
    if answer not in ("accept", "decline"):
        raise Problem(400, "answer must be accept or decline")
    await request.app[SERVICE].answer_offer(request.match_info["id"], str(form.get("token", "")), answer == "accept")
    raise web.HTTPSeeOther(f"/offers/{quote(request.match_info['id'])}?token={quote(str(form.get('token', '')))}")


async def start_round(request: web.Request) -> web.Response:
    caller = await coordinator(request, region_only=True)
    body = await read_json_model(request, RoundRequest) if request.can_read_body else RoundRequest()
    return json_response(await request.app[SERVICE].run_round(caller.name, body.seed), status=201)


async def list_rounds(request: web.Request) -> web.Response:
    await coordinator(request)
    items = await request.app[SERVICE].list_rounds()
    return json_response({"items": items, "total": len(items), "next": None})


async def get_round(request: web.Request) -> web.Response:
    await coordinator(request)
    return json_response(await request.app[SERVICE].get_round(request.match_info["id"]))


async def round_occurrences(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    return json_response(await request.app[SERVICE].round_occurrences(request.match_info["id"], caller.scope))


async def round_occurrence(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    return json_response(await request.app[SERVICE].round_occurrence(
        request.match_info["id"], request.match_info["occurrence_id"], caller.scope))


async def compute_distribution(request: web.Request) -> web.Response:
    caller = await coordinator(request, region_only=True)
    inp = await read_json_model(request, DistributionInput)
    return json_response(await request.app[SERVICE].compute_distribution(inp, caller.name), status=201)


async def get_distribution(request: web.Request) -> web.Response:
    await coordinator(request)
    return json_response(await request.app[SERVICE].get_distribution(request.match_info["id"]))


async def adopt_distribution(request: web.Request) -> web.Response:
    caller = await coordinator(request, region_only=True)
    return json_response(await request.app[SERVICE].adopt_distribution(request.match_info["id"], caller.name))


async def demand(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    return json_response(await request.app[SERVICE].demand(caller.scope))


async def list_distributions(request: web.Request) -> web.Response:
    await coordinator(request)
    q = read_query(request, DistributionsQuery)
    return json_response({"items": await request.app[SERVICE].list_distributions(q.year)})


NEEDS_MAX_BYTES = 1_000_000


async def import_needs(request: web.Request) -> web.Response:
    caller = await coordinator(request, region_only=True)
    if request.content_type != "text/csv":
        raise Problem(415, f"send the needs analysis as text/csv, not {request.content_type!r}")
    body = await read_body(request, NEEDS_MAX_BYTES, timeout_s=30)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "the file is not UTF-8 text; save it as CSV UTF-8") from None
    return json_response(await request.app[SERVICE].import_needs(text, caller.name), status=201)


async def get_needs(request: web.Request) -> web.Response:
    await coordinator(request)
    return json_response(await request.app[SERVICE].needs())


async def list_approvals(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    return json_response({"items": await request.app[SERVICE].pending_approvals(caller.scope)})


async def report(request: web.Request) -> web.Response:
    caller = await coordinator(request)
    q = read_query(request, ReportQuery)
    if q.to < q.from_:
        raise Problem(400, "the period ends before it starts", field="to")
    if caller.scope and q.municipality and q.municipality != caller.scope:
        raise Problem(403, f"this caller may see only municipality {caller.scope}'s figures")
    return json_response(await request.app[SERVICE].report(q.from_, q.to, caller.scope or q.municipality))
