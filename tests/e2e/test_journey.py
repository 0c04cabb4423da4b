"""The whole journey through the five services started by `make run`'s launcher, with the broker
restarted and every service killed (-9) once on the way:

1. Umeå and Skellefteå push their feeds; Vännäs pushes a broken one and is told what is wrong.
2. Sara chats (guidance) in Swedish, refines, and applies to courses in Skellefteå and Umeå; John chats in English
   and applies; Ali applies on the allocation service's own form.
3. The coordinator adopts a seat distribution and runs a round; the offers are e-mailed; John accepts,
   Sara declines; round two gives her seat to Ali, first on the reserve list.
4. Umeå withdraws the course John accepted: it leaves search within seconds and John is told.
5. Sara asks the chat to forget her, Ali the allocation service: nothing of them is left in any
   database; the statistics still count their applications.
After every fault: the search index equals the catalogue; in the end every e-mail that should exist
arrived exactly once, and no secret ever reached a log.
"""
from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections import Counter

import aiohttp
import pytest

from services.catalogue.demo import municipality_feed
from tests.conftest import CONFIRM_LINK, confirm_by_mail
from tests.e2e.county import County

pytestmark = pytest.mark.slow

UMEA, SKELLEFTEA, VANNAS = "2480", "2482", "2460"


def autumn_pair(suggestions: list[dict], skip: set[str] = frozenset()) -> tuple[dict, str, str] | None:
    """The first suggested care course given this autumn in both Skellefteå and Umeå."""
    for s in suggestions:
        if s["kind"] != "course" or s.get("area") != "Vård och omsorg" or s["id"] in skip:
            continue
        autumn = {o["id"].split(".")[1]: o["id"] for o in s.get("occurrences", []) if o.get("start", "") >= "2027-08"}
        if SKELLEFTEA in autumn and UMEA in autumn:
            return s, autumn[SKELLEFTEA], autumn[UMEA]
    return None


def to(smtp, address: str) -> list:
    return [m for m in smtp.messages if m["To"].addresses[0].addr_spec.lower() == address.lower()]


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def answer_link(message) -> tuple[str, str]:
    m = re.search(r"/offers/([0-9a-f-]{36})\?token=([A-Za-z0-9_.-]+)", body(message))
    assert m, body(message)
    return m.group(1), m.group(2)


@pytest.fixture(params=["sqlite", "postgres"])
async def county(request, tmp_path, smtp):
    c = County(tmp_path, smtp.port, request.param)
    try:
        await c.start()
        yield c
    finally:
        await c.stop()


async def index_equals_catalogue(county: County, when: str) -> dict:
    async def equal():
        report = await county.index_check()
        return report if report["equal"] else None

    try:
        return await county.until(equal, timeout=90, every=1.0, message=f"index equals catalogue {when}")
    except AssertionError:
        report = await county.index_check()
        raise AssertionError(f"search index differs from the catalogue {when}: "
                             f"{ {k: v[:5] if isinstance(v, list) else v for k, v in report.items()} }") from None


async def test_the_county_journey_under_faults(county: County, smtp):
    secrets = [county.coordinator, county.operator, county.counsellor_password]
    faults = {}

    # --- 1. feeds ---------------------------------------------------------------------------
    tokens = {m: county.cli("catalogue", "token", "create", "--municipality", m, "--name", f"feed {m}").stdout
              .strip().splitlines()[-1] for m in (UMEA, SKELLEFTEA, VANNAS)}
    secrets += list(tokens.values())
    umea_feed = municipality_feed(UMEA)
    status, report = await county.call("catalogue", "PUT", f"/v1/feeds/{UMEA}", umea_feed, token=tokens[UMEA])
    assert status == 200 and report["added"] == len(umea_feed["educationEvents"]) and not report["rejected"], report
    await county.kill9("catalogue")  # its outbox may still hold Umeå's course events: they must go out anyway
    faults["kill -9 catalogue after a push"] = "ok"

    skelleftea_feed = municipality_feed(SKELLEFTEA)
    status, report = await county.call("catalogue", "PUT", f"/v1/feeds/{SKELLEFTEA}", skelleftea_feed,
                                       token=tokens[SKELLEFTEA])
    assert status == 200 and not report["rejected"], report
    faults["RabbitMQ restart while feed events flow (s down)"] = round(await county.restart_rabbitmq(), 1)

    broken = json.dumps(municipality_feed(VANNAS))[:-40].encode()  # cut off in transfer
    status, err = await county.call("catalogue", "PUT", f"/v1/feeds/{VANNAS}", data=broken, token=tokens[VANNAS],
                                    headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON" in err["detail"] and "line" in err["detail"], err
    status, err = await county.call("catalogue", "PUT", f"/v1/feeds/{UMEA}", umea_feed, token=tokens[VANNAS])
    assert status == 403, err  # Vännäs's token cannot touch Umeå's feed
    status, listing = await county.call("catalogue", "GET", "/v1/courses", municipality=VANNAS)
    assert status == 200 and listing["items"] == []  # nothing of the broken feed was kept

    report = await index_equals_catalogue(county, "after the feeds")
    assert report["documents"] >= 140, report
    await county.wait_ready("search")

    # --- 2. learners ------------------------------------------------------------------------
    sara = await county.chat("Hej! Jag har jobbat som barnskötare i sju år och vill bli undersköterska. "
                             "Jag bor i Umeå.")
    sid = sara["session_id"]
    secrets.append(sid)
    assert sara["lang"] == "sv" and "undersköterska" in sara["understood"]["summary"]
    sara = await county.chat("Jag kan tänka mig att pendla till Skellefteå, och börja i höst", sid)
    assert "Umeå" in sara["understood"]["summary"], sara["understood"]  # still living in Umeå
    picked = autumn_pair(sara["suggestions"])
    assert picked, [(s["title"], s.get("area")) for s in sara["suggestions"]]
    sara_course, contested, sara_umea = picked
    # Skellefteå has one seat left on it; their feed says so.
    seat = next(e for e in skelleftea_feed["educationEvents"] if e["id"] == contested)
    seat["content"]["places"] = 1
    status, report = await county.call("catalogue", "PATCH", f"/v1/feeds/{SKELLEFTEA}",
                                       {"educationEvents": [seat]}, token=tokens[SKELLEFTEA])
    assert status == 200 and report["changed"] == 1, report
    status, receipt = await county.call("guidance", "POST", "/v1/chat/apply", {
        "session_id": sid, "submission_id": "sara-2027-ht", "choices": [contested, sara_umea], "consent": True,
        "applicant": {"name": "Sara Lindqvist", "email": "sara.lindqvist@example.se", "home_municipality": UMEA,
                      "education_level": "primary", "employment": "unemployed", "lang": "sv"}})
    assert status == 202 and receipt["status"] == "sent", receipt
    await county.kill9("guidance")  # the application is in its outbox, maybe not yet on the bus
    faults["kill -9 guidance after an application"] = "ok"
    await county.kill9("search")  # its index comes back from disk; guidance answers meanwhile
    faults["kill -9 search after an application"] = "ok"

    john = await county.chat("I have worked in home care for three years and want to become an assistant nurse. "
                             "I live in Umeå.")
    assert john["lang"] == "en" and "Umeå" in john["understood"]["summary"]
    johns = next((o["id"] for s in john["suggestions"] if s["kind"] == "course" and s["id"] != sara_course["id"]
                  for o in s.get("occurrences", []) if o["id"].startswith(f"e.{UMEA}.") and o["start"] >= "2027-08"),
                 None)
    assert johns, [(s["title"], s.get("area")) for s in john["suggestions"]]
    johns_code = johns.split(".")[2]
    status, receipt = await county.call("guidance", "POST", "/v1/chat/apply", {
        "session_id": john["session_id"], "choices": [johns], "consent": True,
        "applicant": {"name": "John Smith", "email": "john.smith@example.com", "home_municipality": UMEA,
                      "education_level": "upper_secondary", "employment": "unemployed", "lang": "en"}})
    assert status == 202, receipt
    secrets.append(john["session_id"])
    ali_form = {"submission_id": "ali-form-1", "choices": [contested], "consent": True,
                "applicant": {"name": "Ali Hassan", "email": "ali.hassan@example.se", "home_municipality": SKELLEFTEA,
                              "education_level": "post_secondary", "employment": "employed", "lang": "sv"}}
    for _ in range(60):  # allocation learns Skellefteå's seat change from the bus; until then the form gets 422
        status, ali = await county.call("allocation", "POST", "/v1/applications", ali_form)
        if status != 422:
            break
        await asyncio.sleep(0.5)
    assert status == 202 and ali["status"] == "confirmation_sent", ali
    faults["RabbitMQ restart while applications flow (s down)"] = round(await county.restart_rabbitmq(), 1)

    learners = ("sara.lindqvist@example.se", "john.smith@example.com", "ali.hassan@example.se")

    async def mails(n: int):
        return all(len(to(smtp, a)) >= n for a in learners)
    await county.until(lambda: mails(1), timeout=60, message="three confirmation e-mails")
    assert "bekräfta" in body(to(smtp, "sara.lindqvist@example.se")[0]).lower()
    assert to(smtp, "john.smith@example.com")[0]["Content-Language"] == "en"
    # Each opens the link in the e-mail and confirms: only then do the applications count.
    async with aiohttp.ClientSession() as http:
        for a in learners:
            await confirm_by_mail(http, to(smtp, a)[0])
    link = CONFIRM_LINK.search(body(to(smtp, "ali.hassan@example.se")[0])).group(0)
    ali_id, ali_secret = link.split("/applications/")[1].split("/confirm?secret=")
    ali = {"application_id": ali_id, "secret": ali_secret}
    secrets.append(ali_secret)
    await county.until(lambda: mails(2), timeout=60, message="three receipts")
    assert "ansökan" in body(to(smtp, "sara.lindqvist@example.se")[1]).lower()

    async def sara_received():
        status, view = await county.call("guidance", "GET", "/v1/chat/session", headers={"X-Chat-Session": sid})
        return view["applications"][0] if view["applications"][0]["status"] == "received" else None
    sara_app = (await county.until(sara_received, message="the chat shows Sara's application received"))
    sara_app_id = sara_app["application_id"]

    # --- 3. the coordinator: distribution and rounds -----------------------------------------
    coord = county.coordinator
    # Regional money for general subjects this year: the care seats stay as the municipalities give them.
    status, scen = await county.call("allocation", "POST", "/v1/distributions", {
        "year": 2027, "total_places": 40, "regional_needs": {"Allmänna ämnen": 1},
        "municipalities": [
            {"code": UMEA, "name": "Umeå", "population": 130000, "unemployed": 4000, "own_places": 20},
            {"code": SKELLEFTEA, "name": "Skellefteå", "population": 75000, "unemployed": 2500, "own_places": 12}]},
        token=coord)
    assert status == 201 and sum(m["places"] for m in scen["municipalities"]) == 40, scen
    status, adopted = await county.call("allocation", "POST", f"/v1/distributions/{scen['distribution_id']}/adopt",
                                        token=coord)
    assert status == 200, adopted
    status, one = await county.call("allocation", "POST", "/v1/rounds", {"seed": "e2e-ht27-1"}, token=coord)
    assert status == 201 and one["offers"] >= 2, one
    await county.kill9("allocation")  # the offers' events may still be in its outbox
    faults["kill -9 allocation after a round"] = "ok"

    def offer_to(address):
        return [m for m in to(smtp, address) if "erbjud" in m["Subject"].lower() or "offer" in m["Subject"].lower()]
    sara_offer = (await county.until(lambda: offer_to("sara.lindqvist@example.se"),
                                     message="Sara's offer"))[0]
    john_offer = (await county.until(lambda: offer_to("john.smith@example.com"),
                                     message="John's offer"))[0]
    assert "Skellefteå" in body(sara_offer), body(sara_offer)
    status, round_view = await county.call("allocation", "GET", f"/v1/rounds/{one['round_id']}", token=coord)
    ali_result = round_view["results"][ali["application_id"]]
    assert any("reservplats 1" in line for line in ali_result["explanation"]), ali_result
    # The same round on the staff console, as the region's coordinator signed in there reads it.
    console = await county.console_session("region")
    secrets += list(county.staff_passwords.values())
    try:
        async with console.get(county.url("console") + f"/rounds/{one['round_id']}/occurrences/{contested}") as r:
            page = await r.text()
        assert r.status == 200 and ali["application_id"][:8].upper() in page and "reservplats 1" in page, page[-2000:]
    finally:
        await console.close()

    offer_id, answer = answer_link(john_offer)
    secrets.append(answer)
    status, out = await county.call("allocation", "POST", f"/v1/offers/{offer_id}/accept", {"token": answer})
    assert status == 200 and out["status"] == "accepted", out
    offer_id, answer = answer_link(sara_offer)
    secrets.append(answer)
    status, out = await county.call("allocation", "POST", f"/v1/offers/{offer_id}/decline", {"token": answer})
    assert status == 200 and out["status"] == "declined", out

    # The notifier dies just as round two runs; its e-mails wait on the broker until it is back.
    # (Killed in the milliseconds between the SMTP server's "250" and its own record, it would send
    # that one e-mail again, with the same Message-ID and flagged possible_duplicate: test_notifier_crash.)
    restarted = await county.kill9("notifier", wait=False)
    status, two = await county.call("allocation", "POST", "/v1/rounds", {"seed": "e2e-ht27-2"}, token=coord)
    assert status == 201 and two["offers"] >= 1, two
    await restarted
    faults["kill -9 notifier during round two"] = "ok"
    ali_offer = (await county.until(lambda: offer_to("ali.hassan@example.se"),
                                    message="the freed seat offered to Ali"))[0]
    assert "Skellefteå" in body(ali_offer)
    status, view = await county.call("allocation", "GET", f"/v1/applications/{ali['application_id']}",
                                     secret=ali["secret"])
    assert [o["occurrence_id"] for o in view["offers"] if o["status"] == "pending"] == [contested], view

    # --- 4. a course is withdrawn -------------------------------------------------------------
    smaller = copy.deepcopy(umea_feed)
    smaller["educationInfos"] = [i for i in smaller["educationInfos"] if i["id"] != f"i.{UMEA}.{johns_code}"]
    smaller["educationEvents"] = [e for e in smaller["educationEvents"] if f".{johns_code}." not in e["id"]]
    t0 = time.monotonic()
    status, report = await county.call("catalogue", "PUT", f"/v1/feeds/{UMEA}", smaller, token=tokens[UMEA])
    assert status == 200 and report["withdrawn"] >= 3, report

    withdrawn_title = next(s["title"] for s in john["suggestions"] if s["kind"] == "course"
                           and any(o["id"] == johns for o in s.get("occurrences", [])))

    async def gone_from_search():
        results = await county.search(withdrawn_title, limit=20)
        occ = [o["id"] for r in results for o in r.get("occurrences", [])]
        return results and not any(o.startswith(f"e.{UMEA}.{johns_code}.") for o in occ)
    await county.until(gone_from_search, timeout=10, every=0.1, message="the withdrawn course leaves search")
    withdrawn_after_s = round(time.monotonic() - t0, 2)

    async def john_told():
        return [m for m in to(smtp, "john.smith@example.com")
                if m["Subject"] == f"The course {withdrawn_title} will not run" and "cancelled" in body(m)] or None
    await county.until(john_told, message="John told his course was withdrawn")
    status, john_view = await county.call("guidance", "GET", "/v1/chat/session",
                                          headers={"X-Chat-Session": john["session_id"]})
    status, john_app = await county.call("allocation", "GET",
                                         f"/v1/applications/{john_view['applications'][0]['application_id']}",
                                         token=county.coordinator)
    assert [(o["occurrence_id"], o["status"]) for o in john_app["offers"]] == [(johns, "withdrawn")], john_app

    # --- a message that cannot be handled is parked, then replayed after the fix -------------
    maria = None
    if county.db == "postgres":
        maria = await parked_then_replayed(county, smtp, contested_course=sara_course)
        secrets.append(maria)

    # --- after the faults: every e-mail once, everything where it should be -------------------
    await index_equals_catalogue(county, "after the faults")
    await county.until(lambda: _mail_settled(county), timeout=60, message="every e-mail sent")
    status, deliveries = await county.call("notifier", "GET", "/v1/deliveries", token=county.operator, limit=500)
    sent = [d for d in deliveries["items"] if d["status"] == "sent"]
    assert len(sent) == len(deliveries["items"]), [d for d in deliveries["items"] if d["status"] != "sent"]
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert {d["message_id"] for d in sent} == set(received), "an expected e-mail is missing or an extra one came"
    twice = [d for d in sent if received[d["message_id"]] > 1]
    assert twice == [], f"an e-mail arrived twice: {twice}"
    kinds = Counter((d["recipient"], d["template"]) for d in sent)
    assert kinds[("sara.lindqvist@example.se", "application_received")] == 1
    assert kinds[("ali.hassan@example.se", "offer_made")] == 1
    assert kinds[("john.smith@example.com", "offer_withdrawn")] == 1
    status, sara_view = await county.call("allocation", "GET", f"/v1/applications/{sara_app_id}", token=coord)
    states = {c["occurrence_id"]: c["state"] for c in sara_view["choices"]}
    assert states[contested] == "declined", sara_view

    # --- 5. forgotten ---------------------------------------------------------------------------
    status, _ = await county.call("guidance", "DELETE", "/v1/chat/session", headers={"X-Chat-Session": sid})
    assert status == 200
    status, _ = await county.call("allocation", "DELETE", f"/v1/applications/{ali['application_id']}",
                                  secret=ali["secret"])
    assert status == 200

    async def forgotten():
        return not await county.rows_mentioning("sara.lindqvist", "Lindqvist", "ali.hassan", "Ali Hassan")
    try:
        await county.until(forgotten, timeout=30, every=0.5, message="Sara and Ali forgotten everywhere")
    except AssertionError:
        raise AssertionError(f"still stored: {await county.rows_mentioning('sara.lindqvist', 'Lindqvist', 'ali.hassan', 'Ali Hassan')}") from None
    assert (await county.call("guidance", "GET", "/v1/chat/session", headers={"X-Chat-Session": sid}))[0] == 404
    status, view = await county.call("allocation", "GET", f"/v1/applications/{sara_app_id}", token=coord)
    assert view["status"] == "erased" and view["name"] is None
    status, demand = await county.call("allocation", "GET", "/v1/demand", token=coord)
    cell = next(c for c in demand["items"] if c["municipality_code"] == SKELLEFTEA and c["area"] == "Vård och omsorg")
    # The statistics still count Sara's and Ali's applications (and Maria's, where she applied).
    assert cell["applications"] == 2 + (maria is not None), demand
    assert await county.rows_mentioning("john.smith@example.com")  # John was not forgotten

    # --- no secret in any log line --------------------------------------------------------------
    assert county.secrets_in_logs(secrets) == []
    print("e2e faults:", json.dumps({**faults, "withdrawn course left search after (s)": withdrawn_after_s,
                                     "e-mails": len(sent)}, ensure_ascii=False))


async def _mail_settled(county: County) -> bool:
    status, out = await county.call("notifier", "GET", "/v1/deliveries", token=county.operator, limit=500)
    return status == 200 and out["items"] and all(d["status"] in ("sent", "failed", "cancelled") for d in out["items"])


async def parked_then_replayed(county: County, smtp, contested_course: dict) -> str:
    """The allocation service's database fails over to a read-only standby while Maria applies: her
    application cannot be stored, is retried, then parked with the reason. The operator lists the
    parked messages, the database is made writable, and the replay command brings it through."""
    await county.database_read_only("allocation", True)
    try:
        maria = await county.chat("Jag vill läsa till undersköterska och bor i Skellefteå", None)
        occ = next(o["id"] for o in contested_course["occurrences"] if o["id"].startswith(f"e.{SKELLEFTEA}."))
        status, _ = await county.call("guidance", "POST", "/v1/chat/apply", {
            "session_id": maria["session_id"], "choices": [occ], "consent": True,
            "applicant": {"name": "Maria Berg", "email": "maria.berg@example.se", "home_municipality": SKELLEFTEA,
                          "education_level": "upper_secondary", "employment": "employed", "lang": "sv"}})
        assert status == 202

        async def parked():
            out = await asyncio.to_thread(county.cli, "allocation", "parked", "list")
            return out.stdout if "allocation.applications.parking: 1 parked" in out.stdout else None
        listing = await county.until(parked, timeout=60, every=1.0, message="the application parked")
        assert "read-only transaction" in listing, listing  # the reason is there for the operator
    finally:
        await county.database_read_only("allocation", False)  # the fix
    out = await asyncio.to_thread(county.cli, "allocation", "parked", "replay", "allocation.applications")
    assert "allocation.applications: 1 message(s) moved back" in out.stdout, out.stdout
    await county.until(lambda: to(smtp, "maria.berg@example.se"), message="Maria's e-mail after the replay")
    async with aiohttp.ClientSession() as http:
        await confirm_by_mail(http, to(smtp, "maria.berg@example.se")[0])
    listing = (await asyncio.to_thread(county.cli, "allocation", "parked", "list")).stdout
    assert "allocation.applications.parking: 0 parked" in listing, listing
    return maria["session_id"]

