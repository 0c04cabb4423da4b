"""The notifier against a real SMTP server (aiosmtpd), RabbitMQ and both databases."""
import asyncio
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from services.notifier import storage
from tests.conftest import sqlite_bytes
from shared.events import (
    ApplicantErased, ApplicationReceived, Contact, ErasedPayload, OccurrenceRef, OfferMade, OfferPayload,
)


def offer(email="sara@example.se", lang="sv", name="Sara Nilsson", title="Vård- och omsorgsarbete 1", **kw):
    deadline = datetime(2027, 1, 10, 15, 0, tzinfo=timezone.utc)
    return OfferMade(producer="allocation", correlation_id="corr-1", payload=OfferPayload(
        offer_id=str(uuid.uuid4()), application_id=kw.pop("application_id", str(uuid.uuid4())), round_id="r1",
        contact=Contact(name=name, email=email, lang=lang),
        occurrence=OccurrenceRef(id="e.2480.VARD.1", title=title, municipality_code="2422",
                                 start=datetime(2027, 1, 18).date()),
        choice_rank=1, deadline=deadline, answer_url="https://vux.example/offers/x?token=abc"))


async def until(pred, timeout=10.0):  # noqa: ANN001
    for _ in range(int(timeout * 20)):
        if pred():
            return True
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def deliveries(notifier):
    async with notifier.service.engine.connect() as conn:
        return (await conn.execute(select(storage.deliveries).order_by(storage.deliveries.c.id))).all()


async def test_offer_email_content_in_swedish_and_english(notifier, smtp, publish):
    await publish(offer())
    await publish(offer(email="john@example.com", lang="en", name="John Smith"))
    await until(lambda: len(smtp.messages) == 2)
    by_to = {m["To"].addresses[0].addr_spec: m for m in smtp.messages}
    sv, en = by_to["sara@example.se"], by_to["john@example.com"]
    assert sv["Subject"] == "Du erbjuds en plats: Vård- och omsorgsarbete 1"
    assert sv["Content-Language"] == "sv" and sv["To"].addresses[0].display_name == "Sara Nilsson"
    text = sv.get_body(("plain",)).get_content()
    assert "Svara senast 2027-01-10 16:00" in text  # the deadline in Swedish time
    assert "Sorsele" in text and "start 2027-01-18" in text and "https://vux.example/offers/x?token=abc" in text
    assert "090-16 00 00" in text  # the sender's contact details
    html = sv.get_body(("html",)).get_content()
    assert 'href="https://vux.example/offers/x?token=abc"' in html and "Svara på erbjudandet" in html
    assert en["Subject"] == "You are offered a seat: Vård- och omsorgsarbete 1"
    assert "Please answer by 2027-01-10 16:00" in en.get_body(("plain",)).get_content()
    assert sv["Message-ID"] != en["Message-ID"] and sv["Message-ID"].endswith("@vux.example>")


async def test_a_redelivered_event_sends_nothing_new(notifier, smtp, publish):
    ev = offer()
    for _ in range(3):
        await publish(ev)
    await until(lambda: len(smtp.messages) >= 1)
    await publish(offer(email="marker@example.se"))  # queued after the repeats
    await until(lambda: any(m["To"].addresses[0].addr_spec == "marker@example.se" for m in smtp.messages))
    assert [m["To"].addresses[0].addr_spec for m in smtp.messages].count("sara@example.se") == 1
    rows = [r for r in await deliveries(notifier) if r.recipient == "sara@example.se"]
    assert len(rows) == 1 and rows[0].status == "sent" and rows[0].correlation_id == "corr-1"


async def test_a_sent_email_is_kept_without_its_links_secrets(notifier, smtp, publish):
    await publish(offer(email="kept@example.se"))
    await until(lambda: len(smtp.messages) == 1)
    sent = smtp.messages[0].get_body(("plain",)).get_content()
    assert "token=abc" in sent  # the learner's link works
    for _ in range(100):
        (row,) = await deliveries(notifier)
        if row.status == "sent":
            break
        await asyncio.sleep(0.05)
    assert row.status == "sent"
    import email
    from email.policy import default

    kept = email.message_from_bytes(row.raw, policy=default)
    texts = [p.get_content() for p in kept.walk() if p.get_content_maintype() == "text" and not p.is_multipart()]
    assert texts and not any("token=abc" in t for t in texts), texts
    plain = kept.get_body(("plain",)).get_content()
    assert "token=(removed after sending)" in plain and "Vård- och omsorgsarbete 1" in plain


async def test_temporary_failures_are_retried_with_backoff(notifier, smtp, publish):
    smtp.temporary_failures = 2
    await publish(offer())
    await until(lambda: len(smtp.messages) == 1)
    await asyncio.sleep(0.2)
    row = (await deliveries(notifier))[0]
    assert row.status == "sent" and row.attempts == 3 and smtp.rcpt_attempts == 3


async def test_permanent_failures_are_recorded_and_can_be_resent(notifier, smtp, caplog, publish):
    smtp.refuse["nobody@example.se"] = "550 5.1.1 <nobody@example.se>: mailbox unavailable"
    await publish(offer(email="nobody@example.se"))
    await until(lambda: smtp.rcpt_attempts == 1)
    for _ in range(40):
        row = (await deliveries(notifier))[0]
        if row.status == "failed":
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.8)  # longer than every retry delay: nothing more is tried
    row = (await deliveries(notifier))[0]
    assert row.status == "failed" and row.attempts == 1 and smtp.rcpt_attempts == 1
    # The relay's answer is kept for the operator, without the address (it must not outlive an erasure).
    assert row.last_error == "550 5.1.1 <<address>>: mailbox unavailable"
    logged = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert logged and not any("nobody@example.se" in m for m in logged), logged
    token = await notifier.token()
    h = {"Authorization": f"Bearer {token}"}
    async with notifier.http.get(f"{notifier.url}/v1/deliveries", params={"status": "failed"}, headers=h) as r:
        body = await r.json(content_type=None)
        assert r.status == 200 and body["total"] == 1 and body["items"][0]["last_error"].startswith("550")
    del smtp.refuse["nobody@example.se"]  # the mailbox was fixed
    async with notifier.http.post(f"{notifier.url}/v1/deliveries/{row.id}/resend", headers=h) as r:
        assert r.status == 200
    await until(lambda: len(smtp.messages) == 1)
    async with notifier.http.post(f"{notifier.url}/v1/deliveries/{row.id}/resend", headers=h) as r:
        assert r.status in (200, 409)  # sent already (409) or, if still pending, fine


async def test_invalid_address_is_recorded_as_failed_without_sending(notifier, smtp, publish):
    await publish(offer(email="not an address"))
    for _ in range(100):
        rows = await deliveries(notifier)
        if rows:
            break
        await asyncio.sleep(0.05)
    assert rows[0].status == "failed" and "invalid address" in rows[0].last_error
    assert smtp.rcpt_attempts == 0


async def test_nothing_from_a_learner_or_feed_reaches_a_header_or_runs(notifier, smtp, publish):
    evil = offer(name="Eve\r\nBcc: victim@example.com", title="Svets\r\nX-Injected: yes <script>alert(1)</script>")
    await publish(evil)
    await until(lambda: len(smtp.messages) == 1)
    m = smtp.messages[0]
    assert m["Bcc"] is None and m["X-Injected"] is None
    assert [a.addr_spec for a in m["To"].addresses] == ["sara@example.se"]
    assert "\n" not in m["Subject"] and "\r" not in m["Subject"]
    html = m.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_deliveries_api_needs_an_operator(notifier):
    async with notifier.http.get(f"{notifier.url}/v1/deliveries") as r:
        assert r.status == 401
    other = await notifier.token(role="coordinator")
    async with notifier.http.get(f"{notifier.url}/v1/deliveries", headers={"Authorization": f"Bearer {other}"}) as r:
        assert r.status == 403
    ok = await notifier.token()
    async with notifier.http.get(f"{notifier.url}/v1/deliveries", headers={"Authorization": f"Bearer {ok}"},
                                 params={"status": "bogus"}) as r:
        assert r.status == 400


async def test_erasure_cancels_unsent_mail_and_forgets_the_address(notifier, smtp, publish):
    smtp.refuse["late@example.se"] = "450 4.2.0 mailbox busy"
    app_id = str(uuid.uuid4())
    await publish(ApplicationReceived(producer="allocation", payload={
        "application_id": app_id, "contact": {"name": "Late", "email": "late@example.se"},
        "home_municipality": "2480", "choices": []}))
    await until(lambda: smtp.rcpt_attempts >= 1)
    await publish(ApplicantErased(producer="allocation", payload=ErasedPayload(application_id=app_id)))
    for _ in range(100):
        row = (await deliveries(notifier))[0]
        if row.status == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert row.status == "cancelled" and row.recipient == "" and row.raw == b""
    # Not left in SQLite's free pages or its WAL either (secure_delete, then a checkpoint).
    on_disk = sqlite_bytes(notifier.service.engine)
    assert on_disk is None or (on_disk and b"late@example.se" not in on_disk)
    attempts = smtp.rcpt_attempts
    await publish(offer(email="marker@example.se"))  # a later e-mail goes out; nothing else
    await until(lambda: any(m["To"].addresses[0].addr_spec == "marker@example.se" for m in smtp.messages))
    assert smtp.rcpt_attempts == attempts + 1
