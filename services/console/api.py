"""The console's web pages (server-rendered, no script) and its sign-in.

Every page asks the services for the signed-in person (backends.py) and shows what they answer; a
service's refusal is shown in the page in the person's words, and nothing is stored. Forms carry the
sign-in's form token (and the cookie is SameSite=Strict), so another site cannot post them.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from services.console import charts, domain
from services.console.backends import Refused, Staff, Unavailable
from services.console.service import ConsoleService
from shared.http import add_health_routes, make_middlewares
from shared.openapi import Api
from shared.problems import Problem
from shared.reference import municipalities, subject_areas

HERE = Path(__file__).parent
SERVICE = web.AppKey("service", ConsoleService)
COOKIE, LANG_COOKIE = "vux_console", "vux_console_lang"
WORDS = json.loads((HERE / "words.json").read_text(encoding="utf-8"))
SWEDEN = ZoneInfo("Europe/Stockholm")
SECURITY_HEADERS = {
    # No script at all; charts are images (data: URIs of server-drawn SVG).
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages hold applicants' names
}
# What a POST may report back after its redirect: a words.json key and the numbers it takes.
DONE = {"adopted": ("n",), "needs_imported": (), "round_done": ("offers", "waitlisted"), "approved": (),
        "denied": (), "replayed": ("n", "queue"), "resent": (), "upload_done": ()}
AUTH = ("consoleCookie",)


def when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone(SWEDEN).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                               undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters["when"] = when


def names() -> dict[str, str]:
    return {c: m.name for c, m in sorted(municipalities().items())}


def areas() -> list[str]:
    return sorted(set(subject_areas().values()))


# --- who is asking -----------------------------------------------------------------------------------

def lang_of(request: web.Request) -> str:
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in WORDS:
        return asked
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "sv"


def nav(staff: Staff, w: dict) -> list[tuple[str, str]]:
    if staff.role == "operator":
        return [("/operations", w["operations"])]
    if staff.role == "municipality":
        return [(f"/municipalities/{staff.municipality}", w["municipality"]), ("/approvals", w["approvals"]),
                ("/rounds", w["admission"]), ("/needs", w["needs"]), ("/reports", w["reports"])]
    return [("/seats", w["seats"]), ("/needs", w["needs"]), ("/rounds", w["admission"]),
            ("/approvals", w["approvals"]), ("/reports", w["reports"]), ("/municipalities", w["municipalities"])]


class Ctx:
    """One request's person, language and form token, and the page it renders."""

    def __init__(self, request: web.Request, staff: Staff | None, csrf: str = "") -> None:
        self.request, self.staff, self.csrf = request, staff, csrf
        self.lang = lang_of(request)
        self.w = WORDS[self.lang]
        self.service: ConsoleService = request.app[SERVICE]

    def page(self, template: str, status: int = 200, flash: str | None = None, flash_kind: str = "ok",
             **data) -> web.Response:
        if flash is None:
            flash = self._done()
        role_text = ""
        if self.staff:
            role_text = self.w[f"role_{self.staff.role}"].format(name=names().get(self.staff.municipality or "", ""))
        html = TEMPLATES.get_template(template).render(
            lang=self.lang, w=self.w, staff=self.staff, csrf=self.csrf, role_text=role_text,
            nav=nav(self.staff, self.w) if self.staff else [], here=self.request.path, flash=flash,
            flash_kind=flash_kind, **data)
        resp = web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)
        if self.request.query.get("lang") in WORDS:
            resp.set_cookie(LANG_COOKIE, self.lang, max_age=365 * 86400, httponly=True, samesite="Lax")
        return resp

    def message(self, status: int, heading: str, text: str = "") -> web.Response:
        return self.page("message.html", status=status, heading=heading, text=text, flash="")

    def _done(self) -> str:
        key = self.request.query.get("done")
        if key not in DONE:
            return ""
        # Numbers and queue names only: a link cannot make the page say something else.
        args = {k: re.sub(r"[^\w.-]", "", self.request.query.get(k, ""))[:80] for k in DONE[key]}
        return self.w[key].format(**args)

    async def call(self, service: str, method: str, path: str, **kw):  # noqa: ANN003, ANN201
        return await self.service.backends.call(service, method, path, self.staff, **kw)

    async def form(self) -> dict:
        data = await read_form(self.request, self.w)
        if data.get("csrf") != self.csrf:
            raise Problem(403, self.w["bad_csrf"], type="bad-form-token")
        return dict(data)


def done(path: str, key: str, **args) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{path}?{urlencode({'done': key, **args})}")


async def ctx_for(request: web.Request, *roles: str) -> Ctx:
    """The signed-in person (one of `roles`, when given); else off to the sign-in page, or 403."""
    who = await request.app[SERVICE].signed_in(request.cookies.get(COOKIE))
    if who is None:
        raise web.HTTPSeeOther("/signin")
    ctx = Ctx(request, *who)
    if roles and ctx.staff.role not in roles:
        raise Problem(403, ctx.w["forbidden"])
    return ctx


def own_municipality(ctx: Ctx, code: str) -> None:
    if code not in municipalities():
        raise Problem(404, ctx.w["not_found"])
    if ctx.staff.role == "municipality" and ctx.staff.municipality != code:
        raise Problem(403, ctx.w["forbidden_other"])


async def read_form(request: web.Request, w: dict) -> dict:
    """A posted form's fields; a body that is no form is a 400, never a crash."""
    try:
        return dict(await request.post())
    except web.HTTPException:
        raise  # too large: aiohttp's own 413
    except Exception:  # noqa: BLE001 - aiohttp's parsers raise many kinds on a malformed body
        raise Problem(400, w["unreadable_form"]) from None


async def read_file(request: web.Request, max_bytes: int, w: dict) -> tuple[dict, str, bytes | None, int]:
    """A multipart form's fields and its one file (name, bytes) read up to `max_bytes`; the file is None
    when it is larger (its size so far is returned, and the rest is not read)."""
    fields, filename, body, size = {}, "", b"", 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.filename is None:
                fields[part.name or ""] = (await part.read(decode=True)).decode(errors="replace")[:200]
                continue
            filename = part.filename
            chunks = []
            while chunk := await part.read_chunk(65536):
                size += len(chunk)
                if size > max_bytes:
                    return fields, filename, None, size
                chunks.append(chunk)
            body = b"".join(chunks)
    except Exception:  # noqa: BLE001 - as read_form: a malformed multipart body is unreadable, not a crash
        raise Problem(400, w["unreadable_form"]) from None
    return fields, filename, body, size


# --- sign-in -------------------------------------------------------------------------------------------

async def home(request: web.Request) -> web.Response:
    ctx = await ctx_for(request)
    raise web.HTTPSeeOther(nav(ctx.staff, ctx.w)[0][0])


async def signin_page(request: web.Request) -> web.Response:
    return Ctx(request, None).page("signin.html")


async def signin(request: web.Request) -> web.Response:
    ctx = Ctx(request, None)
    form = await read_form(request, ctx.w)
    username, password = str(form.get("username", ""))[:80], str(form.get("password", ""))[:200]
    got = await ctx.service.sign_in(username, password) if username and password else None
    if got is None:
        return ctx.page("signin.html", status=401, flash=ctx.w["signin_failed"], flash_kind="error",
                        username=username)
    resp = web.HTTPSeeOther("/")
    resp.set_cookie(COOKIE, got[0], httponly=True, samesite="Strict", secure=ctx.service.settings.cookie_secure,
                    max_age=int(ctx.service.settings.sign_in_hours * 3600), path="/")
    raise resp


async def signout(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    who = await request.app[SERVICE].signed_in(token)
    if who is not None:
        await Ctx(request, *who).form()
        await request.app[SERVICE].sign_out(token)
    resp = web.HTTPSeeOther("/signin")
    resp.del_cookie(COOKIE, path="/")
    raise resp


# --- a municipality: its feed, upload, courses --------------------------------------------------------

async def municipalities_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    code = request.query.get("code") or ctx.staff.municipality or "2480"
    raise web.HTTPSeeOther(f"/municipalities/{code}")


async def municipality_page(request: web.Request, **extra) -> web.Response:  # noqa: ANN003
    ctx = extra.pop("ctx", None) or await ctx_for(request, "regional", "municipality")
    code = request.match_info["code"]
    own_municipality(ctx, code)
    feeds = await ctx.call("catalogue", "GET", "/v1/feeds", params={"municipality": code, "limit": 20})
    courses = await ctx.call("catalogue", "GET", "/v1/courses", params={"municipality": code, "limit": 200})
    validation = await ctx.call("catalogue", "GET", "/v1/validation-offers", params={"municipality": code})
    centres = await ctx.call("catalogue", "GET", "/v1/learning-centres", params={"municipality": code})
    m = municipalities()[code]
    return ctx.page("municipality.html", status=extra.pop("status", 200), m={"code": code, "name": m.name},
                    municipalities=names() if ctx.staff.role == "regional" else None, feeds=feeds["items"],
                    courses=courses["items"], courses_total=courses["total"], validation=validation["items"],
                    centres=centres["items"], may_upload=True,
                    upload_mb=round(ctx.service.settings.upload_max_bytes / 1e6, 1), **extra)


FEED_TYPES = {".csv": "text/csv", ".json": "application/json"}


async def upload(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    code = request.match_info["code"]
    own_municipality(ctx, code)
    limit = ctx.service.settings.upload_max_bytes
    fields, filename, body, size = await read_file(request, limit, ctx.w)
    if fields.get("csrf") != ctx.csrf:
        raise Problem(403, ctx.w["bad_csrf"])
    if body is None:
        return await _upload_refused(ctx, request, 413, ctx.w["upload_too_big"].format(
            size=f"> {round(size / 1e6, 1)}", mb=round(limit / 1e6, 1)))
    if not body.strip():
        return await _upload_refused(ctx, request, 400, ctx.w["upload_empty"])
    ctype = FEED_TYPES.get(Path(filename.lower()).suffix)
    if ctype is None:
        return await _upload_refused(ctx, request, 415, ctx.w["upload_bad_type"])
    return await _push(ctx, request, code, ctype, filename, body, confirm=False)


async def _upload_refused(ctx: Ctx, request: web.Request, status: int, text: str) -> web.Response:
    return await municipality_page(request, ctx=ctx, status=status, flash=text, flash_kind="error")


async def _push(ctx: Ctx, request: web.Request, code: str, ctype: str, filename: str, body: bytes,
                confirm: bool) -> web.Response:
    try:
        report = await ctx.call("catalogue", "PUT", f"/v1/feeds/{code}", data=body, content_type=ctype,
                                params={"confirm_withdrawals": "true" if confirm else None})
    except Refused as exc:
        if exc.status == 409 and exc.problem.get("type", "").endswith("mass-withdrawal"):
            upload_id = await ctx.service.keep_upload(ctx.staff, code, ctype, filename, body)
            rep = exc.problem.get("report") or {}
            return await municipality_page(request, ctx=ctx, status=409, pending={
                "id": upload_id, "n": rep.get("withdrawn", "?"), "before": exc.problem.get("active_before", "?")})
        return await _upload_refused(ctx, request, exc.status, ctx.w["upload_refused"].format(detail=exc.detail))
    return await municipality_page(request, ctx=ctx, upload_report=report, flash=ctx.w["upload_done"])


async def confirm_upload(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    code = request.match_info["code"]
    own_municipality(ctx, code)
    await ctx.form()
    row = await ctx.service.take_upload(ctx.staff, code, request.match_info["upload_id"])
    if row is None:
        return await _upload_refused(ctx, request, 404, ctx.w["confirm_expired"])
    return await _push(ctx, request, code, row.content_type, row.filename, row.body, confirm=True)


# --- seat distribution -----------------------------------------------------------------------------

async def _latest_needs(ctx: Ctx) -> dict | None:
    try:
        return await ctx.call("allocation", "GET", "/v1/needs")
    except Refused as exc:
        if exc.status == 404:
            return None
        raise


async def _start_form(ctx: Ctx, scenarios: list[dict], needs: dict | None) -> dict:
    """The form's first values: the newest scenario's input, else the demo figures; needs from the analysis."""
    form = {"year": date.today().year + 1, "total_places": 300, "key_equal": 10, "key_population": 45,
            "key_unemployment": 45}
    figures = domain.demo_figures()
    if scenarios:
        last = await ctx.call("allocation", "GET", f"/v1/distributions/{scenarios[0]['distribution_id']}")
        inp = last.get("input") or {}
        form.update(year=inp.get("year", form["year"]), total_places=inp.get("total_places", 300),
                    **{f"key_{p}": round(100 * v, 2) for p, v in (inp.get("key") or {}).items()})
        figures.update({m["code"]: m for m in inp.get("municipalities", [])})
    for code, f in figures.items():
        form.update({f"pop_{code}": f["population"], f"unemp_{code}": f["unemployed"], f"own_{code}": f["own_places"]})
    weights = (needs or {}).get("weights", {})
    for i, area in enumerate(areas()):
        form[f"need_{i}"] = weights.get(area, "")
    return form


async def seats_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    scenarios = (await ctx.call("allocation", "GET", "/v1/distributions"))["items"]
    needs = await _latest_needs(ctx)
    return ctx.page("seats.html", scenarios=scenarios, needs=needs, may_edit=True, areas=areas(),
                    municipalities=names(), form=await _start_form(ctx, scenarios, needs), errors={})


async def create_scenario(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    form = await ctx.form()
    try:
        body = domain.distribution_request(form, names(), areas())
        created = await ctx.call("allocation", "POST", "/v1/distributions", json=body)
    except (domain.FormErrors, Refused) as exc:
        scenarios = (await ctx.call("allocation", "GET", "/v1/distributions"))["items"]
        errors = exc.errors if isinstance(exc, domain.FormErrors) else {}
        flash = None if errors else ctx.w["refused"].format(detail=exc.detail)
        return ctx.page("seats.html", status=422, scenarios=scenarios, needs=await _latest_needs(ctx), may_edit=True,
                        areas=areas(), municipalities=names(), form=form, errors=errors, flash=flash,
                        flash_kind="error")
    raise web.HTTPSeeOther(f"/seats/{created['distribution_id']}")


async def scenario_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    d = await ctx.call("allocation", "GET", f"/v1/distributions/{request.match_info['id']}")
    return ctx.page("scenario.html", d=d, areas=domain.areas_of(d), totals=domain.area_totals(d), may_adopt=True,
                    chart=charts.places_by_area(d, ctx.w["places_chart"]))


async def adopt(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    await ctx.form()
    dist_id = request.match_info["id"]
    got = await ctx.call("allocation", "POST", f"/v1/distributions/{dist_id}/adopt")
    raise done(f"/seats/{dist_id}", "adopted", n=got["occurrences_funded"])


async def grant_csv(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    d = await ctx.call("allocation", "GET", f"/v1/distributions/{request.match_info['id']}")
    name = f"statsbidrag-{d['year']}-{d['distribution_id'][:8]}.csv"
    return web.Response(text=domain.grant_csv(d), content_type="text/csv", charset="utf-8",
                        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


async def compare_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    ids = [request.query.get("a", ""), request.query.get("b", "")]
    if not all(ids) or ids[0] == ids[1]:
        return ctx.message(400, ctx.w["compare_two"], ctx.w["pick_two"])
    a = await ctx.call("allocation", "GET", f"/v1/distributions/{quote(ids[0], safe='')}")
    b = await ctx.call("allocation", "GET", f"/v1/distributions/{quote(ids[1], safe='')}")
    c = domain.compare(a, b)
    return ctx.page("compare.html", a=a, b=b, c=c,
                    chart=charts.side_by_side(c["municipalities"], f"A {a['distribution_id'][:8]}",
                                              f"B {b['distribution_id'][:8]}", ctx.w["places"]))


# --- needs and demand ------------------------------------------------------------------------------

async def needs_page(request: web.Request, **extra) -> web.Response:  # noqa: ANN003
    ctx = extra.pop("ctx", None) or await ctx_for(request, "regional", "municipality")
    needs = await _latest_needs(ctx)
    demand = await ctx.call("allocation", "GET", "/v1/demand")
    adopted = None
    listed = (await ctx.call("allocation", "GET", "/v1/distributions"))["items"]
    latest = next((s for s in listed if s["status"] == "adopted"), None)  # newest first
    if latest:
        adopted = await ctx.call("allocation", "GET", f"/v1/distributions/{latest['distribution_id']}")
    chosen = request.query.get("municipality") or ctx.staff.municipality
    if chosen and chosen not in municipalities():
        raise Problem(400, ctx.w["not_found"], field="municipality")
    rows = domain.needs_seats_demand(needs, adopted, demand, chosen)
    w = ctx.w
    chart = charts.shares_by_area(rows, {"need": w["need"], "seats_share": w["seats_share"],
                                         "applications_share": w["applications_share"], "chat_share": w["chat_share"]},
                                  w["demand_chart"]) if rows else ""
    return ctx.page("needs.html", status=extra.pop("status", 200), needs=needs, rows=rows, chart=chart,
                    demand_as_of=demand.get("as_of"), chosen=chosen,
                    municipalities=names() if ctx.staff.role == "regional" else None,
                    flows=domain.flows(demand, names()), may_import=ctx.staff.role == "regional", **extra)


async def import_needs(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    fields, _name, body, size = await read_file(request, 1_000_000, ctx.w)
    if fields.get("csrf") != ctx.csrf:
        raise Problem(403, ctx.w["bad_csrf"])
    if body is None:
        return await needs_page(request, ctx=ctx, status=413, flash_kind="error",
                                flash=ctx.w["upload_too_big"].format(size=f"> {round(size / 1e6, 1)}", mb=1))
    try:
        await ctx.call("allocation", "POST", "/v1/needs", data=body, content_type="text/csv")
    except Refused as exc:
        errors = exc.errors or [{"line": exc.problem.get("line", ""), "message": exc.detail}]
        return await needs_page(request, ctx=ctx, status=exc.status, needs_errors=errors)
    raise done("/needs", "needs_imported")


# --- admission -----------------------------------------------------------------------------------

async def rounds_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    rounds = (await ctx.call("allocation", "GET", "/v1/rounds"))["items"]
    return ctx.page("rounds.html", rounds=list(reversed(rounds)), may_run=ctx.staff.role == "regional")


async def run_round(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional")
    await ctx.form()
    r = await ctx.call("allocation", "POST", "/v1/rounds", json={})
    raise done(f"/rounds/{r['round_id']}", "round_done", offers=r["offers"], waitlisted=r["waitlisted"])


async def round_page(request: web.Request) -> web.Response:
    """A round's occurrences with their counts (the service gives a municipality's staff their own)."""
    ctx = await ctx_for(request, "regional", "municipality")
    r = await ctx.call("allocation", "GET", f"/v1/rounds/{quote(request.match_info['id'], safe='')}/occurrences")
    chosen = request.query.get("municipality") or None
    items = [o for o in r["items"] if not chosen or o["municipality_code"] == chosen]
    return ctx.page("round.html", r=r, items=items, chosen=chosen,
                    municipalities=names() if ctx.staff.role == "regional" else None)


async def round_occurrence_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    round_id, oid = (quote(request.match_info[k], safe="") for k in ("id", "occurrence_id"))
    o = await ctx.call("allocation", "GET", f"/v1/rounds/{round_id}/occurrences/{oid}")
    return ctx.page("occurrence.html", o=o, names=names())


async def approvals_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    items = (await ctx.call("allocation", "GET", "/v1/approvals"))["items"]
    return ctx.page("approvals.html", items=items, names=names())


async def decide(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    form = await ctx.form()
    try:
        rank = int(request.match_info["rank"])
    except ValueError:
        raise Problem(404, ctx.w["not_found"]) from None
    approved = form.get("decision") == "approve"
    await ctx.call("allocation", "POST", f"/v1/applications/{request.match_info['id']}/approvals",
                   json={"rank": rank, "approved": approved})
    raise done("/approvals", "approved" if approved else "denied")


# --- reports ---------------------------------------------------------------------------------------

def _period(ctx: Ctx) -> dict:
    q = ctx.request.query
    today = date.today()
    try:
        start = date.fromisoformat(q.get("from") or f"{today.year}-01-01")
        end = date.fromisoformat(q.get("to") or today.isoformat())
    except ValueError:
        raise Problem(400, ctx.w["err_range"], field="from") from None
    chosen = q.get("municipality") or None
    if chosen and chosen not in municipalities():
        raise Problem(400, ctx.w["not_found"], field="municipality")
    return {"from": start.isoformat(), "to": end.isoformat(), "municipality": chosen}


async def _report(ctx: Ctx) -> tuple[dict, dict]:
    period = _period(ctx)
    return period, await ctx.call("allocation", "GET", "/v1/reports", params=period)


async def reports_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    period, report = await _report(ctx)
    query = urlencode({k: v for k, v in period.items() if v})
    return ctx.page("reports.html", report=report, totals=domain.report_totals(report), names=names(),
                    report_as_of=report.get("as_of"),
                    period_from=period["from"], period_to=period["to"], chosen=period["municipality"],
                    municipalities=names() if ctx.staff.role == "regional" else None, query=query)


async def reports_csv(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "regional", "municipality")
    period, report = await _report(ctx)
    name = f"rapport-{period['from']}-{period['to']}.csv"
    return web.Response(text=domain.report_csv(report, names()), content_type="text/csv", charset="utf-8",
                        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


# --- operations ------------------------------------------------------------------------------------

# The services whose queues are shared by their replicas; search's are per replica (its command line).
PARKED_AT = ("allocation", "notifier", "guidance")


async def operations_page(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "operator")
    parked, unavailable = [], []
    for service in PARKED_AT:
        try:
            got = await ctx.call(service, "GET", "/v1/parked")
        except (Unavailable, Refused) as exc:
            unavailable.append(f"{service}: {exc}")
            continue
        parked += [{**q, "service": service} for q in got["items"]]
    deliveries = []
    for status in ("failed", "retry", "cancelled"):
        got = await ctx.call("notifier", "GET", "/v1/deliveries", params={"status": status, "limit": 100})
        deliveries += got["items"]
    return ctx.page("operations.html", parked=sorted(parked, key=lambda q: -q["count"]), unavailable=unavailable,
                    deliveries=deliveries)


async def replay(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "operator")
    await ctx.form()
    service, queue = request.match_info["service"], request.match_info["queue"]
    if service not in PARKED_AT:
        raise Problem(404, ctx.w["not_found"])
    got = await ctx.call(service, "POST", f"/v1/parked/{queue}/replay")
    raise done("/operations", "replayed", n=got["replayed"], queue=queue)


async def resend(request: web.Request) -> web.Response:
    ctx = await ctx_for(request, "operator")
    await ctx.form()
    await ctx.call("notifier", "POST", f"/v1/deliveries/{request.match_info['id']}/resend")
    raise done("/operations", "resent")


async def stylesheet(_request: web.Request) -> web.Response:
    return web.FileResponse(HERE / "static" / "console.css",
                            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


# --- the app -------------------------------------------------------------------------------------

@web.middleware
async def as_pages(request: web.Request, handler):  # noqa: ANN001, ANN201
    """A refusal is a page in the person's language, not JSON: the service's words, with its status."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (Problem, Refused, Unavailable) as exc:
        who = await request.app[SERVICE].signed_in(request.cookies.get(COOKIE))
        ctx = Ctx(request, *who) if who else Ctx(request, None)
        if isinstance(exc, Unavailable):
            return ctx.message(503, ctx.w["unavailable"].format(what=exc))
        heading = {403: ctx.w["forbidden"], 404: ctx.w["not_found"]}.get(exc.status) or \
            ctx.w["refused"].format(detail="")
        return ctx.message(exc.status, heading, "" if exc.detail == heading else exc.detail)


def create_app(service: ConsoleService) -> web.Application:
    app = web.Application(middlewares=[*make_middlewares("console"), as_pages],
                          client_max_size=service.settings.upload_max_bytes + 1_000_000)
    app[SERVICE] = service
    add_health_routes(app, {"database": service.db_ready})
    api = Api(app, "Vux Västerbotten staff console", "Web pages for the region's and the municipalities' "
              "coordinators and for operations; each page uses the services' APIs with the person's rights.")
    html = dict(response_type="text/html", error_type="text/html", tags=("console",))
    signed = dict(html, auth=AUTH, errors=(403,))
    form = dict(body={"type": "object"}, body_types=("application/x-www-form-urlencoded",), status=303)
    upload_form = dict(body={"type": "object"}, body_types=("multipart/form-data",))
    r = api.route
    r("GET", "/", home, "To the person's first page (or to sign in)", status=303, **html, errors=())
    r("GET", "/signin", signin_page, "The sign-in page", **html, errors=())
    r("POST", "/signin", signin, "Sign in (user name and password)", **html, **form, errors=(401,))
    r("POST", "/signout", signout, "Sign out", **html, **form, errors=(403,))
    r("GET", "/municipalities", municipalities_page, "To one municipality's page", status=303, **signed)
    r("GET", "/municipalities/{code}", municipality_page, "A municipality: its feed, reports, courses, validation "
      "offers and learning centre", **signed)
    r("POST", "/municipalities/{code}/uploads", upload, "Upload a CSV or EMIL3 file as the municipality's feed",
      **signed, **upload_form)
    r("POST", "/municipalities/{code}/uploads/{upload_id}/confirm", confirm_upload, "Confirm an upload that "
      "withdraws more than half the courses", **signed, **form)
    r("GET", "/seats", seats_page, "Seat distribution: scenarios and the form for a new one", **signed)
    r("POST", "/seats", create_scenario, "Compute a scenario from the form", **signed, **form)
    r("GET", "/seats/compare", compare_page, "Two scenarios side by side (?a=ID&b=ID)", **signed)
    r("GET", "/seats/{id}", scenario_page, "One scenario: chart, table, explanation, co-funding", **signed)
    r("POST", "/seats/{id}/adopt", adopt, "Adopt a scenario", **signed, **form)
    r("GET", "/seats/{id}/grant.csv", grant_csv, "The grant application's figures as CSV",
      **{**signed, "response_type": "text/csv"})
    r("GET", "/needs", needs_page, "Needs against seats against demand; where applicants live and study", **signed)
    r("POST", "/needs", import_needs, "Import a needs analysis (CSV)", **signed, **upload_form, status=303)
    r("GET", "/rounds", rounds_page, "Admission rounds", **signed)
    r("POST", "/rounds", run_round, "Run an admission round", **signed, **form)
    r("GET", "/rounds/{id}", round_page, "A round's occurrences: admitted and reserves counted", **signed)
    r("GET", "/rounds/{id}/occurrences/{occurrence_id}", round_occurrence_page, "One occurrence in a round: the "
      "admitted and the reserve list, each with the explanation", **signed)
    r("GET", "/approvals", approvals_page, "Studies elsewhere waiting for the home municipality", **signed)
    r("POST", "/approvals/{id}/{rank}", decide, "Approve or deny a resident's choice", **signed, **form)
    r("GET", "/reports", reports_page, "Figures per municipality and area for a period (printable)", **signed)
    r("GET", "/reports.csv", reports_csv, "The same as CSV", **{**signed, "response_type": "text/csv"})
    r("GET", "/operations", operations_page, "Parked messages and e-mail deliveries (operators)", **signed)
    r("POST", "/operations/parked/{service}/{queue}/replay", replay, "Replay a queue's parked messages",
      **signed, **form)
    r("POST", "/operations/deliveries/{id}/resend", resend, "Send a failed e-mail again", **signed, **form)
    r("GET", "/static/console.css", stylesheet, "The console's stylesheet", response_type="text/css", errors=())
    return app
