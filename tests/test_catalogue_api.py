"""The catalogue against a real RabbitMQ and both databases: what a municipality and a consumer see."""
import asyncio
from datetime import datetime, timedelta, timezone

from tests.feeds import bundle, edit, event, info, s, withdrawn


def validation(muni: str) -> dict:
    return {"id": f"v.{muni}.vard", "status": "ACTIVE", "content": {
        "title": s("Validering undersköterska"), "description": s("Kartläggning och bedömning."),
        "occupation": "5321", "courseCodes": ["VÅRVÅR01"], "municipality": muni}}


def centre(muni: str) -> dict:
    return {"id": f"lc.{muni}", "status": "ACTIVE", "content": {
        "name": s("Lärcentrum"), "municipality": muni, "coordinates": {"lat": 63.8, "lon": 20.2},
        "services": ["studieplatser", "tentamensvakt"]}}


async def test_push_publishes_denormalised_course_documents(catalogue, collector):
    feed = bundle("2480", {"VÅRVÅR01": 2, "SVESVE01": 1}, validationOffers=[validation("2480")],
                  learningCentres=[centre("2480")])
    status, report = await catalogue.push("2480", feed)
    assert status == 200, report
    assert (report["added"], report["changed"], report["unchanged"], report["withdrawn"]) == (3, 0, 0, 0)
    assert report["rejected"] == []
    events = await collector.wait_for(4)
    courses = {e.payload.id: e.payload for e in collector.of_type("course.upserted")}
    assert set(courses) == {"i.2480.VÅRVÅR01", "i.2480.SVESVE01"}
    vard = courses["i.2480.VÅRVÅR01"]
    assert [o.id for o in vard.occurrences] == ["e.2480.VÅRVÅR01.1", "e.2480.VÅRVÅR01.2"]
    assert vard.provider.name == "Vuxenutbildningen" and vard.code == "VÅRVÅR01"
    assert len(collector.of_type("validation_offer.upserted")) == 1
    assert collector.of_type("learning_centre.upserted")[0].payload.services == ["studieplatser", "tentamensvakt"]
    assert events and all(e.producer == "catalogue" and e.version == 1 for e in events)
    status, course = await catalogue.get("/v1/courses/i.2480.VÅRVÅR01")
    assert status == 200 and len(course["occurrences"]) == 2 and course["status"] == "active"


async def events_before_marker(catalogue, collector) -> list:
    """Every event published before a marker: another municipality's push, waited for. The relay publishes
    in commit order, so what an earlier request published is in by then (no fixed sleep)."""
    await catalogue.push("2481", bundle("2481", {"MARK": 1}))

    def marker_at() -> int | None:
        return next((i for i, e in enumerate(collector.events)
                     if e.type == "course.upserted" and e.payload.id == "i.2481.MARK"), None)
    while marker_at() is None:
        await collector.wait_for(len(collector.events) + 1)
    return collector.events[:marker_at()]


async def test_unchanged_repush_publishes_nothing(catalogue, collector):
    feed = bundle("2480", {"A": 2, "B": 1}, validationOffers=[validation("2480")])
    await catalogue.push("2480", feed)
    first = len(await collector.wait_for(3))
    status, report = await catalogue.push("2480", feed)
    assert status == 200 and report["unchanged"] == 3 and report["added"] == report["changed"] == 0
    assert report["events"] == 0
    assert len(await events_before_marker(catalogue, collector)) == first


async def test_one_changed_occurrence_republishes_only_its_course(catalogue, collector):
    feed = bundle("2480", {"A": 2, "B": 1})
    await catalogue.push("2480", feed)
    await collector.wait_for(2)
    changed = edit(feed)
    changed["educationEvents"][1]["content"]["paceOfStudy"]["percentage"] = 50.0
    status, report = await catalogue.push("2480", changed)
    assert (report["changed"], report["unchanged"]) == (1, 2)
    await collector.wait_for(3)
    last = (await collector.quiet(0.8))[-1]
    assert len(collector.events) == 3 and last.payload.id == "i.2480.A"
    assert [o.pace_percent for o in last.payload.occurrences] == [100.0, 50.0]


async def test_withdrawals_by_status_and_by_absence_from_a_snapshot(catalogue, collector):
    feed = bundle("2480", {"A": 2, "B": 2, "C": 2})
    await catalogue.push("2480", feed)
    await collector.wait_for(3)
    # Delta: a DELETED occurrence leaves its course with one occurrence.
    status, report = await catalogue.push("2480", {"educationEvents": [withdrawn(feed["educationEvents"][0])]},
                                          method="PATCH")
    assert status == 200 and report["withdrawn"] == 1 and report["unchanged"] == 0
    ev = (await collector.wait_for(4))[-1]
    assert ev.type == "course.upserted" and [o.id for o in ev.payload.occurrences] == ["e.2480.A.2"]
    # Snapshot without course C: the course and its two occurrences are withdrawn.
    snap = bundle("2480", {"A": 2, "B": 2})
    status, report = await catalogue.push("2480", snap)
    assert status == 200 and report["withdrawn"] == 2 and report["added"] == 1
    await collector.wait_for(6)
    assert {e.payload.id for e in collector.of_type("course.withdrawn")} == {"i.2480.C"}
    status, course = await catalogue.get("/v1/courses/i.2480.C")
    assert course["status"] == "withdrawn"
    status, page = await catalogue.get("/v1/courses", municipality="2480")
    assert page["total"] == 2


async def test_snapshot_withdrawing_over_half_needs_confirmation(catalogue, collector):
    await catalogue.push("2480", bundle("2480", {"A": 3, "B": 3}))
    await collector.wait_for(2)
    small = bundle("2480", {"A": 2})
    status, body = await catalogue.push("2480", small)
    assert status == 409 and "withdraw 4 of the 6" in body["detail"] and "confirm_withdrawals=true" in body["detail"]
    assert len(await events_before_marker(catalogue, collector)) == 2
    status, page = await catalogue.get("/v1/courses", municipality="2480")
    assert page["total"] == 2
    status, report = await catalogue.push("2480", small, params={"confirm_withdrawals": "true"})
    assert status == 200 and report["withdrawn"] == 4


async def test_rejected_record_keeps_its_previous_version(catalogue, collector):
    feed = bundle("2480", {"A": 2})
    await catalogue.push("2480", feed)
    await collector.wait_for(1)
    bad = edit(feed)
    bad["educationEvents"][0]["content"]["execution"]["start"] = "18/01/2027"
    bad["educationEvents"][1]["content"]["paceOfStudy"]["percentage"] = 75.0
    bad["educationEvents"].append(event("2480", "NOPE", 1))
    status, report = await catalogue.push("2480", bad)
    assert status == 200
    rejected = {r["id"]: r for r in report["rejected"]}
    assert rejected["e.2480.A.1"]["field"] == "execution.start" and "18/01/2027" in rejected["e.2480.A.1"]["message"]
    assert rejected["e.2480.NOPE.1"]["field"] == "education"
    assert report["changed"] == 1 and report["withdrawn"] == 0  # the rejected one is not withdrawn
    status, course = await catalogue.get("/v1/courses/i.2480.A")
    occ = {o["id"]: o for o in course["occurrences"]}
    assert occ["e.2480.A.1"]["start"] == "2027-01-18" and occ["e.2480.A.2"]["pace_percent"] == 75.0


async def test_a_municipality_cannot_touch_another_municipalitys_records(catalogue, collector):
    await catalogue.push("2480", bundle("2480", {"A": 1}))
    await collector.wait_for(1)
    hijack = {"educationInfos": [info("2480", "A", title="Kapad")], "educationEvents": [withdrawn(event("2480", "A"))]}
    status, report = await catalogue.push("2482", hijack, token=await catalogue.token("2482"))
    assert status == 200
    assert {r["id"] for r in report["rejected"]} == {"i.2480.A", "e.2480.A.1"}
    assert report["rejected"] and all("belongs to municipality 2480" in r["message"] for r in report["rejected"])
    status, course = await catalogue.get("/v1/courses/i.2480.A")
    assert course["title"] == "Kurs A" and len(course["occurrences"]) == 1


async def test_bad_requests_get_clear_errors_and_change_nothing(catalogue, collector):
    await catalogue.push("2480", bundle("2480", {"A": 1}))
    await collector.wait_for(1)
    cases = [
        (b"{broken", "application/json", 400, "malformed JSON"),
        (b"<feed/>", "application/xml", 415, "unsupported Content-Type"),
        (b"x" * 2_100_000, "application/json", 413, "limit"),
        (b"", "application/json", 400, "empty"),
        (b'{"educationEvents": 5}', "application/json", 400, "must be a list"),
        (b"\x00\x01\x02binary", "text/csv", 400, ""),
    ]
    for body, ctype, want, needle in cases:
        status, resp = await catalogue.push("2480", body, content_type=ctype)
        assert status == want, (body[:20], resp)
        assert needle in resp["detail"]
    status, resp = await catalogue.push("9999", bundle("9999", {"A": 1}))
    assert status == 404 and "unknown municipality" in resp["detail"]
    status, page = await catalogue.get("/v1/courses")
    assert page["total"] == 1
    assert len(await events_before_marker(catalogue, collector)) == 1


async def test_tokens_are_scoped_to_their_municipality(catalogue):
    from services.catalogue import storage
    from shared.tokens import revoke_token

    feed = bundle("2422", {"A": 1})
    status, body = await catalogue.push("2422", feed, token="")
    assert status == 401 and "token" in body["detail"]
    status, _ = await catalogue.push("2422", feed, token="vux_nope_nope")
    assert status == 401
    umea = await catalogue.token("2480")
    status, body = await catalogue.push("2422", feed, token=umea)
    assert status == 403 and "2480" in body["detail"]
    sorsele = await catalogue.token("2422")
    assert (await catalogue.push("2422", feed, token=sorsele))[0] == 200
    assert (await catalogue.push("2422", feed))[0] == 200  # the region token
    async with catalogue.service.engine.begin() as conn:
        assert await revoke_token(conn, storage.api_tokens, sorsele.split("_")[1])
    assert (await catalogue.push("2422", feed, token=sorsele))[0] == 401
    wrong_secret = sorsele.rsplit("_", 1)[0] + "_x"
    assert (await catalogue.push("2422", feed, token=wrong_secret))[0] == 401


async def test_csv_and_planned_educations_feeds_end_to_end(catalogue, collector):
    csv = ("Tillfälle-id;Kurskod;Kursnamn;Ort;Startdatum;Studietakt;Distans;Sista ansökningsdag\n"
           "T1;SFIKURSB;SFI kurs B;Sorsele;2027-01-18;50;nej;löpande\n"
           "T2;SFIKURSB;SFI kurs B;Sorsele;2027-08-16;100;ja;2027-06-01\n").encode()
    status, report = await catalogue.push("2422", csv, content_type="text/csv")
    assert status == 200 and report["added"] == 2 and report["format"] == "csv"
    ev = (await collector.wait_for(1))[0]
    assert ev.payload.id == "csv.2422.SFIKURSB" and len(ev.payload.occurrences) == 2
    from tests.conftest import SHARED_DATA

    body = (SHARED_DATA / "skolverket_planned_educations" / "example_adult_education_events_list.json").read_bytes()
    status, report = await catalogue.push("2481", body)
    assert status == 200 and report["format"] == "planned" and report["added"] == 20
    await collector.wait_for(21)


async def test_read_api_filters_paging_and_reports(catalogue):
    status, r1 = await catalogue.push("2480", bundle("2480", {f"K{i:02d}": 1 for i in range(12)}))
    before_second = datetime.now(timezone.utc)
    await asyncio.sleep(0.05)
    await catalogue.push("2482", bundle("2482", {"SVETS": 2}))
    status, page = await catalogue.get("/v1/courses", limit=5)
    seen = [c["id"] for c in page["items"]]
    assert page["total"] == 13 and len(seen) == 5
    while page["next"]:
        status, page = await catalogue.get("/v1/courses", limit=5, cursor=page["next"])
        seen += [c["id"] for c in page["items"]]
    assert len(seen) == len(set(seen)) == 13
    status, page = await catalogue.get("/v1/courses", municipality="2482")
    assert [c["id"] for c in page["items"]] == ["i.2482.SVETS"]
    status, page = await catalogue.get("/v1/courses", text="k03")
    assert [c["code"] for c in page["items"]] == ["K03"]
    since = (before_second - timedelta(milliseconds=1)).isoformat()
    status, page = await catalogue.get("/v1/courses", updated_since=since)
    assert [c["id"] for c in page["items"]] == ["i.2482.SVETS"]
    status, page = await catalogue.get("/v1/courses", school_type="gymnasial vuxenutbildning")
    assert page["total"] == 13
    for bad in ({"limit": "0"}, {"limit": "x"}, {"updated_since": "yesterday"}, {"cursor": "!!"},
                {"status": "gone"}, {"municipality": "1"}):
        status, body = await catalogue.get("/v1/courses", **bad)
        assert status == 400 and body["detail"], bad
    status, report = await catalogue.get(f"/v1/feeds/{r1['feed_id']}")
    assert status == 200 and report["added"] == 12
    assert (await catalogue.get("/v1/feeds/unknown"))[0] == 404
    status, munis = await catalogue.get("/v1/municipalities")
    by_code = {m["code"]: m for m in munis["items"]}
    assert len(by_code) == 15 and by_code["2480"]["occurrences"] == 12 and by_code["2482"]["courses"] == 1
    assert by_code["2480"]["last_feed_at"] and by_code["2422"]["last_feed_at"] is None


async def test_health_readiness_and_metrics(catalogue):
    async with catalogue.http.get(f"{catalogue.url}/healthz") as r:
        assert r.status == 200
    async with catalogue.http.get(f"{catalogue.url}/readyz") as r:
        body = await r.json(content_type=None)
        assert r.status == 200 and body["checks"] == {"database": True, "broker": True}
    await catalogue.push("2480", bundle("2480", {"A": 1}))
    async with catalogue.http.get(f"{catalogue.url}/metrics") as r:
        text = await r.text()
    assert 'vux_http_requests_total{method="PUT",route="/v1/feeds/{municipality}",service="catalogue",status="200"}' in text


async def test_feed_pushes_are_rate_limited_per_token(catalogue):
    from services.catalogue.api import PUSH_LIMIT

    catalogue.app[PUSH_LIMIT].per_minute = 3
    umea = await catalogue.token("2480")
    feed = bundle("2480", {"A1": 1})
    statuses = [(await catalogue.push("2480", feed, token=umea))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, body = await catalogue.push("2480", feed, token=umea)
    assert status == 429 and body["retry_after_s"] > 0 and "wait" in body["detail"]
    # Another municipality's token has its own allowance.
    assert (await catalogue.push("2481", bundle("2481", {"B1": 1}), token=await catalogue.token("2481")))[0] == 200
