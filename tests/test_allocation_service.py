"""The allocation service with the real catalogue, RabbitMQ and both databases."""
import asyncio
import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.allocation import storage
from shared.events import ApplicationSubmitted, ChatTurnObserved, ChatTurnPayload
from tests.conftest import sqlite_bytes
from tests.feeds import bundle, edit


def form(occurrences, *, email=None, education="primary", employment="unemployed", home="2480", **extra):
    return {
        "submission_id": extra.pop("submission_id", str(uuid.uuid4())),
        "applicant": {"name": "Sara Nilsson", "email": email or f"{uuid.uuid4().hex[:8]}@example.se",
                      "home_municipality": home, "education_level": education, "employment": employment,
                      "lang": extra.pop("lang", "sv")},
        "choices": list(occurrences), "consent": extra.pop("consent", True), **extra,
    }


async def occurrences_known(allocation, ids, timeout=10.0):
    for _ in range(int(timeout * 20)):
        async with allocation.service.engine.connect() as conn:
            rows = (await conn.execute(select(storage.occurrences.c.id).where(
                storage.occurrences.c.id.in_(ids), storage.occurrences.c.active.is_(True)))).all()
        if len(rows) == len(ids):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("occurrences never reached the allocation service")


async def seed_courses(catalogue, allocation, places=1):
    feed = bundle("2480", {"SVETS": 1, "VARD": 1})
    for ev in feed["educationEvents"]:
        ev["content"]["places"] = places
    other = bundle("2482", {"KOCK": 1})
    other["educationEvents"][0]["content"]["places"] = 5
    assert (await catalogue.push("2480", feed))[0] == 200
    assert (await catalogue.push("2482", other))[0] == 200
    await occurrences_known(allocation, ["e.2480.SVETS.1", "e.2480.VARD.1", "e.2482.KOCK.1"])
    return feed


async def test_applications_are_validated_and_idempotent(catalogue, allocation, collector):
    await seed_courses(catalogue, allocation)
    f = form(["e.2480.SVETS.1", "e.2482.KOCK.1"], email="Sara@Example.se")
    status, body = await allocation.apply(f)
    assert status == 200 and body["secret"] and body["priority_group"] == 1 and body["status"] == "received"
    app_id = body["application_id"]
    assert [c["approval"] for c in body["choices"]] == ["approved", "approved"]
    status, again = await allocation.call("POST", "/v1/applications", f, token="")
    assert status == 202 and again["status"] == "confirmation_sent"
    changed = edit(f)
    changed["choices"] = ["e.2480.VARD.1"]
    status, err = await allocation.call("POST", "/v1/applications", changed, token="")
    assert status == 409 and "submission_id" in err["detail"] and app_id not in json.dumps(err)
    cases = [
        (form(["e.2480.NOPE.1"]), 422, "choices[0]"),
        (form(["e.2480.VARD.1"], email="not-an-address"), 422, "applicant.email"),
        (form(["e.2480.VARD.1"], consent=False), 422, "consent"),
        (form(["e.2480.VARD.1", "e.2480.VARD.1"]), 422, "twice"),
        (form([]), 422, "choices"),
        (form(["e.2480.VARD.1"], education="phd"), 422, "education_level"),
        (form(["e.2480.VARD.1"], home="0180"), 422, "home_municipality"),
    ]
    for body, want, needle in cases:
        status, err = await allocation.call("POST", "/v1/applications", body, token="")
        assert status == want and needle in err["detail"], (needle, err)
    async with allocation.http.post(f"{allocation.url}/v1/applications", data=b"{oops",
                                     headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400 and "malformed JSON" in (await r.json(content_type=None))["detail"]
    await collector.wait_types(application__received=1)
    received = [e for e in await collector.quiet(0.5) if e.type == "application.received"]
    assert len(received) == 1 and received[0].payload.contact.email == "Sara@example.se"  # domain normalised
    assert [c.id for c in received[0].payload.choices] == ["e.2480.SVETS.1", "e.2482.KOCK.1"]
    assert len(collector.of_type("application.confirmation_requested")) == 1  # the repeat mailed nothing


async def test_the_answer_says_nothing_about_the_address(catalogue, allocation, collector):
    """A known address and a new one get the same answer, byte for byte; only the owner learns, by e-mail."""
    await seed_courses(catalogue, allocation)
    assert (await allocation.apply(form(["e.2480.SVETS.1"], email="known@example.se")))[0] == 200
    answers = []
    for email in ("known@example.se", "new@example.se"):
        async with allocation.http.post(f"{allocation.url}/v1/applications",
                                         json=form(["e.2480.VARD.1"], email=email)) as r:
            answers.append((r.status, dict(r.headers).keys() - {"Date"}, await r.read()))
    assert answers[0][0] == 202 and answers[0] == answers[1], answers
    await collector.wait_types(application__rejected=1, application__confirmation_requested=2)
    note = collector.of_type("application.rejected")[0].payload
    assert note.contact.email == "known@example.se" and "redan en aktiv ansökan" in note.reason
    assert note.application_id is None and note.submission_id is None  # nothing for the assistant to show
    confirms = collector.of_type("application.confirmation_requested")
    assert [e.payload.contact.email for e in confirms] == ["known@example.se", "new@example.se"]
    # The owner holds only the old receipt's link: no second application was made for the address.
    async with allocation.service.engine.connect() as conn:
        rows = (await conn.execute(select(storage.applications.c.email, storage.applications.c.status))).all()
    assert sorted(rows) == [("known@example.se", "received"), ("new@example.se", "unconfirmed")]


async def test_an_application_counts_only_once_confirmed(catalogue, allocation, collector):
    await seed_courses(catalogue, allocation, places=1)
    f = form(["e.2480.SVETS.1"], email="late@example.se", lang="en")
    assert (await allocation.call("POST", "/v1/applications", f, token=""))[0] == 202
    url = await allocation.links.wait(f["submission_id"])
    assert "/applications/" in url and "secret=" in url
    status, summary = await allocation.call("POST", "/v1/rounds", {})
    assert status == 201 and summary["applicants"] == 0  # not counted yet
    status, demand = await allocation.call("GET", "/v1/demand")
    assert not [c for c in demand["items"] if c["applications"]]
    # A mail scanner that opens the link confirms nothing: the page only shows the button.
    async with allocation.http.get(url) as r:
        page = await r.text()
        assert r.status == 200 and "Confirm the application" in page and "Kurs SVETS" in page
    status, summary = await allocation.call("POST", "/v1/rounds", {})
    assert summary["applicants"] == 0
    secret = url.split("secret=")[1]
    async with allocation.http.post(url.split("?")[0], data={"secret": secret}) as r:
        page = await r.text()
        assert r.status == 200 and "confirmed and registered" in page, page
    async with allocation.http.post(url.split("?")[0], data={"secret": secret}) as r:  # pressed twice
        assert r.status == 200 and "already confirmed" in await r.text()
    await collector.wait_types(application__received=1)
    await collector.quiet(0.5)
    received = collector.of_type("application.received")
    assert len(received) == 1 and "secret=" in received[0].payload.status_url
    status, summary = await allocation.call("POST", "/v1/rounds", {})
    assert summary["applicants"] == 1 and summary["offers"] == 1
    async with allocation.http.post(url.split("?")[0], data={"secret": "wrong"}) as r:
        assert r.status == 404 and "no application waiting" in await r.text()


async def test_an_unconfirmed_application_is_forgotten_after_a_day(catalogue, allocation, collector):
    await seed_courses(catalogue, allocation)
    f = form(["e.2480.VARD.1"], email="never@example.se")
    assert (await allocation.call("POST", "/v1/applications", f, token=""))[0] == 202
    url = await allocation.links.wait(f["submission_id"])
    svc = allocation.service
    assert await svc.forget_unconfirmed(now=storage.now() + timedelta(hours=23)) == 0
    assert await svc.forget_unconfirmed(now=storage.now() + timedelta(hours=25)) == 1
    async with svc.engine.connect() as conn:
        assert (await conn.execute(select(storage.applications))).all() == []
        assert (await conn.execute(select(storage.choices))).all() == []
    app_id, secret = url.split("/applications/")[1].split("/confirm?secret=")
    status, err = await allocation.call("POST", f"/v1/applications/{app_id}/confirm", token="",
                                        headers={"X-Application-Secret": secret})
    assert status == 404
    for _ in range(50):
        on_disk = sqlite_bytes(svc.engine)
        if on_disk is None or b"never@example.se" not in on_disk:
            break
        await asyncio.sleep(0.1)
    assert on_disk is None or b"never@example.se" not in on_disk


async def test_applicant_sees_their_own_application_only(catalogue, allocation):
    await seed_courses(catalogue, allocation)
    status, body = await allocation.apply(form(["e.2480.VARD.1"]))
    app_id, secret = body["application_id"], body["secret"]
    status, view = await allocation.call("GET", f"/v1/applications/{app_id}", token="", secret=secret)
    assert status == 200 and view["choices"][0]["title"] == "Kurs VARD" and view["status"] == "received"
    assert (await allocation.call("GET", f"/v1/applications/{app_id}", token="", secret="wrong"))[0] == 404
    assert (await allocation.call("GET", f"/v1/applications/{app_id}", token=""))[0] == 404
    assert (await allocation.call("GET", f"/v1/applications/{app_id}"))[0] == 200  # a coordinator


async def test_submission_command_over_the_bus(catalogue, allocation, collector, publish):
    await seed_courses(catalogue, allocation)
    ok = ApplicationSubmitted(producer="guidance", payload=form(["e.2480.VARD.1"], email="bus@example.se"))
    bad = ApplicationSubmitted(producer="guidance", payload=form(["e.2480.GONE.1"], email="bad@example.se"))
    for ev in (ok, bad, ok):  # the first one delivered twice
        await publish(ev)
    await collector.wait_types(application__confirmation_requested=1, application__rejected=1)
    await collector.quiet(1.0)
    asked = collector.of_type("application.confirmation_requested")
    rejected = collector.of_type("application.rejected")
    assert [e.payload.contact.email for e in asked] == ["bus@example.se"]
    assert len(rejected) == 1 and rejected[0].payload.contact.email == "bad@example.se"
    assert "choices[0]" in rejected[0].payload.reason


async def test_round_offers_by_priority_and_the_reserve_list_moves_up(catalogue, allocation, collector):
    await seed_courses(catalogue, allocation, places=1)
    apps = {}
    for who, edu, emp in (("weak", "primary", "unemployed"), ("mid", "primary", "employed"),
                          ("strong", "post_secondary", "employed")):
        status, body = await allocation.apply(form(["e.2480.SVETS.1"], email=f"{who}@example.se", education=edu,
                                                   employment=emp))
        apps[who] = body
    status, summary = await allocation.call("POST", "/v1/rounds", {"seed": "2027-vt-1"})
    assert status == 201 and summary["offers"] == 1 and summary["waitlisted"] == 2 and summary["seed"] == "2027-vt-1"
    await collector.wait_types(offer__made=1, application__waitlisted=2)
    offer = collector.of_type("offer.made")[0].payload
    assert offer.contact.email == "weak@example.se" and offer.choice_rank == 1 and "/offers/" in offer.answer_url
    waits = {e.payload.contact.email: e.payload.positions[0].position for e in collector.of_type("application.waitlisted")}
    assert waits == {"mid@example.se": 1, "strong@example.se": 2}
    status, result = await allocation.call("GET", f"/v1/rounds/{summary['round_id']}")
    expl = result["results"][apps["mid"]["application_id"]]["explanation"]
    assert "Prioritetsgrupp 2" in expl[0] and "fullt" in expl[1] and "reservplats 1" in expl[1]
    # The weak applicant declines through the link in the e-mail; round two offers the seat to reserve no. 1.
    token = offer.answer_url.split("token=")[1]
    status, page = await allocation.call("GET", f"/offers/{offer.offer_id}", token="", params={"token": token})
    assert status == 200 and "Kurs SVETS" in page and "Ja, jag tar platsen" in page
    status, ans = await allocation.call("POST", f"/v1/offers/{offer.offer_id}/decline", {"token": token}, token="")
    assert status == 200 and ans["status"] == "declined"
    assert (await allocation.call("POST", f"/v1/offers/{offer.offer_id}/accept", {"token": token}, token=""))[0] == 409
    assert (await allocation.call("POST", f"/v1/offers/{offer.offer_id}/accept", {"token": "forged"}, token=""))[0] == 404
    status, summary2 = await allocation.call("POST", "/v1/rounds", {})
    assert summary2["offers"] == 1
    await collector.wait_types(offer__declined=1, offer__made=2, application__waitlisted=3)
    second = collector.of_type("offer.made")[-1].payload
    assert second.contact.email == "mid@example.se"
    token2 = second.answer_url.split("token=")[1]
    status, ans = await allocation.call("POST", f"/v1/offers/{second.offer_id}/accept", {"token": token2}, token="")
    assert ans["status"] == "accepted"
    status, view = await allocation.call("GET", f"/v1/applications/{apps['mid']['application_id']}", token="",
                                         secret=apps["mid"]["secret"])
    assert view["status"] == "accepted" and view["choices"][0]["state"] == "accepted"
    status, summary3 = await allocation.call("POST", "/v1/rounds", {})
    assert summary3["offers"] == 0  # the only seat is taken


async def test_offers_lapse_after_the_deadline_with_a_reminder_first(catalogue, allocation, collector):
    await seed_courses(catalogue, allocation, places=2)
    await allocation.apply(form(["e.2480.VARD.1"]))
    await allocation.call("POST", "/v1/rounds", {})
    offer = collector.of_type("offer.made")[0] if await collector.wait_types(offer__made=1) else None
    deadline = offer.payload.deadline
    svc = allocation.service
    assert await svc.tick_offers(now=deadline - timedelta(days=3)) == {"expired": 0, "reminded": 0}
    assert await svc.tick_offers(now=deadline - timedelta(hours=24)) == {"expired": 0, "reminded": 1}
    assert await svc.tick_offers(now=deadline - timedelta(hours=23)) == {"expired": 0, "reminded": 0}
    assert await svc.tick_offers(now=deadline + timedelta(minutes=1)) == {"expired": 1, "reminded": 0}
    events = await collector.wait_types(offer__reminder=1, offer__expired=1)
    assert [e.type for e in events[-2:]] == ["offer.reminder", "offer.expired"]
    assert events[-2].payload.answer_url == offer.payload.answer_url


async def test_a_withdrawn_course_takes_its_offers_back(catalogue, allocation, collector):
    feed = await seed_courses(catalogue, allocation, places=1)
    await allocation.apply(form(["e.2480.SVETS.1"], email="held@example.se"))
    await allocation.call("POST", "/v1/rounds", {})
    await collector.wait_types(offer__made=1)
    smaller = edit(feed)
    smaller["educationInfos"] = [i for i in smaller["educationInfos"] if "SVETS" not in i["id"]]
    smaller["educationEvents"] = [e for e in smaller["educationEvents"] if "SVETS" not in e["id"]]
    assert (await catalogue.push("2480", smaller, params={"confirm_withdrawals": "true"}))[0] == 200
    await collector.wait_types(offer__withdrawn=1)
    gone = [e for e in await collector.quiet(1.0) if e.type == "offer.withdrawn"]
    assert len(gone) == 1 and gone[0].payload.contact.email == "held@example.se"


async def test_distribution_scenario_adoption_and_coordinator_rights(catalogue, allocation):
    await seed_courses(catalogue, allocation)
    body = {"year": 2027, "total_places": 30, "regional_needs": {"Allmänna ämnen": 1},
            "municipalities": [{"code": "2480", "name": "Umeå", "population": 130000, "unemployed": 4000, "own_places": 20},
                               {"code": "2482", "name": "Skellefteå", "population": 75000, "unemployed": 2000, "own_places": 1}]}
    assert (await allocation.call("POST", "/v1/distributions", body, token=""))[0] == 401
    muni = await allocation.token("2480")
    assert (await allocation.call("POST", "/v1/distributions", body, token=muni))[0] == 403
    status, scen = await allocation.call("POST", "/v1/distributions", body)
    assert status == 201 and scen["status"] == "scenario"
    assert sum(m["places"] for m in scen["municipalities"]) == 30 and any("Skellefteå" in v for v in scen["violations"])
    status, bad = await allocation.call("POST", "/v1/distributions", {**body, "key": {"equal": 1, "population": 1,
                                                                                      "unemployment": 0}})
    assert status == 422 and "add up to 1" in bad["detail"]
    # Nothing changes until it is adopted.
    async with allocation.service.engine.connect() as conn:
        assert (await conn.execute(select(storage.occurrences.c.funded_places))).scalars().all() == [None] * 3
    status, adopted = await allocation.call("POST", f"/v1/distributions/{scen['distribution_id']}/adopt")
    assert status == 200 and adopted["adopted_by"] == "test-coordinator"
    umea = next(m for m in scen["municipalities"] if m["code"] == "2480")["places"]
    o = storage.occurrences
    async with allocation.service.engine.connect() as conn:
        rows = (await conn.execute(select(o.c.municipality_code, o.c.area, o.c.funded_places))).all()
    # The Umeå occurrences in the funded area share Umeå's places; the others are not funded by it.
    funded = [r.funded_places for r in rows if r.municipality_code == "2480" and r.area == "Allmänna ämnen"]
    assert funded and sum(funded) == umea
    others = [r for r in rows if r.area != "Allmänna ämnen"]
    assert others and all(r.funded_places is None for r in others)
    status, view = await allocation.call("GET", f"/v1/distributions/{scen['distribution_id']}")
    assert view["status"] == "adopted" and view["adopted_at"]
    assert (await allocation.call("POST", f"/v1/distributions/{scen['distribution_id']}/adopt"))[0] == 409


async def test_erasure_forgets_the_person_and_keeps_statistics(catalogue, allocation, collector, publish):
    await seed_courses(catalogue, allocation)
    status, body = await allocation.apply(form(["e.2480.SVETS.1"], email="gone@example.se"))
    app_id = body["application_id"]
    await publish(ChatTurnObserved(producer="guidance", payload=ChatTurnPayload(
        areas=["Allmänna ämnen"], municipality_code="2480", lang="sv")))
    assert (await allocation.call("DELETE", f"/v1/applications/{app_id}", token="", secret="nope"))[0] == 404
    status, out = await allocation.call("DELETE", f"/v1/applications/{app_id}", token="", secret=body["secret"])
    assert status == 200 and out["status"] == "erased"
    async with allocation.service.engine.connect() as conn:
        row = (await conn.execute(select(storage.applications).where(storage.applications.c.id == app_id))).first()
    assert row.name is None and row.email is None and row.erased_at is not None
    await collector.wait_types(applicant__erased=1)
    for _ in range(50):  # once the outbox has published (and forgotten) the receipt's event
        on_disk = sqlite_bytes(allocation.service.engine)
        if on_disk is None or b"gone@example.se" not in on_disk:
            break
        await asyncio.sleep(0.1)
    assert on_disk is None or (on_disk and b"gone@example.se" not in on_disk)  # nor in free pages or the WAL
    assert collector.of_type("applicant.erased")[0].payload.application_id == app_id
    for _ in range(50):
        status, demand = await allocation.call("GET", "/v1/demand")
        cell = next((c for c in demand["items"] if c["area"] == "Allmänna ämnen" and c["municipality_code"] == "2480"), None)
        if cell and cell["chat_turns"]:
            break
        await asyncio.sleep(0.1)
    assert cell["applications"] == 1 and cell["chat_turns"] == 1
    assert (await allocation.call("GET", "/v1/demand", token=""))[0] == 401


async def test_occurrences_without_a_number_of_places_take_everyone(catalogue, allocation, collector):
    feed = bundle("2422", {"SFIKURSB": 1})  # no `places`: open intake, as for SFI
    assert (await catalogue.push("2422", feed))[0] == 200
    await occurrences_known(allocation, ["e.2422.SFIKURSB.1"])
    for i in range(3):
        await allocation.apply(form(["e.2422.SFIKURSB.1"], home="2422"))
    status, summary = await allocation.call("POST", "/v1/rounds", {})
    assert summary["offers"] == 3 and summary["open_intake_occurrences"] == 1


async def test_the_receipts_link_opens_a_readable_page_in_the_applicants_language(catalogue, allocation):
    await seed_courses(catalogue, allocation)
    status, body = await allocation.apply(form(["e.2480.VARD.1"], lang="ar"))
    app_id, secret = body["application_id"], body["secret"]
    assert body["status_url"].endswith(f"/applications/{app_id}?secret={secret}")  # a page, not the JSON API
    async with allocation.http.get(body["status_url"]) as r:
        page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
    assert 'lang="ar" dir="rtl"' in page and "طلبك" in page and f"المرجع: {app_id[:8]}" in page
    assert "Kurs VARD" in page and "في انتظار القبول" in page and "احذف طلبي" in page
    for wrong in ("wrong", ""):
        async with allocation.http.get(f"{allocation.url}/applications/{app_id}", params={"secret": wrong}) as r:
            assert r.status == 404 and "Kurs VARD" not in await r.text()
    # Erasing from the page: a wrong secret erases nothing; the right one forgets the applicant.
    async with allocation.http.post(f"{allocation.url}/applications/{app_id}/erase", data={"secret": "wrong"}) as r:
        assert r.status == 404
    assert (await allocation.call("GET", f"/v1/applications/{app_id}"))[1]["name"] == "Sara Nilsson"
    async with allocation.http.post(f"{allocation.url}/applications/{app_id}/erase", data={"secret": secret}) as r:
        assert r.status == 200 and "تم حذف طلبك" in await r.text()
    status, view = await allocation.call("GET", f"/v1/applications/{app_id}")
    assert view["erased"] and view["name"] is None and view["email"] is None
    async with allocation.http.get(body["status_url"]) as r:
        assert r.status == 404
    async with allocation.http.post(f"{allocation.url}/applications/{app_id}/erase", data="secret=%ff",
                                    headers={"Content-Type": "multipart/form-data; boundary=x"}) as r:
        assert r.status == 400 and r.content_type == "application/problem+json"
