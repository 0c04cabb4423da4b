"""The staff console in a real headless browser (Debian's chromium driven by Playwright), against the
real catalogue, allocation and notifier. Screenshots of every page: test-output/screenshots/console-*.png."""
import asyncio
import csv
import io
from pathlib import Path

import pytest

from shared.events import ChatTurnObserved, ChatTurnPayload
from tests.feeds import bundle
from tests.test_allocation_service import form, occurrences_known
from tests.test_chat_page import SHOTS, browser  # noqa: F401 - the fixture
from tests.test_console import csv_feed

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)]
NEEDS = Path(__file__).resolve().parent.parent / "docs" / "needs-analysis-example.csv"


async def sign_in(browser, console, username, role, municipality=None, **options):  # noqa: F811
    password = await console.staff(username, role, municipality)
    ctx = await browser(username, locale="sv-SE", accept_downloads=True, **options)
    page = ctx.pages[0] if ctx.pages else await ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.csp_errors = errors
    await page.goto(console.url + "/")
    await page.wait_for_selector("#username")
    if username == "region":
        await shot(page, "0-signin")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_selector("nav")
    return page


async def shot(page, name):
    await page.screenshot(path=SHOTS / f"console-{name}.png", full_page=True)


async def fits(page) -> bool:
    """Nothing wider than the window: usable without scrolling sideways (tables scroll in their own box)."""
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_regional_coordinator_builds_compares_adopts_and_exports(console, catalogue, allocation,
                                                                     browser, tmp_path):  # noqa: F811
    feed = bundle("2480", {"VÅRVÅR01": 2})
    for ev in feed["educationEvents"]:
        ev["content"]["places"] = 1
    status, _ = await catalogue.push("2480", feed)
    assert status == 200
    await occurrences_known(allocation, ["e.2480.VÅRVÅR01.1"])
    for email in ("first@example.se", "second@example.se"):  # two for one place: one admitted, one reserve
        status, _ = await allocation.apply(form(["e.2480.VÅRVÅR01.1"], email=email))
        assert status == 200
    page = await sign_in(browser, console, "region", "regional")
    assert page.url.endswith("/seats")
    await shot(page, "1-seats-empty")

    # The region's needs analysis first: the form starts from it.
    await page.goto(console.url + "/needs")
    await page.set_input_files("#needs-file", str(NEEDS))
    await page.click("form[action='/needs'][enctype='multipart/form-data'] button")
    await page.wait_for_selector("p.flash[role=status]")
    assert "Behovsanalysen är inläst" in await page.inner_text("p.flash")
    assert await page.locator("img.chart").count() == 1
    rows = await page.locator("#needs-table tbody tr").all_inner_texts()
    assert rows and any(r.startswith("Vård och omsorg\t30") for r in rows)
    await shot(page, "2-needs")

    # Scenario A: the defaults (300 places, 10/45/45, the needs analysis's weights).
    await page.goto(console.url + "/seats")
    assert await page.input_value("#need_" + str(await area_index(page, "Vård och omsorg"))) == "30.0"
    await page.click("form[action='/seats'] button[type=submit]")
    await page.wait_for_selector("table.places")
    a_url = page.url
    assert "fastställt" not in await page.inner_text("h1")
    umea = await page.locator("table.places tbody tr", has_text="Umeå").inner_text()
    assert "uppfyllt" in umea
    # Skellefteå funds 40 places of its own: fewer than 3/7 of what it gets.
    assert "Skellefteå" in await page.inner_text(".warning")
    await shot(page, "3-scenario-a")

    # Scenario B: more places, weighted more to unemployment.
    await page.goto(console.url + "/seats")
    await page.fill("#total_places", "360")
    await page.fill("#key_population", "35")
    await page.fill("#key_unemployment", "55")
    await page.click("form[action='/seats'] button[type=submit]")
    await page.wait_for_selector("table.places")
    b_url = page.url
    assert b_url != a_url

    # Compare the two.
    await page.goto(console.url + "/seats")
    assert await page.locator("input[name=a]").count() == 2
    # The newest is B and the one before it A, unless the coordinator picks others.
    assert await page.locator("input[name=b]").nth(0).is_checked()
    await page.locator("input[name=a]").nth(1).check()
    await page.click("form[action='/seats/compare'] button")
    await page.wait_for_selector("#compare-municipalities")
    diffs = await page.locator("#compare-municipalities td.diff").all_inner_texts()
    assert len(diffs) == 15 and sum(int(d) for d in diffs) in (60, -60)
    await shot(page, "4-compare")

    # Adopt A, then export its grant figures.
    await page.goto(a_url)
    await page.click("text=Fastställ scenariot")
    await page.wait_for_selector("p.flash[role=status]")
    assert "Scenariot är fastställt" in await page.inner_text("p.flash")
    assert "fastställt" in await page.inner_text("h1")
    async with page.expect_download() as dl:
        await page.click("text=Exportera underlag till statsbidragsansökan")
    path = tmp_path / "grant.csv"
    await (await dl.value).save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0][:4] == ["del", "kommunkod", "namn/område", "statligt finansierade platser"]
    areas = [r for r in rows if r[0] == "område"]
    towns = {r[2]: r for r in rows if r[0] == "kommun"}
    assert areas and sum(int(r[3]) for r in areas) == 300
    assert len(towns) == 15 and towns["Skellefteå"][6] == "nej" and towns["Umeå"][6] == "ja"
    assert rows[-1][0] == "summa" and rows[-1][3] == "300"
    await shot(page, "5-adopted")

    # Usable at 200 % zoom: a 1280-pixel window seen at twice the size is 640 CSS pixels wide.
    await page.set_viewport_size({"width": 640, "height": 900})
    assert await fits(page)
    await shot(page, "6-scenario-200-percent")
    await page.set_viewport_size({"width": 1280, "height": 900})

    # The other regional pages: rounds (run one), reports (printable), all without script errors.
    await page.goto(console.url + "/rounds")
    await shot(page, "7a-rounds")
    await page.click("text=Kör en antagningsomgång")
    await page.wait_for_selector("p.flash[role=status]")
    assert "Omgången är körd: 1 erbjudanden, 1 på reservlista" in await page.inner_text("p.flash")
    row = await page.locator("#round-occurrences tbody tr").all_inner_texts()
    assert row == ["Kurs VÅRVÅR01\tUmeå\t1\t1"]
    await shot(page, "7-round")
    await page.click("#round-occurrences a")
    await page.wait_for_selector("#admitted")
    admitted = await page.locator("#admitted tbody tr").all_inner_texts()
    reserves = await page.locator("#reserves tbody tr").all_inner_texts()
    assert len(admitted) == 1 and len(reserves) == 1 and reserves[0].startswith("1\t")
    assert "lott" in (admitted[0] + reserves[0]).lower()  # the explanation says how the tie was broken
    await shot(page, "7b-round-occurrence")
    await page.goto(console.url + "/reports")
    await page.fill("#to", "2027-12-31")  # the adopted places are next year's
    await page.click("form[action='/reports'] button")
    await page.wait_for_url("**to=2027-12-31**")
    report = await page.locator("#report tbody tr").all_inner_texts()
    assert any(r.startswith("Umeå\tVård och omsorg") for r in report)
    await shot(page, "8a-report")

    # English too: the same page, the person's choice kept.
    await page.click("text=In English")
    assert await page.get_attribute("html", "lang") == "en"
    assert "Reports" in await page.inner_text("h1") and "Education area" in await page.inner_text("#report thead")
    await page.goto(console.url + "/seats")
    assert "Seat distribution" in await page.inner_text("h1")
    await shot(page, "8b-seats-english")
    await page.click("text=På svenska")
    await page.goto(console.url + "/reports?to=2027-12-31")
    await page.emulate_media(media="print")
    assert not await page.locator("nav").is_visible()
    await shot(page, "8-report-print")
    assert page.csp_errors == []


async def area_index(page, area):
    labels = await page.locator("fieldset label[for^=need_]").all_inner_texts()
    return labels.index(area)


async def test_municipality_coordinator_uploads_sees_the_bad_row_and_approves_a_resident(
        console, catalogue, allocation, browser):  # noqa: F811
    # Umeå's resident applies to a course in Skellefteå: Umeå approves such studies one by one.
    settings = allocation.service.settings
    settings.auto_approve_municipalities = [c for c in settings.auto_approve_municipalities if c != "2480"]
    status, _ = await catalogue.push("2482", bundle("2482", {"SVETS": 1}))
    assert status == 200
    await occurrences_known(allocation, ["e.2482.SVETS.1"])
    status, app = await allocation.apply(form(["e.2482.SVETS.1"], home="2480"))
    assert status == 200
    reference = app["application_id"][:8].upper()

    page = await sign_in(browser, console, "umea", "municipality", "2480")
    assert page.url.endswith("/municipalities/2480")
    assert "Kommunen har inte skickat något kursflöde" in await page.inner_text("main")
    await shot(page, "9-municipality-empty")

    path = Path(console.settings.db_url().split("///")[-1]).parent / "kurser.csv"
    path.write_bytes(csv_feed("UME", 3, bad=True))
    await page.set_input_files("#file", str(path))
    await page.click("form[enctype='multipart/form-data'] button")
    await page.wait_for_selector("table.rejections")
    rejections = await page.locator("table.rejections tbody tr").all_inner_texts()
    assert len(rejections) == 1 and "UME-BAD" in rejections[0] and "Kurskod" in rejections[0]
    assert "Filen är inläst" in await page.inner_text("p.flash")
    courses = await page.locator("#courses-h + table tbody tr").count()
    assert courses == 3
    await shot(page, "10-upload-report")

    await page.click("nav >> text=Godkännanden")
    row = page.locator("#approvals tbody tr", has_text=reference)
    assert "Skellefteå" in await row.inner_text()
    await shot(page, "11-approvals")
    await row.locator("button", has_text="Godkänn").click()
    await page.wait_for_selector("p.flash[role=status]")
    assert "Godkänt" in await page.inner_text("p.flash")
    assert await page.locator("#approvals tbody tr", has_text=reference).count() == 0
    status, view = await allocation.call("GET", f"/v1/applications/{app['application_id']}")
    assert view["choices"][0]["approval"] == "approved"

    # Another municipality's page is not Umeå's to see.
    await page.goto(console.url + "/municipalities/2482")
    assert "egen kommun" in await page.inner_text("main")
    await shot(page, "12-other-municipality-refused")
    for path in ("/seats", "/operations"):
        resp = await page.goto(console.url + path)
        assert resp.status == 403
    assert page.csp_errors == []


async def test_operator_sees_a_parked_message_and_replays_it_after_the_fix(guidance, console, allocation, publish,
                                                                          browser):  # noqa: F811
    async def broken(*_a, **_k):
        raise RuntimeError("database unreachable")

    allocation.service.record_chat_turn, fixed = broken, allocation.service.record_chat_turn
    await publish(ChatTurnObserved(producer="guidance", payload=ChatTurnPayload(areas=["Vård och omsorg"],
                                                                               municipality_code="2481")))
    bus = allocation.service.bus

    async def parked() -> bool:
        return (await bus.parked("allocation.demand"))["count"] == 1

    for _ in range(100):
        if await parked():
            break
        await asyncio.sleep(0.1)
    assert await parked(), "the failing message was never parked"
    allocation.service.record_chat_turn = fixed  # the fix

    page = await sign_in(browser, console, "drift", "operator")
    assert page.url.endswith("/operations")
    assert await page.locator("[role=alert]").count() == 0  # every service answered
    queues = await page.locator("#parked tbody tr td:nth-child(2)").all_inner_texts()
    assert {"allocation.demand", "notifier.mail", "guidance.chat-applications"} <= set(queues)
    row = page.locator("#parked tbody tr", has_text="allocation.demand")
    text = await row.inner_text()
    assert "1" in text and "database unreachable" in text and "chat.turn_observed" in text
    await shot(page, "13-operations-parked")
    await row.locator("button", has_text="Spela upp igen").click()
    await page.wait_for_selector("p.flash[role=status]")
    assert "1 meddelanden är tillbaka i kön allocation.demand" in await page.inner_text("p.flash")

    for _ in range(100):
        _, d = await allocation.call("GET", "/v1/demand")
        if any(c["area"] == "Vård och omsorg" and c["chat_turns"] == 1 for c in d["items"]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the replayed chat turn was never counted")
    await page.reload()
    assert await page.locator("#parked button").count() == 0
    await shot(page, "14-operations-replayed")
    assert page.csp_errors == []
