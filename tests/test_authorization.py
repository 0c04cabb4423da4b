"""Who may do what: every endpoint of all five services (as their OpenAPI documents list them), asked by
every kind of caller, gets exactly the answer it should.

Callers: nobody, a garbled token, a municipality's feed token (Umeå, and Lycksele for "the wrong
municipality"), the region's feed token, municipal and regional coordinators, an operator (with an
operator token in each service that has them), a signed-in counsellor, a learner with the right and
with a wrong secret (the conversation's secret id, the application's secret, the token in an offer
e-mail), and staff signed in to the console (the region, Umeå's and Lycksele's coordinators, an
operator), whose cookie the other services do not know. Each presents what it has on every
call; the table below says what each must get back. A route missing from the table fails the test.
"""
import json
import secrets as pysecrets
import uuid
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from tests.feeds import bundle

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "openapi"

CALLERS = ["none", "garbled", "muni_umea", "muni_lycksele", "region", "coord_umea", "coord_lycksele", "coord_region",
           "operator", "counsellor", "learner_wrong", "learner", "staff_region", "staff_umea", "staff_lycksele",
           "staff_operator"]
STAFF = ("staff_region", "staff_umea", "staff_lycksele", "staff_operator")  # signed in to the console


def everyone(status: int) -> dict:
    return {c: status for c in CALLERS}


def only(allowed: dict, otherwise: int = 401, **others: int) -> dict:
    """`allowed` callers get their status, the named `others` theirs, everyone else `otherwise`."""
    return {c: allowed.get(c, others.get(c, otherwise)) for c in CALLERS}


def learner_only(ok: int, wrong: int = 404, otherwise: int = 401) -> dict:
    return only({"learner": ok, "learner_wrong": wrong}, otherwise)


COORD = {"coord_umea": 200, "coord_lycksele": 200, "coord_region": 200, "operator": 403}
NO_OPERATOR = {"operator": 403}  # the allocation service knows an operator's token, and refuses it here


def console(region: int, umea: int | None = None, lycksele: int | None = None, operator: int = 403) -> dict:
    """A console page: the signed-in staff get what their role allows; anyone else is sent to sign in."""
    return {**everyone(303), "staff_region": region, "staff_umea": 403 if umea is None else umea,
            "staff_lycksele": 403 if lycksele is None else lycksele, "staff_operator": operator}
# Bearer tokens of the wrong kind are unknown to a service: 401, as a garbled one.
OTHER_BEARERS = ("garbled", "muni_umea", "muni_lycksele", "region", "coord_umea", "coord_lycksele", "coord_region",
                 "operator")


def expected_table() -> dict:
    public = everyone(200)
    learner_by_secret_or_coord = {**everyone(404), **{c: 401 for c in ("garbled", "muni_umea", "muni_lycksele",
                                                                        "region")},
                                  "coord_umea": 200, "coord_region": 200, "coord_lycksele": 403, "operator": 403,
                                  "learner": 200}
    return {
        # --- catalogue: reading is public; a feed is pushed by its own municipality or the region
        ("catalogue", "GET /healthz"): public, ("catalogue", "GET /readyz"): public,
        ("catalogue", "GET /v1/courses"): public, ("catalogue", "GET /v1/courses/{course_id}"): public,
        ("catalogue", "GET /v1/feeds/{feed_id}"): public, ("catalogue", "GET /v1/learning-centres"): public,
        ("catalogue", "GET /v1/municipalities"): public, ("catalogue", "GET /v1/validation-offers"): public,
        ("catalogue", "PUT /v1/feeds/{municipality}"): only({"muni_umea": 200, "region": 200}, muni_lycksele=403),
        ("catalogue", "PATCH /v1/feeds/{municipality}"): only({"muni_umea": 200, "region": 200}, muni_lycksele=403),
        ("catalogue", "GET /v1/feeds"): only({"muni_umea": 200, "region": 200}, muni_lycksele=403),
        # --- search is open to all; its old chat pages redirect to guidance
        ("search", "GET /"): everyone(308), ("search", "GET /counsellor"): everyone(308),
        ("search", "GET /healthz"): public, ("search", "GET /readyz"): public,
        ("search", "POST /v1/search"): public, ("search", "POST /v1/understand"): public,
        ("search", "POST /v1/occurrences/known"): public, ("search", "GET /v1/index/digests"): public,
        # --- guidance: chatting is open to all; a conversation is its secret's
        ("guidance", "GET /"): public, ("guidance", "GET /counsellor"): public,
        ("guidance", "GET /healthz"): public, ("guidance", "GET /readyz"): public,
        ("guidance", "GET /v1/municipalities"): public,
        ("guidance", "GET /v1/parked"): only({"operator": 200}),
        ("guidance", "POST /v1/parked/{queue}/replay"): only({"operator": 200}),
        # Without a secret a chat turn starts a new conversation; a wrong one is no conversation.
        ("guidance", "POST /v1/chat"): {**everyone(200), "learner_wrong": 404},
        ("guidance", "GET /v1/chat/session"): learner_only(200),
        ("guidance", "POST /v1/chat/marks"): learner_only(200),
        ("guidance", "POST /v1/chat/apply"): learner_only(202),
        ("guidance", "POST /v1/counsellor/login"): only({"counsellor": 200}),  # the others' passwords are wrong
        ("guidance", "GET /v1/counsellor/me"): only({"counsellor": 200}),
        ("guidance", "GET /v1/counsellor/sessions"): only({"counsellor": 200}),
        ("guidance", "POST /v1/counsellor/sessions"): only({"counsellor": 200}),
        ("guidance", "GET /v1/counsellor/sessions/{code}"): only({"counsellor": 200}),
        ("guidance", "POST /v1/counsellor/sessions/{code}/marks"): only({"counsellor": 200}),
        ("guidance", "POST /v1/counsellor/sessions/{code}/notes"): only({"counsellor": 201}),
        ("guidance", "POST /v1/counsellor/sessions/{code}/search"): only({"counsellor": 200}),
        ("guidance", "POST /v1/counsellor/sessions/{code}/additions"): only({"counsellor": 201}),
        ("guidance", "POST /v1/counsellor/sessions/{code}/summary"): only({"counsellor": 202}),
        # --- allocation
        ("allocation", "GET /healthz"): public, ("allocation", "GET /readyz"): public,
        ("allocation", "POST /v1/applications"): everyone(202),  # anyone may apply (each caller its own form)
        ("allocation", "POST /v1/applications/{id}/confirm"): {**everyone(404), "learner": 200},
        ("allocation", "GET /applications/{id}/confirm"): {**everyone(404), "learner": 200},
        ("allocation", "POST /applications/{id}/confirm"): {**everyone(404), "learner": 200},
        ("allocation", "GET /applications/{id}"): {**everyone(404), "learner": 200},  # the receipt's status page
        ("allocation", "GET /v1/applications/{id}"): learner_by_secret_or_coord,
        ("allocation", "POST /v1/applications/{id}/approvals"): only({"coord_umea": 200, "coord_region": 200},
                                                                     coord_lycksele=403, operator=403),
        ("allocation", "GET /v1/approvals"): only(COORD),
        ("allocation", "GET /v1/demand"): only(COORD),
        ("allocation", "POST /v1/distributions"): only({"coord_region": 201}, coord_umea=403, coord_lycksele=403,
                                                       operator=403),
        ("allocation", "GET /v1/distributions"): only(COORD),
        ("allocation", "GET /v1/distributions/{id}"): only(COORD),
        ("allocation", "POST /v1/distributions/{id}/adopt"): only({"coord_region": 200}, coord_umea=403,
                                                                  coord_lycksele=403, operator=403),
        ("allocation", "POST /v1/needs"): only({"coord_region": 201}, coord_umea=403, coord_lycksele=403,
                                               operator=403),
        ("allocation", "GET /v1/needs"): only(COORD),
        ("allocation", "GET /v1/reports"): only(COORD),
        ("allocation", "POST /v1/rounds"): only({"coord_region": 201}, coord_umea=403, coord_lycksele=403,
                                                operator=403),
        ("allocation", "GET /v1/rounds"): only(COORD),
        ("allocation", "GET /v1/rounds/{id}"): only(COORD),
        ("allocation", "GET /v1/rounds/{id}/occurrences"): only(COORD),
        ("allocation", "GET /v1/rounds/{id}/occurrences/{occurrence_id}"): only({**COORD, "coord_lycksele": 403}),
        ("allocation", "POST /v1/offers/tick"): only(COORD),
        ("allocation", "GET /v1/parked"): only({"operator": 200}, coord_umea=403, coord_lycksele=403,
                                               coord_region=403),
        ("allocation", "POST /v1/parked/{queue}/replay"): only({"operator": 200}, coord_umea=403,
                                                               coord_lycksele=403, coord_region=403),
        # An offer is answered with the token from its e-mail, whoever holds it.
        ("allocation", "GET /offers/{id}"): {**everyone(404), "learner": 200},
        ("allocation", "POST /offers/{id}"): {**everyone(404), "learner": 303},
        ("allocation", "POST /v1/offers/{id}/accept"): {**everyone(404), "learner": 200},
        ("allocation", "POST /v1/offers/{id}/decline"): {**everyone(404), "learner": 200},
        # --- notifier: its operator only
        ("notifier", "GET /healthz"): public, ("notifier", "GET /readyz"): public,
        ("notifier", "GET /v1/deliveries"): only({"operator": 200}),
        ("notifier", "POST /v1/deliveries/{id}/resend"): only({"operator": 404}),  # allowed in; no such delivery
        ("notifier", "GET /v1/parked"): only({"operator": 200}),
        ("notifier", "POST /v1/parked/{queue}/replay"): only({"operator": 200}),
        # --- the console: pages for signed-in staff, each with what their role and municipality allow
        ("console", "GET /healthz"): public, ("console", "GET /readyz"): public,
        ("console", "GET /signin"): public, ("console", "GET /static/console.css"): public,
        ("console", "POST /signin"): {**everyone(401), **{c: 303 for c in STAFF}},  # the others' passwords are wrong
        ("console", "GET /"): everyone(303),  # to the person's first page, or to sign in
        ("console", "GET /municipalities"): console(303, 303, 303),
        ("console", "GET /municipalities/{code}"): console(200, 200, 403),  # Umeå's page
        ("console", "POST /municipalities/{code}/uploads"): console(200, 200, 403),
        ("console", "POST /municipalities/{code}/uploads/{upload_id}/confirm"): console(404, 404, 403),  # none waits
        ("console", "GET /seats"): console(200),
        ("console", "POST /seats"): console(303),
        ("console", "GET /seats/compare"): console(200),
        ("console", "GET /seats/{id}"): console(200),
        ("console", "POST /seats/{id}/adopt"): console(303),
        ("console", "GET /seats/{id}/grant.csv"): console(200),
        ("console", "GET /needs"): console(200, 200, 200),
        ("console", "POST /needs"): console(303),
        ("console", "GET /rounds"): console(200, 200, 200),
        ("console", "POST /rounds"): console(303),
        ("console", "GET /rounds/{id}"): console(200, 200, 200),
        ("console", "GET /rounds/{id}/occurrences/{occurrence_id}"): console(200, 200, 403),  # Umeå's course
        ("console", "GET /approvals"): console(200, 200, 200),
        ("console", "POST /approvals/{id}/{rank}"): console(303, 303, 403),  # an Umeå resident's choice
        ("console", "GET /reports"): console(200, 200, 200),
        ("console", "GET /reports.csv"): console(200, 200, 200),
        ("console", "GET /operations"): console(403, operator=200),
        ("console", "POST /operations/parked/{service}/{queue}/replay"): console(403, operator=303),
        ("console", "POST /operations/deliveries/{id}/resend"): console(403, operator=404),  # no such delivery
        # --- last, as they end what the others use
        ("guidance", "POST /v1/counsellor/logout"): everyone(200),
        ("guidance", "DELETE /v1/chat/session"): learner_only(200),
        ("allocation", "DELETE /v1/applications/{id}"): {**learner_by_secret_or_coord, "coord_umea": 403},
        ("console", "POST /signout"): everyone(303),
        # The status page's erase button: the secret's holder only (erasing again says it is erased).
        ("allocation", "POST /applications/{id}/erase"): {**everyone(404), "learner": 200},
    }


def documented_operations() -> set:
    ops = set()
    for service in ("catalogue", "search", "allocation", "notifier", "guidance", "console"):
        doc = json.loads((DOCS / f"{service}.json").read_text())
        for path, methods in doc["paths"].items():
            ops |= {(service, f"{m.upper()} {path}") for m in methods}
    return ops


async def test_every_endpoint_answers_every_kind_of_caller_as_it_should(catalogue, allocation, notifier, search,
                                                                       guidance, console):
    table = expected_table()
    assert set(table) == documented_operations(), "every documented route needs its row (and no more)"

    # --- the world the callers act in ---
    feed = bundle("2480", {"AUTH1": 1, "AUTH2": 1, "AUTH3": 1})
    for ev in feed["educationEvents"]:
        ev["content"]["places"] = 5
    status, report = await catalogue.push("2480", feed)
    assert status == 200
    feed_id = report["feed_id"]
    await search.wait_indexed("course", "i.2480.AUTH3")
    from tests.test_allocation_service import form, occurrences_known

    await occurrences_known(allocation, ["e.2480.AUTH1.1", "e.2480.AUTH2.1", "e.2480.AUTH3.1"])
    apps = {}
    for occ in ("AUTH1", "AUTH2", "AUTH3"):
        status, apps[occ] = await allocation.apply(form([f"e.2480.{occ}.1"]))
        assert status == 200
    status, rnd = await allocation.call("POST", "/v1/rounds", {})
    assert rnd["offers"] == 3
    from services.allocation import storage as alloc_storage

    async with allocation.service.engine.connect() as conn:
        offer_of = {r.occurrence_id.split(".")[2]: r.id for r in (await conn.execute(select(alloc_storage.offers))).all()}
    status, dist = await allocation.call("POST", "/v1/distributions", {
        "year": 2027, "total_places": 10, "regional_needs": {"Allmänna ämnen": 1},
        "municipalities": [{"code": "2480", "name": "Umeå", "population": 130000, "unemployed": 4000,
                            "own_places": 5}]})
    assert status == 201
    async with guidance.http.post(f"{guidance.url}/v1/chat", json={"message": "Jag vill bli svetsare i Umeå"}) as r:
        conversation = await r.json(content_type=None)
    sid, code = conversation["session_id"], conversation["code"]
    result_id = conversation["suggestions"][0]["id"]
    from services.guidance.conversations import create_counsellor

    password = "vägledning-" + pysecrets.token_hex(4)
    async with guidance.service.engine.begin() as conn:
        await create_counsellor(conn, "matrix", "Matrix Vägledare", None, password)
    async with guidance.http.post(f"{guidance.url}/v1/counsellor/login",
                                json={"username": "matrix", "password": password}) as r:
        cookie = r.cookies["vux_counsellor"].value
    # The counsellor has the learner's code: the conversation is opened once before the matrix runs.
    async with aiohttp.ClientSession(cookies={"vux_counsellor": cookie}) as c:
        async with c.post(f"{guidance.url}/v1/counsellor/sessions", json={"code": code}) as r:
            assert r.status == 200

    bearer = {"garbled": "vux_000000000000_" + "x" * 43, "muni_umea": await catalogue.token("2480"),
              "muni_lycksele": await catalogue.token("2481"), "region": catalogue.region_token,
              "coord_umea": await allocation.token("2480"), "coord_lycksele": await allocation.token("2481"),
              "coord_region": allocation.coordinator_token, "operator": await notifier.token()}
    # An operator has an operator token in each service that has operators.
    operator_at = {"allocation": await allocation.token(role="operator"), "notifier": bearer["operator"],
                   "guidance": await guidance.token()}
    status, console_dist = await allocation.call("POST", "/v1/distributions", {
        "year": 2028, "total_places": 10, "regional_needs": {"Allmänna ämnen": 1},
        "municipalities": [{"code": "2480", "name": "Umeå", "population": 130000, "unemployed": 4000,
                            "own_places": 5}]})
    assert status == 201
    staff = {}  # who -> (username, password, cookie, form token)
    for who, role, muni in (("staff_region", "regional", None), ("staff_umea", "municipality", "2480"),
                            ("staff_lycksele", "municipality", "2481"), ("staff_operator", "operator", None)):
        username = who.removeprefix("staff_")
        pw = await console.staff(username, role, muni)
        staff[who] = (username, pw, *await console.service.sign_in(username, pw))
    seat_form = {"year": "2029", "total_places": "30", "key_equal": "10", "key_population": "45",
                 "key_unemployment": "45", "need_0": "100"}
    seat_form |= {f"{f}_{c}": "100" for c in ("2401", "2403", "2404", "2409", "2417", "2418", "2421", "2422", "2425",
                                             "2460", "2462", "2463", "2480", "2481", "2482") for f in ("pop", "unemp", "own")}
    needs_csv = b"target,weight,shortage,source,year\nVard och omsorg,1,,Matrix,2026\n".replace(b"Vard", "Vård".encode())
    wrong = pysecrets.token_urlsafe(24)
    answer = {occ: allocation.service.answer_token(offer_of[occ]) for occ in offer_of}
    base = {"catalogue": catalogue.url, "search": search.url, "allocation": allocation.url, "notifier": notifier.url,
            "guidance": guidance.url, "console": console.url}

    def request_for(service: str, op: str, who: str, n: int) -> dict:
        """Method, URL, headers and body for one call by one caller."""
        method, path = op.split(" ", 1)
        learner = {"learner": True, "learner_wrong": False}.get(who)
        app = apps["AUTH1"]
        offer_occ = {"GET /offers/{id}": "AUTH3", "POST /offers/{id}": "AUTH3",
                     "POST /v1/offers/{id}/accept": "AUTH1", "POST /v1/offers/{id}/decline": "AUTH2"}.get(op)
        ids = {"{course_id}": "i.2480.AUTH1", "{feed_id}": feed_id, "{municipality}": "2480",
               "{code}": "2480" if service == "console" else code, "{rank}": "1", "{upload_id}": str(uuid.uuid4()),
               "{occurrence_id}": "e.2480.AUTH1.1",
               "{service}": "allocation", "{queue}": {"notifier": "notifier.mail", "guidance": "guidance.chat-applications"}.get(
                   service, "allocation.demand"),
               "{id}": (offer_of[offer_occ] if offer_occ else app["application_id"]
                        if "applications" in path or "approvals" in path
                        else dist["distribution_id"] if "distributions" in path
                        else console_dist["distribution_id"] if "seats" in path
                        else rnd["round_id"] if "rounds" in path else "999")}
        for k, v in ids.items():
            path = path.replace(k, v)
        headers, params, body, data = {}, {}, None, None
        if who in bearer:
            headers["Authorization"] = f"Bearer {operator_at.get(service, bearer[who]) if who == 'operator' else bearer[who]}"
        csrf = ""
        if who in staff:
            headers["Cookie"] = f"vux_console={staff[who][2]}"
            csrf = staff[who][3]
        if who == "counsellor":
            headers["Cookie"] = f"vux_counsellor={cookie}"
        if learner is not None:
            headers["X-Chat-Session"] = sid if learner else wrong
            headers["X-Application-Secret"] = app["secret"] if learner else wrong
        token = (answer[offer_occ] if learner else wrong) if offer_occ else None
        if op == "GET /offers/{id}" and token:
            params["token"] = token
        body = {
            "PUT /v1/feeds/{municipality}": feed, "PATCH /v1/feeds/{municipality}": {"educationEvents": []},
            "POST /v1/search": {"text": "svetsare"}, "POST /v1/understand": {"text": "svetsare"},
            "POST /v1/occurrences/known": {"ids": ["e.2480.AUTH1.1"]},
            "POST /v1/chat": {"message": "helst på distans", "session_id": sid if learner else wrong}
            if learner is not None else {"message": "Jag vill bli svetsare"},
            "POST /v1/chat/marks": {"result_id": result_id, "mark": "saved"},
            "POST /v1/chat/apply": {"choices": ["e.2480.AUTH1.1"], "consent": True, "applicant": {
                "name": "Matrix Learner", "email": f"matrix{n}@example.se", "home_municipality": "2480",
                "education_level": "primary", "employment": "unemployed"}},
            "POST /v1/counsellor/login": {"username": "matrix", "password": password if who == "counsellor"
                                          else "not-the-password"},
            "POST /v1/counsellor/sessions": {"code": code},
            "POST /v1/counsellor/sessions/{code}/marks": {"result_id": result_id, "mark": "pinned"},
            "POST /v1/counsellor/sessions/{code}/notes": {"text": "En anteckning"},
            "POST /v1/counsellor/sessions/{code}/search": {"text": "AUTH1"},
            "POST /v1/counsellor/sessions/{code}/additions": {"text": "AUTH1", "result_id": "i.2480.AUTH1"},
            "POST /v1/counsellor/sessions/{code}/summary": {"name": "Matrix Learner", "email": "m@example.se"},
            "POST /v1/applications": form(["e.2480.AUTH1.1"], email=f"apply{n}@example.se"),
            "POST /v1/applications/{id}/approvals": {"rank": 1, "approved": True},
            "POST /v1/distributions": {"year": 2027, "total_places": 10, "regional_needs": {"Allmänna ämnen": 1},
                                       "municipalities": [{"code": "2480", "name": "Umeå", "population": 1,
                                                           "unemployed": 1, "own_places": 1}]},
            "POST /v1/rounds": {},
            "POST /v1/offers/{id}/accept": {"token": token or "none"},
            "POST /v1/offers/{id}/decline": {"token": token or "none"},
        }.get(op)
        if op == "POST /offers/{id}":
            body, data = None, {"token": token or "", "answer": "accept"}
        if op == "GET /v1/feeds":
            params["municipality"] = "2480"
        if op == "GET /v1/reports":
            params.update({"from": "2026-01-01", "to": "2027-12-31"})
        if op == "POST /v1/needs":
            data, headers["Content-Type"] = needs_csv, "text/csv"
        if service == "console":
            if op == "GET /seats/compare":
                params.update(a=console_dist["distribution_id"], b=dist["distribution_id"])
            if method == "POST":
                data = {"csrf": csrf, "decision": "approve", **(seat_form if op == "POST /seats" else {})}
            if op == "POST /signin":
                data = {"username": staff[who][0] if who in staff else "nobody",
                        "password": staff[who][1] if who in staff else "not-the-password"}
            if op in ("POST /municipalities/{code}/uploads", "POST /needs"):
                data = aiohttp.FormData()
                data.add_field("csrf", csrf)
                if op == "POST /needs":
                    data.add_field("file", needs_csv, filename="behov.csv", content_type="text/csv")
                else:
                    data.add_field("file", json.dumps(feed).encode(), filename="kurser.json",
                                   content_type="application/json")
        if op in ("POST /applications/{id}/confirm", "POST /applications/{id}/erase"):
            body, data = None, {"secret": {True: app["secret"], False: wrong}.get(learner, "")}
        return {"method": method, "url": base[service] + path, "headers": headers, "params": params,
                "json": body, "data": data, "allow_redirects": False}

    got, n = {}, 0
    async with aiohttp.ClientSession() as http:  # no cookie jar: each caller sends only its own credentials
        for (service, op), want in table.items():
            # Callers who are let in go last, so that what they change (an answered offer, a forgotten
            # conversation) does not change the others' answers.
            for who in sorted(CALLERS, key=lambda c: want[c] < 400):
                n += 1
                async with http.request(**request_for(service, op, who, n)) as r:
                    got[(service, op, who)] = r.status
    wrong_answers = {f"{s} {op} as {who}": f"got {status}, want {table[(s, op)][who]}"
                     for (s, op, who), status in got.items() if status != table[(s, op)][who]}
    assert wrong_answers == {}
