"""The chat page in a real headless browser (Debian's chromium driven by Playwright).

Screenshots of the main screens are saved under test-output/screenshots/ for a person to look at.
"""
import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from services.catalogue.demo import municipality_feed
from tests.conftest import CONFIRM_LINK
from tests.feeds import bundle, info
from tests.test_chat import FIRST, load_county, make_counsellor, sent_to

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)]

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"
STATUS_LINK = re.compile(r"https?://\S+/applications/[0-9a-f-]+\?secret=[A-Za-z0-9_-]+")  # the receipt's
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def browser(tmp_path):
    """A factory of fresh browser contexts, each with its own new user-data-dir."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: run `make setup`")
    SHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []
    async with async_playwright() as pw:
        async def new_context(name: str, **options):
            ctx = await pw.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{name}"), executable_path=CHROMIUM, headless=True, args=ARGS, **options)
            contexts.append(ctx)
            return ctx

        yield new_context
        for ctx in contexts:
            await ctx.close()


async def open_page(ctx, url):
    page = ctx.pages[0] if ctx.pages else await ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.wait_for_selector("body[data-ready='1']")
    page.js_errors = errors
    return page


async def say(page, text, turns):
    await page.fill("#message", text)
    await page.press("#message", "Enter")  # keyboard only: Enter sends
    # Locators, not wait_for_function: the page's CSP rightly forbids evaluating strings.
    await page.locator("#transcript .turn.assistant").nth(turns - 1).wait_for()


async def test_learner_chats_refines_applies_and_a_counsellor_sends_a_plan(catalogue, search, guidance, allocation, notifier,
                                                                            smtp, browser):
    await load_county(catalogue, search, ("2480", "2481", "2422"))
    page = await open_page(await browser("learner", locale="sv-SE"), guidance.url + "/")
    assert await page.get_attribute("html", "lang") == "sv"
    await say(page, FIRST, 1)
    assert "barnskötare" in await page.inner_text("#understood")
    assert await page.locator("#suggestions article").count() >= 3
    await page.screenshot(path=SHOTS / "1-learner-first-answer.png", full_page=True)

    await say(page, "helst på distans", 2)
    lines = await page.locator("#suggestions article.course .occurrences li").all_inner_texts()
    assert lines and all("På distans" in line for line in lines)
    await say(page, "jag bor i Lycksele nu", 3)
    assert "Lycksele" in await page.inner_text("#understood")
    assert "Lärcentrum Lycksele" in await page.inner_text("#suggestions")
    first = page.locator("#suggestions article").first
    await first.get_by_role("button", name="Varför?").click()
    assert (await first.locator(".why").inner_text()).strip()
    await page.screenshot(path=SHOTS / "2-learner-refined.png", full_page=True)

    # Apply: choose two occurrences, in order, then the form.
    choose = page.locator("#suggestions button.choose")
    await choose.nth(0).click()
    await page.locator("#suggestions button.choose").nth(1).click()
    assert await page.locator("#choices li").count() == 2
    await page.fill("#a-name", "Lina Berg")
    await page.fill("#a-email", "lina@example.se")
    assert await page.input_value("#a-home") == "2481"  # from the conversation
    await page.select_option("#a-edu", "primary")
    await page.select_option("#a-emp", "unemployed")
    await page.check("#a-consent")
    await page.click("#apply-form button[type=submit]")
    await page.wait_for_selector("#receipt >> text=bekräfta ansökan", timeout=30_000)
    for _ in range(100):
        if sent_to(smtp, "lina@example.se"):
            break
        await asyncio.sleep(0.1)
    assert len(sent_to(smtp, "lina@example.se")) == 1
    # Lina opens the link in the e-mail and presses the button; then the chat shows the application.
    mail = sent_to(smtp, "lina@example.se")[0].get_body(("plain",)).get_content()
    link = CONFIRM_LINK.search(mail).group(0)
    confirm = await page.context.new_page()
    await confirm.goto(link)
    await confirm.get_by_role("button", name="Bekräfta ansökan").click()
    await confirm.wait_for_selector("text=bekräftad och registrerad")
    await confirm.screenshot(path=SHOTS / "3-learner-confirmed.png", full_page=True)
    await confirm.close()
    await page.reload()
    await page.wait_for_selector("#receipt >> text=Ansöknings-id", timeout=30_000)
    await page.screenshot(path=SHOTS / "3-learner-receipt.png", full_page=True)
    for _ in range(100):
        if len(sent_to(smtp, "lina@example.se")) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(sent_to(smtp, "lina@example.se")) == 2
    # The receipt's link opens a readable page in her language with the same reference as the chat page.
    receipt = sent_to(smtp, "lina@example.se")[1].get_body(("plain",)).get_content()
    status_link = STATUS_LINK.search(receipt).group(0)
    shown_ref = (await page.inner_text("#receipt")).split("Ansöknings-id:")[1].strip(" .\n")
    status = await page.context.new_page()
    response = await status.goto(status_link)
    assert response.status == 200 and response.headers["content-type"].startswith("text/html")
    await status.wait_for_selector("h1 >> text=Din ansökan")
    text = await status.inner_text("main")
    assert f"Referens: {shown_ref}" in text and shown_ref in receipt and len(shown_ref) == 8
    assert text.count("Väntar på") == 2 and "Radera min ansökan" in text, text
    assert "{" not in text and '"application_id"' not in text  # not JSON
    await status.screenshot(path=SHOTS / "3-learner-status.png", full_page=True)
    await status.close()
    code = (await page.inner_text("#code")).strip()
    assert page.js_errors == []

    # The counsellor, in another browser, signs in and opens the conversation by its code.
    user, password = await make_counsellor(guidance)
    cpage = await open_page(await browser("counsellor", locale="sv-SE"), guidance.url + "/counsellor")
    await cpage.fill("#username", user)
    await cpage.fill("#password", password)
    await cpage.click("#login-form button[type=submit]")
    await cpage.wait_for_selector("#work:not([hidden])")
    await cpage.fill("#code", code)
    await cpage.click("#open-form button[type=submit]")
    await cpage.wait_for_selector("#session:not([hidden])")
    assert FIRST in await cpage.inner_text("#transcript")
    assert "Lycksele" in await cpage.inner_text("#profile")
    await cpage.locator("#suggestions article").first.get_by_role("button", name="Fäst").click()
    await cpage.wait_for_selector("#suggestions article >> text=Fäst av vägledare")
    # She has cooked for a living: the counsellor finds Lycksele's cooking validation and adds it with a note.
    await cpage.fill("#find", "validering kock")
    await cpage.click("#find-form button[type=submit]")
    offer = cpage.locator("#found article", has_text="Validering kock")
    await offer.wait_for()
    await offer.get_by_label("Kommentar till eleven (valfri)").fill("Du har lagat mat i många år.")
    await offer.get_by_role("button", name="Lägg till för eleven").click()
    await cpage.wait_for_selector("#suggestions article >> text=Tillagd av vägledare")
    # Lina's page shows what the counsellor added, with the note.
    await page.reload()
    added = page.locator("#suggestions article", has_text="Validering kock")
    await added.wait_for()
    assert "Tillagd av vägledare" in await added.inner_text() and "Du har lagat mat i många år." in await added.inner_text()
    await page.screenshot(path=SHOTS / "4-learner-sees-counsellors-addition.png", full_page=True)
    await cpage.fill("#note", "Vi ses igen i januari.")
    await cpage.click("#note-form button[type=submit]")
    await cpage.wait_for_selector("#notes li >> text=Vi ses igen i januari.")
    await cpage.fill("#s-name", "Lina Berg")
    await cpage.fill("#s-email", "lina@example.se")
    await cpage.fill("#s-note", "Hör av dig när du har sökt.")
    await cpage.click("#summary-form button[type=submit]")
    await cpage.wait_for_selector("#summary-status >> text=lina@example.se")
    await cpage.screenshot(path=SHOTS / "4-counsellor-session.png", full_page=True)
    for _ in range(100):
        if len(sent_to(smtp, "lina@example.se")) == 3:
            break
        await asyncio.sleep(0.1)
    plan = sent_to(smtp, "lina@example.se")[-1].get_body(("plain",)).get_content()
    assert "Hör av dig när du har sökt." in plan and "Lycksele" in plan, plan  # the nearest learning centre
    assert cpage.js_errors == []


async def test_a_feed_text_with_a_script_tag_is_shown_as_text(catalogue, search, guidance, browser):
    evil = 'Svetsning <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    feed = bundle("2482", {"SVETS": 1})
    feed["educationInfos"] = [info("2482", "SVETS", title=evil, description="Svetsning MIG/MAG och TIG för "
                                   "nybörjare. <b onmouseover=alert(1)>Skyddsutrustning</b> ingår.")]
    status, _ = await catalogue.push("2482", feed)
    assert status == 200
    await search.wait_indexed("course", "i.2482.SVETS")
    page = await open_page(await browser("learner"), guidance.url + "/")
    await say(page, "Jag vill lära mig svetsning och jobba som svetsare", 1)
    titles = await page.locator("#suggestions h3").all_inner_texts()
    assert evil in titles  # the markup is shown as the municipality wrote it, as text
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("#suggestions script, #suggestions img").count() == 0
    await page.screenshot(path=SHOTS / "5-script-tag-as-text.png", full_page=True)
    assert page.js_errors == []


async def test_english_and_arabic_turns_get_the_page_in_their_language(catalogue, search, guidance, browser):
    await catalogue.push("2480", municipality_feed("2480"))
    await search.wait_indexed("course", "i.2480.OMVOMV01")
    page = await open_page(await browser("en", locale="sv-SE"), guidance.url + "/")
    await say(page, "I have worked in elderly care for ten years and want to become an assistant nurse", 1)
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("#chat-form button") == "Send"
    assert await page.inner_text("#sugg-h") == "Suggestions"
    assert await page.locator("#suggestions article").count() >= 1
    assert "suggestions" in await page.inner_text("#transcript .turn.assistant")

    page = await open_page(await browser("ar", locale="sv-SE"), guidance.url + "/")
    await say(page, "عملت في رعاية المسنين لمدة عشر سنوات وأريد أن أصبح ممرضة مساعدة", 1)
    assert await page.get_attribute("html", "dir") == "rtl" and await page.get_attribute("html", "lang") == "ar"
    assert await page.inner_text("#chat-form button") == "إرسال"
    assert await page.inner_text("#sugg-h") == "اقتراحات"
    assert await page.locator("#suggestions article").count() >= 1
    await page.screenshot(path=SHOTS / "6-arabic.png", full_page=True)


async def test_the_page_is_usable_by_keyboard_on_a_phone_and_at_200_percent_zoom(catalogue, search, guidance, browser):
    await catalogue.push("2480", municipality_feed("2480"))
    await search.wait_indexed("course", "i.2480.OMVOMV01")
    page = await open_page(await browser("phone", viewport={"width": 360, "height": 740}, locale="sv-SE"),
                           guidance.url + "/")
    # Every form control has a visible label, every button a name.
    unlabeled = await page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
        .filter(e => !e.labels || !e.labels.length || !e.labels[0].textContent.trim()).map(e => e.id)""")
    assert unlabeled == []
    # Keyboard only: the first Tab reaches the skip link, which leads to the message box.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "message"
    await page.keyboard.type("Jag vill bli undersköterska och bor i Umeå")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#suggestions article")
    nameless = await page.evaluate("""[...document.querySelectorAll('button')]
        .filter(b => !(b.getAttribute('aria-label') || b.textContent).trim()).length""")
    assert nameless == 0
    # Compact: one time per course card, the others on demand; a pressed button keeps the focus.
    cards = page.locator("#suggestions article.course")
    assert await cards.count() >= 2
    assert await page.locator("#suggestions button.choose").count() == await cards.count()
    await page.locator("#suggestions button.choose").first.focus()
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"
    assert (await page.evaluate("document.activeElement.id")).startswith("choose-")
    more = page.locator("#suggestions button.more-times").first
    if await more.count():
        await more.focus()
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "true"
    # The application form is one link away, and the conversation's link (in the fragment) stays.
    before = await page.evaluate("location.hash")
    await page.get_by_role("link", name="Till ansökan").click()
    assert await page.evaluate("document.activeElement.id") == "apply-h" and await page.evaluate("location.hash") == before
    # Nothing is wider than a phone screen.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.screenshot(path=SHOTS / "7-phone.png", full_page=True)
    # 200 % zoom of a 1280 x 800 window is a 640 x 400 CSS-pixel viewport at twice the pixel density.
    zoomed = await open_page(await browser("zoom", viewport={"width": 640, "height": 400}, device_scale_factor=2,
                                           locale="sv-SE"), guidance.url + "/")
    await say(zoomed, "Jag vill bli undersköterska och bor i Umeå", 1)
    assert await zoomed.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await zoomed.screenshot(path=SHOTS / "8-zoom-200.png")


SCRIPT = {"ar": ("\u0600", "\u06ff"), "fa": ("\u0600", "\u06ff"), "prs": ("\u0600", "\u06ff"), "ti": ("\u1200", "\u137f")}


async def test_one_learner_per_language_chats_two_turns(catalogue, search, guidance, browser):
    """Issue 14: each of the seven languages, chosen on the page: the first message understood, the reply,
    the question and its buttons in that language (right to left for ar, fa, prs); a button answers."""
    from tests.test_languages import FIRST as FIRSTS

    await load_county(catalogue, search, ("2480", "2481", "2482"))
    for lang, message, _, _, _ in FIRSTS:
        page = await open_page(await browser(f"learner-{lang}", locale="sv-SE"), guidance.url + "/")
        await page.select_option("#lang", lang)
        assert await page.get_attribute("html", "dir") == ("rtl" if lang in ("ar", "fa", "prs") else "ltr")
        await say(page, message, 1)
        reply = await page.locator("#transcript .turn.assistant").nth(0).inner_text()
        if lang in SCRIPT:
            lo, hi = SCRIPT[lang]
            assert sum(lo <= ch <= hi for ch in reply) > len(reply) / 3, (lang, reply)
        else:
            intro = {"sv": "Jag har förstått", "en": "I have understood", "so": "Waxaan fahmay"}[lang]
            assert intro in reply, (lang, reply)
        await page.locator("#suggestions article").first.wait_for()
        buttons = page.locator("#quick button")
        if await buttons.count():  # the question's answers as buttons: press the first
            label = (await buttons.first.inner_text()).strip()
            await buttons.first.click()
            await page.locator("#transcript .turn.assistant").nth(1).wait_for()
            assert label in await page.locator("#transcript .turn.learner").nth(1).inner_text()
        else:  # nothing left to ask: a second message in the same language
            await say(page, message.split(".")[0], 2)
        assert await page.get_attribute("html", "lang") == lang
        await page.screenshot(path=SHOTS / f"5-language-{lang}.png", full_page=True)
        assert page.js_errors == []
