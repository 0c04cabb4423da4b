"""The staff console over HTTP, against the real catalogue, allocation and notifier: who sees what (in
the pages and in the services' APIs behind them), and bad input told plainly with nothing stored.
The browser journeys are in test_console_page.py."""
import aiohttp
import pytest

from shared.tokens import STAFF_HEADER

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite", "postgres"], indirect=True)]

HEADER = ("Tillfälle-id;Kurskod;Kursnamn;Beskrivning;Skolform;Anordnare;Ort;Startdatum;Slutdatum;Studietakt;Distans;"
          "Sista ansökningsdag;Länk;Undervisningsspråk;Platser;Status")


def csv_feed(prefix: str, rows: int, bad: bool = False) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        lines.append(f"{prefix}-{i};VÅRVÅR0{i % 3 + 1};Vård- och omsorgsarbete {i};Grunder.;Gymnasial vuxenutbildning;"
                     f"Vuxenutbildningen;Umeå;2027-01-18;2027-04-30;100;nej;2026-12-15;;svenska;20;aktiv")
    if bad:
        lines.append(f"{prefix}-BAD;;Kurs utan kod;;Gymnasial vuxenutbildning;Vuxenutbildningen;Umeå;2027-01-18;"
                     "2027-04-30;100;nej;2026-12-15;;svenska;20;aktiv")
    return ("\n".join(lines) + "\n").encode()


async def upload(http: aiohttp.ClientSession, url: str, code: str, body: bytes, filename: str) -> tuple[int, str]:
    async with http.get(f"{url}/municipalities/{code}") as r:
        page = await r.text()
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("file", body, filename=filename, content_type="application/octet-stream")
    async with http.post(f"{url}/municipalities/{code}/uploads", data=form) as r:
        return r.status, await r.text()


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_sign_in_roles_and_a_municipality_sees_only_its_own(console, catalogue, allocation):
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{console.url}/seats", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/signin"
        async with anon.post(f"{console.url}/signin", data={"username": "nobody", "password": "x" * 12}) as r:
            assert r.status == 401
            assert "Fel användarnamn eller lösenord" in await r.text()
    umea = await console.signed_in("umea", "municipality", "2480")
    region = await console.signed_in("region", "regional")
    ops = await console.signed_in("drift", "operator")
    try:
        async with umea.get(f"{console.url}/municipalities/2480") as r:
            assert r.status == 200 and "Umeå" in await r.text()
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        for path in ("/municipalities/2482", "/seats", "/seats/compare", "/operations"):
            async with umea.get(f"{console.url}{path}") as r:
                assert r.status == 403, path
                assert "behörighet" in await r.text() or "egen kommun" in await r.text()
        async with region.get(f"{console.url}/municipalities/2482") as r:
            assert r.status == 200 and "Skellefteå" in await r.text()
        async with ops.get(f"{console.url}/seats") as r:
            assert r.status == 403
        async with ops.get(f"{console.url}/operations") as r:
            assert r.status == 200
    finally:
        for s in (umea, region, ops):
            await s.close()

    # At the API level: the console's token speaks for Umeå's coordinator, and the services refuse
    # Skellefteå's data to that person, whatever the console asks.
    def as_umea(token: str) -> dict:
        return {"Authorization": f"Bearer {token}", STAFF_HEADER: "municipality 2480 Test%20Umea"}

    alloc_token, cat_token = console.settings.allocation_token, console.settings.catalogue_token
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{catalogue.url}/v1/feeds", params={"municipality": "2482"},
                            headers=as_umea(cat_token)) as r:
            assert r.status == 403
        async with http.get(f"{catalogue.url}/v1/feeds", params={"municipality": "2480"},
                            headers=as_umea(cat_token)) as r:
            assert r.status == 200
        async with http.put(f"{catalogue.url}/v1/feeds/2482", data=csv_feed("X", 1), headers={
                **as_umea(cat_token), "Content-Type": "text/csv"}) as r:
            assert r.status == 403
        async with http.get(f"{allocation.url}/v1/reports", params={"from": "2026-01-01", "to": "2026-12-31",
                                                                     "municipality": "2482"},
                            headers=as_umea(alloc_token)) as r:
            assert r.status == 403
        for path, method in (("/v1/distributions", "POST"), ("/v1/rounds", "POST"), ("/v1/parked", "GET")):
            async with http.request(method, f"{allocation.url}{path}", json={},
                                    headers=as_umea(alloc_token)) as r:
                assert r.status == 403, path
        # The console's token without a person, or with a made-up role, is no one.
        async with http.get(f"{allocation.url}/v1/demand", headers={"Authorization": f"Bearer {alloc_token}"}) as r:
            assert r.status == 403
        async with http.get(f"{allocation.url}/v1/demand", headers={
                "Authorization": f"Bearer {alloc_token}", STAFF_HEADER: "admin - Eve"}) as r:
            assert r.status == 403


async def test_bad_input_is_told_in_the_page_and_nothing_is_stored(console, catalogue, allocation):
    region = await console.signed_in("region", "regional")
    umea = await console.signed_in("umea", "municipality", "2480")
    try:
        # A distribution whose key does not add up to 100: the page says so, no scenario is stored.
        async with region.get(f"{console.url}/seats") as r:
            csrf = csrf_of(await r.text())
        form = {"csrf": csrf, "year": "2027", "total_places": "300", "key_equal": "10", "key_population": "45",
                "key_unemployment": "40", "need_0": "100"}
        form |= {f"{f}_{c}": "100" for c in ("2401", "2403", "2404", "2409", "2417", "2418", "2421", "2422", "2425",
                                            "2460", "2462", "2463", "2480", "2481", "2482") for f in ("pop", "unemp", "own")}
        async with region.post(f"{console.url}/seats", data=form) as r:
            assert r.status == 422
            page = await r.text()
        assert "Nyckelns tre delar måste bli 100 procent" in page and "Inget har sparats" in page
        form |= {"key_unemployment": "45", "need_0": "60", "need_1": "30"}
        async with region.post(f"{console.url}/seats", data=form) as r:
            assert r.status == 422
            assert "Behovsvikterna måste bli 100 procent" in await r.text()
        status, listed = await allocation.call("GET", "/v1/distributions")
        assert status == 200 and listed["items"] == []

        # A needs analysis with wrong columns: named in the page; nothing stored.
        data = aiohttp.FormData()
        data.add_field("csrf", csrf)
        data.add_field("file", b"omrade;vikt\nVard;3\n", filename="behov.csv", content_type="text/csv")
        async with region.post(f"{console.url}/needs", data=data) as r:
            assert r.status == 422
            page = await r.text()
        assert "target, weight, shortage, source, year" in page and "Inget har sparats" in page
        status, _ = await allocation.call("GET", "/v1/needs")
        assert status == 404

        # An over-size feed file: told its size and the limit; the catalogue never sees it.
        status, page = await upload(umea, console.url, "2480", b"x" * 300_000, "stor.csv")
        assert status == 413 and "för stor" in page and "Inget har sparats" in page
        status, page = await upload(umea, console.url, "2480", b"{}", "kurser.xlsx")
        assert status == 415 and "CSV (.csv) eller EMIL3 (.json)" in page
        status, feeds = await catalogue.get("/v1/municipalities")
        assert next(m for m in feeds["items"] if m["code"] == "2480")["last_feed_at"] is None

        # A form posted without the sign-in's form token is refused.
        async with region.post(f"{console.url}/rounds", data={"csrf": "not-it"}) as r:
            assert r.status == 403
        status, rounds = await allocation.call("GET", "/v1/rounds")
        assert rounds["items"] == []
    finally:
        await region.close()
        await umea.close()


async def test_a_body_that_is_no_form_is_a_400_page_and_changes_nothing(console, allocation):
    region = await console.signed_in("region", "regional")
    try:
        for path in ("/needs", "/municipalities/2480/uploads", "/seats", "/rounds", "/signin"):
            for ctype, body in (("multipart/form-data; boundary=4bea", b"--4bea\r\n--4bea--\r\n"),
                                ("multipart/form-data", b"xx"), ("application/x-www-form-urlencoded", b"%zz=%%"),
                                ("text/plain", b"\xff\xfe")):
                async with region.post(console.url + path, data=body, headers={"Content-Type": ctype}) as r:
                    assert 400 <= r.status < 500, (path, ctype, r.status)
                    assert r.content_type == "text/html"
        for path in ("/v1/distributions", "/v1/rounds"):
            status, got = await allocation.call("GET", path)
            assert got["items"] == [], path
    finally:
        await region.close()


async def test_reports_count_the_period_and_export_it(console, catalogue, allocation):
    from datetime import date

    from tests.feeds import bundle
    from tests.test_allocation_service import form, occurrences_known

    feed = bundle("2482", {"SVETS": 1})
    feed["educationEvents"][0]["content"]["places"] = 1
    assert (await catalogue.push("2482", feed))[0] == 200
    await occurrences_known(allocation, ["e.2482.SVETS.1"])
    for email in ("a@example.se", "b@example.se"):
        assert (await allocation.apply(form(["e.2482.SVETS.1"], email=email, home="2480")))[0] == 200
    assert (await allocation.call("POST", "/v1/rounds", {}))[0] == 201
    region = await console.signed_in("region", "regional")
    umea = await console.signed_in("umea", "municipality", "2480")
    today = date.today().isoformat()
    try:
        async with region.get(f"{console.url}/reports.csv", params={"from": today, "to": today}) as r:
            assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
            rows = (await r.text()).splitlines()
        assert rows[0].startswith("kommunkod,kommun,område") and len(rows) == 2
        assert rows[1].startswith("2482,Skellefteå,") and rows[1].endswith(",2,1,0,0"), rows
        # Yesterday's period holds none of it.
        async with region.get(f"{console.url}/reports.csv", params={"from": "2020-01-01", "to": "2020-12-31"}) as r:
            assert (await r.text()).splitlines()[1:] == []
        # Umeå's coordinator: the report is about courses in Umeå, so Skellefteå's row is not theirs.
        async with umea.get(f"{console.url}/reports.csv", params={"from": today, "to": today}) as r:
            assert (await r.text()).splitlines()[1:] == []
        async with umea.get(f"{console.url}/needs") as r:
            page = await r.text()
        assert r.status == 200 and "Umeå" in page and "Skellefteå" in page  # lives in Umeå, studies in Skellefteå
    finally:
        await region.close()
        await umea.close()


async def test_an_upload_that_withdraws_most_courses_waits_for_a_yes_in_the_page(console, catalogue):
    umea = await console.signed_in("umea", "municipality", "2480")
    try:
        status, page = await upload(umea, console.url, "2480", csv_feed("UME", 4), "kurser.csv")
        assert status == 200 and "Filen är inläst" in page
        status, page = await upload(umea, console.url, "2480", csv_feed("UME", 1), "kurser.csv")
        assert status == 409 and "återta 3 av kommunens 4 aktiva kurstillfällen" in page
        status, courses = await catalogue.get("/v1/courses", municipality="2480")
        assert sum(len(c["occurrences"]) for c in courses["items"]) == 4  # nothing changed yet
        action = page.split('action="/municipalities/2480/uploads/', 1)[1].split('"', 1)[0]
        async with umea.post(f"{console.url}/municipalities/2480/uploads/{action}", data={"csrf": csrf_of(page)}) as r:
            assert r.status == 200
            assert "Filen är inläst" in await r.text()
        status, courses = await catalogue.get("/v1/courses", municipality="2480")
        assert sum(len(c["occurrences"]) for c in courses["items"]) == 1
        # The confirmation is used once.
        async with umea.post(f"{console.url}/municipalities/2480/uploads/{action}", data={"csrf": csrf_of(page)}) as r:
            assert r.status == 404 and "Ladda upp filen igen" in await r.text()
    finally:
        await umea.close()
