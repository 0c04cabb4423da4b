"""The chat assistant through its HTTP API: turns that refine one profile, languages, privacy, applying,
and the counsellor's view, with the real catalogue, allocation, notifier, broker and SMTP server."""
import asyncio
import pytest

from services.catalogue.demo import municipality_feed
from tests.conftest import confirm_by_mail

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)]

FIRST = "Jag har jobbat som barnskötare i tio år men vill bli undersköterska, bor i Sorsele och kan inte flytta"


async def chat(guidance, message, session_id=None, **extra):
    async with guidance.http.post(f"{guidance.url}/v1/chat",
                                json={"session_id": session_id, "message": message, **extra}) as r:
        return r.status, await r.json(content_type=None)


async def load_county(catalogue, search, munis=("2480", "2481", "2422")):
    for m in munis:
        status, _ = await catalogue.push(m, municipality_feed(m))
        assert status == 200
    await search.wait_indexed("course", f"i.{munis[-1]}.SFIKURSD")
    await search.wait_indexed("learning_centre", f"lc.{munis[-1]}")


def sent_to(smtp, address):
    return [m for m in smtp.messages if m["To"].addresses[0].addr_spec == address]


async def make_counsellor(guidance, username="anna", password="vägledning-2026"):
    from services.guidance.conversations import create_counsellor

    async with guidance.service.engine.begin() as conn:
        await create_counsellor(conn, username, "Anna Vägledare", "anna@vux.example", password)
    return username, password


async def test_a_learner_chats_refines_twice_and_the_suggestions_follow(catalogue, search, guidance):
    await load_county(catalogue, search)
    status, out = await chat(guidance, FIRST)
    assert status == 200, out
    sid = out["session_id"]
    assert out["lang"] == "sv" and out["code"] and len(sid) >= 24
    u = out["understood"]
    assert "barnskötare i 10 år" in u["summary"] and "undersköterska" in u["summary"] and "Sorsele" in u["summary"]
    assert u["home_municipality"]["code"] == "2422"
    assert out["suggestions"], out["reply"]
    # Worked with children, wants care work: a care course is among the first suggestions.
    assert any(s.get("area") == "Vård och omsorg" for s in out["suggestions"][:4]), \
        [(s["title"], s.get("area")) for s in out["suggestions"]]
    # Cannot move from Sorsele: every on-site occurrence is within commuting distance.
    for s in out["suggestions"]:
        for o in s.get("occurrences", []):
            assert o["distance"] or o["municipality"] in ("Sorsele",), o
    # At most one question, and only one whose answer would change the suggestions.
    asked = [q for q in [out["question"]] if q]
    assert all(q.endswith("?") for q in asked)

    status, out2 = await chat(guidance, "helst på distans", sid)
    assert status == 200 and out2["session_id"] == sid
    courses = [s for s in out2["suggestions"] if s["kind"] == "course"]
    assert courses and all(o["distance"] for s in courses for o in s["occurrences"])
    assert "distans" in out2["understood"]["summary"]
    assert out2["question"] is None or out2["question"] not in asked  # never the same question twice
    # At a distance from Sorsele: the nearest learning centre comes with the course.
    assert courses[0]["learning_centre"]["name"] == "Lärcentrum Sorsele"
    assert "Lärcentrum Sorsele" in courses[0]["explanation"]

    status, out3 = await chat(guidance, "jag bor i Lycksele nu", sid)
    assert out3["understood"]["home_municipality"]["name"] == "Lycksele"
    c3 = [s for s in out3["suggestions"] if s["kind"] == "course"]
    assert c3[0]["learning_centre"]["name"] == "Lärcentrum Lycksele"

    # Hide one, save another: hidden is gone from the next answer, saved comes first.
    hide, keep = c3[0]["id"], c3[1]["id"]
    for rid, mark in ((hide, "hidden"), (keep, "saved")):
        async with guidance.http.post(f"{guidance.url}/v1/chat/marks",
                                    json={"session_id": sid, "result_id": rid, "mark": mark}) as r:
            assert r.status == 200
    status, out4 = await chat(guidance, "Jag tycker om att arbeta med äldre människor", sid)
    ids = [s["id"] for s in out4["suggestions"]]
    assert hide not in ids and ids[0] == keep and out4["suggestions"][0]["mark"] == "saved"

    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        view = await r.json(content_type=None)
    assert [m["role"] for m in view["transcript"]] == ["learner", "assistant"] * 4
    assert view["transcript"][0]["text"] == FIRST


async def test_english_and_arabic_turns_get_suggestions_and_words_in_their_language(catalogue, search, guidance):
    await load_county(catalogue, search, ("2480",))
    status, en = await chat(guidance, "I have worked in elderly care for ten years and want to become an assistant "
                                    "nurse. I live in Umeå.")
    assert status == 200 and en["lang"] == "en" and en["dir"] == "ltr"
    assert en["suggestions"] and "suggestions" in en["reply"] and en["reply"].startswith("I have understood")
    assert "Umeå" in en["understood"]["summary"]
    assert any(s.get("area") == "Vård och omsorg" for s in en["suggestions"][:4])
    status, ar = await chat(guidance, "عملت في رعاية المسنين لمدة عشر سنوات وأريد أن أصبح ممرضة مساعدة")
    assert status == 200 and ar["lang"] == "ar" and ar["dir"] == "rtl"
    assert ar["suggestions"] and "اقتراحات" in ar["reply"]
    assert any(s.get("area") == "Vård och omsorg" for s in ar["suggestions"][:4])
    assert ar["question"] and "؟" in ar["question"]


async def test_odd_messages_get_a_polite_answer_in_the_conversations_language(catalogue, search, guidance):
    """Issue 14: another language, only emoji, only a place, mixed scripts, a very long message."""
    await load_county(catalogue, search, ("2480",))
    status, first = await chat(guidance, "اشتغلت كهربائي بحلب عشر سنين وبدي صير كهربائي هون")
    assert status == 200 and first["lang"] == "ar"
    sid = first["session_id"]
    for message in ("Ich möchte Elektriker werden und suche einen Kurs", "😀🙏👍", "شيلفتيو", "Skellefteå",
                    "I want كهربائي ጽቡቕ 😀", "كهربائي 😀 " * 1500):
        status, out = await chat(guidance, message, sid)
        assert status == 200, (message[:20], out)
        assert out["lang"] == "ar" and out["dir"] == "rtl" and out["reply"], (message[:20], out)
        assert any("\u0600" <= ch <= "\u06ff" for ch in out["reply"]), out["reply"]  # said in Arabic
    assert out["understood"]["home_municipality"]["code"] == "2482"  # the bare place answered "where?"


async def test_bad_input_and_privacy(catalogue, search, guidance):
    await load_county(catalogue, search, ("2480",))
    for body, want in (({"message": ""}, 400), ({"message": 5}, 422), ({}, 422),
                       ({"message": "hej", "session_id": "x" * 20}, 404), ({"message": "hej", "lang": "xx"}, 422)):
        async with guidance.http.post(f"{guidance.url}/v1/chat", json=body) as r:
            assert r.status == want, body
            assert (await r.json(content_type=None))["detail"]
    async with guidance.http.post(f"{guidance.url}/v1/chat", data=b"\xff\xfe", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    status, out = await chat(guidance, "x" * 5000)
    assert status == 200 and "2000" in out["notice"]
    status, out = await chat(guidance, "Jag vill jobba som svetsare")
    sid = out["session_id"]
    # Without the secret id, or with a wrong one, nothing is shown.
    async with guidance.http.get(f"{guidance.url}/v1/chat/session") as r:
        assert r.status == 401
    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid[:-2] + "xx"}) as r:
        assert r.status == 404
    # Counsellor pages need a sign-in; a wrong password gets nothing.
    async with guidance.http.get(f"{guidance.url}/v1/counsellor/sessions/{out['code']}") as r:
        assert r.status == 401
    await make_counsellor(guidance)
    async with guidance.http.post(f"{guidance.url}/v1/counsellor/login", json={"username": "anna", "password": "fel"}) as r:
        assert r.status == 401 and "vux_counsellor" not in r.cookies
    # The learner asks to be forgotten: everything is gone.
    async with guidance.http.delete(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        assert r.status == 200
    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        assert r.status == 404
    # Past the retention period, conversations are deleted.
    status, out = await chat(guidance, "Jag vill bli kock")
    guidance.service.chat.retention = __import__("datetime").timedelta(seconds=0)
    assert await guidance.service.chat.purge_expired() >= 1
    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": out["session_id"]}) as r:
        assert r.status == 404


async def test_apply_from_the_chat_and_a_counsellor_sends_a_plan(catalogue, search, guidance, allocation, notifier, smtp):
    await load_county(catalogue, search, ("2480", "2481"))
    status, out = await chat(guidance, "Jag har jobbat som undersköterska utan utbildning i fem år och bor i Lycksele")
    sid, code = out["session_id"], out["code"]
    assert out["suggestions"][0]["kind"] == "validation"  # validation before courses she may not need
    occ = [o["id"] for s in out["suggestions"] if s["kind"] == "course" for o in s["occurrences"]][:2]
    from sqlalchemy import func, select

    from services.allocation import storage as alloc_storage

    for _ in range(100):  # allocation learns the occurrences from the catalogue's events
        async with allocation.service.engine.connect() as conn:
            if (await conn.execute(select(func.count()).select_from(alloc_storage.occurrences).where(
                    alloc_storage.occurrences.c.id.in_(occ)))).scalar() == len(occ):
                break
        await asyncio.sleep(0.1)
    form = {"session_id": sid, "submission_id": "chat-test-0001", "choices": occ, "consent": True,
            "applicant": {"name": "Sara Lind", "email": "sara@example.se", "home_municipality": "2481",
                          "education_level": "primary", "employment": "unemployed"}}
    async with guidance.http.post(f"{guidance.url}/v1/chat/apply", json={**form, "consent": False}) as r:
        assert r.status == 422 and "consent" in (await r.json(content_type=None))["detail"]
    async with guidance.http.post(f"{guidance.url}/v1/chat/apply", json={**form, "choices": ["e.nope"]}) as r:
        assert r.status == 422 and "choices[0]" in (await r.json(content_type=None))["detail"]
    async with guidance.http.post(f"{guidance.url}/v1/chat/apply", json=form,
                                headers={"X-Correlation-ID": "corr-apply-1"}) as r:
        assert r.status == 202 and r.headers["X-Correlation-ID"] == "corr-apply-1"
        receipt = await r.json(content_type=None)
    assert receipt["submission_id"] == "chat-test-0001" and receipt["status"] == "sent"
    async with guidance.http.post(f"{guidance.url}/v1/chat/apply", json=form) as r:
        assert r.status == 200 and (await r.json(content_type=None))["duplicate"] is True  # a double click is one application
    for _ in range(100):
        if sent_to(smtp, "sara@example.se"):
            break
        await asyncio.sleep(0.1)
    assert len(sent_to(smtp, "sara@example.se")) == 1
    # Nothing counts until Sara opens the link mailed to her and presses the button.
    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        assert (await r.json(content_type=None))["applications"][0]["status"] == "sent"
    assert "registrerad" in await confirm_by_mail(guidance.http, sent_to(smtp, "sara@example.se")[0])
    for _ in range(100):
        async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
            apps = (await r.json(content_type=None))["applications"]
        if apps[0]["status"] != "sent":
            break
        await asyncio.sleep(0.1)
    assert apps[0]["status"] == "received" and apps[0]["application_id"]
    for _ in range(100):
        if len(sent_to(smtp, "sara@example.se")) == 2:
            break
        await asyncio.sleep(0.1)
    assert [m["Subject"] for m in sent_to(smtp, "sara@example.se")] == ["Bekräfta din ansökan",
                                                                       "Vi har tagit emot din ansökan"]
    # The request's correlation id followed it through both services' events to the e-mail it caused.
    from services.notifier.storage import deliveries

    async with notifier.service.engine.connect() as conn:
        cids = (await conn.execute(select(deliveries.c.correlation_id).order_by(deliveries.c.id))).scalars().all()
    assert cids[0] == "corr-apply-1" and len(cids) == 2

    # The counsellor signs in, opens the conversation by its code, pins, notes and sends a plan.
    user, password = await make_counsellor(guidance)
    async with guidance.http.post(f"{guidance.url}/v1/counsellor/login", json={"username": user, "password": password}) as r:
        assert r.status == 200
    async with guidance.http.post(f"{guidance.url}/v1/counsellor/sessions", json={"code": code.replace("-", "").lower()}) as r:
        assert r.status == 200
        view = await r.json(content_type=None)
    assert view["transcript"][0]["text"].startswith("Jag har jobbat som undersköterska")
    course = next(s for s in view["suggestions"] if s["kind"] == "course")
    base = f"{guidance.url}/v1/counsellor/sessions/{code}"
    async with guidance.http.post(f"{base}/marks", json={"result_id": course["id"], "mark": "pinned"}) as r:
        assert r.status == 200
    async with guidance.http.post(f"{base}/notes", json={"text": "Börja med valideringen i vår."}) as r:
        assert r.status == 201
    # She also cooked for years: the counsellor searches the catalogue and adds Lycksele's cooking validation,
    # with a note; Sara's own view shows it, marked as the counsellor's, with the note.
    async with guidance.http.post(f"{base}/search", json={"text": "validering kock"}) as r:
        assert r.status == 200
        found = (await r.json(content_type=None))["results"]
    cook = next(x for x in found if x["kind"] == "validation")
    assert cook["id"] == "v.2481.kock", found
    async with guidance.http.post(f"{base}/additions", json={"text": "validering kock", "result_id": cook["id"],
                                                           "note": "Du har lagat mat i tio år."}) as r:
        assert r.status == 201
    async with guidance.http.get(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        mine = await r.json(content_type=None)
    added = next(x for x in mine["suggestions"] if x["id"] == cook["id"])
    assert added["mark"] == "added" and added["note"] == "Du har lagat mat i tio år."
    assert "Anna Vägledare" in added["explanation"]
    # Bad input: nothing stored, a clear 4xx naming the field.
    for body, want, field in (({"text": "x"}, 422, "text"),
                              ({"text": "validering kock", "result_id": "v.9999.nope"}, 404, "result_id"),
                              ({"text": "validering kock", "result_id": cook["id"], "note": "x" * 501}, 422, "note")):
        path = "search" if "result_id" not in body else "additions"
        async with guidance.http.post(f"{base}/{path}", json=body) as r:
            problem = await r.json(content_type=None)
            assert r.status == want and problem["field"] == field, problem
    async with guidance.http.post(f"{guidance.url}/v1/counsellor/sessions/ZZZZ-ZZZZ/search", json={"text": "kock"}) as r:
        assert r.status == 404
    async with guidance.http.get(base) as r:
        assert [rid for rid, m in (await r.json(content_type=None))["marks"].items() if m["mark"] == "added"] == [cook["id"]]
    # An address the notifier would refuse is refused now, not accepted and then lost.
    async with guidance.http.post(f"{base}/summary", json={"name": "Sara Lind", "email": "sara..lind@example.se"}) as r:
        assert r.status == 422 and (await r.json(content_type=None))["field"] == "email"
    async with guidance.http.post(f"{base}/summary", json={"name": "Sara Lind", "email": "sara@example.se",
                                                         "note": "Lycka till!"}) as r:
        assert r.status == 202
    for _ in range(100):
        if len(sent_to(smtp, "sara@example.se")) == 3:
            break
        await asyncio.sleep(0.1)
    plan = sent_to(smtp, "sara@example.se")[-1]
    body = plan.get_body(("plain",)).get_content()
    assert "Validering" in body and course["title"] in body and "Lycka till!" in body
    # The plan names the application she has already sent, by the receipt's reference.
    assert f"{apps[0]['application_id'][:8]}: registrerad" in body, body
    assert body.index("Validering") < body.index(course["title"])  # validation first, then courses
    async with guidance.http.get(base) as r:
        v = await r.json(content_type=None)
    assert v["notes"][0]["text"] == "Börja med valideringen i vår." and v["marks"][course["id"]]["mark"] == "pinned"
    async with guidance.http.get(f"{guidance.url}/v1/counsellor/sessions") as r:
        assert [s["code"] for s in (await r.json(content_type=None))["items"]] == [code]

    # Sara asks to be forgotten in the chat: the conversation, her application and both e-mails' contents go.
    application_id = apps[0]["application_id"]
    async with guidance.http.delete(f"{guidance.url}/v1/chat/session", headers={"X-Chat-Session": sid}) as r:
        assert r.status == 200
    for _ in range(100):
        status, view = await allocation.call("GET", f"/v1/applications/{application_id}")
        async with notifier.service.engine.connect() as conn:
            left = (await conn.execute(select(deliveries.c.recipient).where(deliveries.c.recipient != ""))).all()
        if view["status"] == "erased" and not left:
            break
        await asyncio.sleep(0.1)
    assert view["status"] == "erased" and view["email"] is None and view["name"] is None, view
    assert left == []
    async with guidance.http.get(base) as r:
        assert r.status == 404


async def test_chat_turns_are_rate_limited_per_client(catalogue, search, guidance):
    await load_county(catalogue, search, ("2422",))
    limit = guidance.settings.chat_rate_per_minute
    statuses = []
    for _ in range(limit + 2):
        status, body = await chat(guidance, "hej")
        statuses.append(status)
    assert statuses[:limit] == [200] * limit and statuses[limit:] == [429, 429]
    assert body["retry_after_s"] > 0


async def test_when_search_is_away_the_learner_still_gets_a_clear_answer(db_factory, bus_names):
    """Guidance with no search behind it: the turn is kept, the place is read, and the reply says that
    courses cannot be searched just now, in the learner's language; applying waits (503)."""
    from services.guidance.api import create_app
    from services.guidance.service import GuidanceService
    from services.guidance.settings import GuidanceSettings
    from tests.conftest import RunningGuidance, broker_url, free_port, served

    port = free_port()
    settings = GuidanceSettings(database_url=await db_factory("guidance"), amqp_url=broker_url("guidance"), http_port=port,
                                search_url=f"http://127.0.0.1:{free_port()}", search_timeout_s=1.0, **bus_names)
    service = GuidanceService(settings)
    import aiohttp

    async with served(service, create_app, port, lambda: service.bus.consuming, "guidance"), \
            aiohttp.ClientSession() as http:
        g = RunningGuidance(f"http://127.0.0.1:{port}", service, http, settings)
        status, out = await chat(g, "Jag bor i Lycksele och vill läsa på distans", lang="sv")
        assert status == 200 and out["degraded"] is True and out["suggestions"] == []
        assert "kan inte söka bland kurserna just nu" in out["reply"]
        assert out["understood"]["home_municipality"]["name"] == "Lycksele"
        status, en = await chat(g, "I live in Umeå", out["session_id"], lang="en")
        assert status == 200 and "cannot search the courses just now" in en["reply"]
        async with http.get(f"{g.url}/v1/chat/session", headers={"X-Chat-Session": out["session_id"]}) as r:
            view = await r.json(content_type=None)
        assert [m["role"] for m in view["transcript"]] == ["learner", "assistant"] * 2  # nothing lost
        async with http.post(f"{g.url}/v1/chat/apply", json={
                "session_id": out["session_id"], "choices": ["e.2480.X.1"], "consent": True,
                "applicant": {"name": "Sara Lind", "email": "sara@example.se", "home_municipality": "2481",
                              "education_level": "primary", "employment": "unemployed"}}) as r:
            body = await r.json(content_type=None)
        assert r.status == 503 and "try again" in body["detail"]


async def test_an_arabic_learners_emails_come_in_arabic(catalogue, search, guidance, allocation, notifier, smtp):
    """Issue 14: the conversation's language travels with the application; the confirmation, the receipt
    and the offer arrive in it (the form does not say the language: the conversation does)."""
    from sqlalchemy import func, select

    from services.allocation import storage as alloc_storage

    await load_county(catalogue, search, ("2480",))
    status, out = await chat(guidance, "اشتغلت بدار المسنين خمس سنين، ساكنة بأوميو وبدي صير مساعدة ممرضة")
    assert status == 200 and out["lang"] == "ar"
    occ = [o["id"] for s in out["suggestions"] if s["kind"] == "course" for o in s["occurrences"]][:1]
    assert occ
    for _ in range(100):
        async with allocation.service.engine.connect() as conn:
            if (await conn.execute(select(func.count()).select_from(alloc_storage.occurrences).where(
                    alloc_storage.occurrences.c.id.in_(occ)))).scalar() == len(occ):
                break
        await asyncio.sleep(0.1)
    async with guidance.http.post(f"{guidance.url}/v1/chat/apply", json={
            "session_id": out["session_id"], "choices": occ, "consent": True,
            "applicant": {"name": "Huda Saleh", "email": "huda@example.se", "home_municipality": "2480",
                          "education_level": "primary", "employment": "unemployed"}}) as r:
        assert r.status == 202, await r.text()
    for _ in range(150):
        if sent_to(smtp, "huda@example.se"):
            break
        await asyncio.sleep(0.1)
    confirm = sent_to(smtp, "huda@example.se")[0]
    assert confirm["Content-Language"] == "ar" and confirm["Subject"] == "أكِّد طلبك"
    page = await confirm_by_mail(guidance.http, confirm)
    assert 'lang="ar" dir="rtl"' in page and "تم تأكيد طلبك" in page
    status, summary = await allocation.call("POST", "/v1/rounds", {})
    assert status == 201 and summary["offers"] == 1
    for _ in range(150):
        if len(sent_to(smtp, "huda@example.se")) >= 3:
            break
        await asyncio.sleep(0.1)
    mails = {m["Subject"]: m for m in sent_to(smtp, "huda@example.se")}
    assert "استلمنا طلبك" in mails, list(mails)
    offer = next(m for s, m in mails.items() if s.startswith("يُعرض عليك مقعد"))
    assert offer["Content-Language"] == "ar"
    assert 'dir="rtl"' in offer.get_body(("html",)).get_content()


async def test_a_learners_questions_are_answered_from_facts(catalogue, search, guidance):
    await load_county(catalogue, search, ("2480", "2481"))
    status, out = await chat(guidance, "Jag vill bli kock och bor i Umeå")
    status, out = await chat(guidance, "Hur lång tid tar det, och vad kostar det?", out["session_id"])
    assert status == 200
    course = next(s for s in out["suggestions"] if s["kind"] == "course" and s["occurrences"])
    first = course["occurrences"][0]
    assert first["start"] and first["end"]
    assert out["reply"].startswith("Komvux är kostnadsfritt")  # what was asked comes first
    assert f"{course['title']} i " in out["reply"] and f"{first['start']} – {first['end']}" in out["reply"]
    # In Arabic, about validation: what it involves in general, and what the offer found for her says.
    status, out = await chat(guidance, "اشتغلت طباخة ٨ سنوات وأسكن في ليكسيلي. ما هو التقييم؟")
    offer = out["suggestions"][0]
    assert offer["kind"] == "validation" and offer["id"] == "v.2481.kock", out["suggestions"]
    assert out["lang"] == "ar" and "التقييم (validering) يعني" in out["reply"] and offer["method"] in out["reply"]
    # A question the data cannot answer gets no invented answer; nothing is read as a question by mistake.
    status, plain = await chat(guidance, "Jag har jobbat som kock i fem år")
    assert "kostnadsfritt" not in plain["reply"] and "Sista ansökningsdag" not in plain["reply"]
