"""Turning an event into e-mails (pure, no I/O): which template, which language, rendered how.

Templates are files an operator may edit: `templates/<lang>/<name>.txt`, whose first line is the
subject and the rest the plain-text body; the HTML part is the same text in `_layout.html` unless
`<name>.html` exists. Everything from learners and feeds is data: autoescaped in HTML, and never
able to reach a header (line breaks and control characters are removed; names are encoded).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
import base64
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from shared.events import Envelope, GuidanceSummaryPayload
from shared.reference import municipalities

TEMPLATE_FOR = {
    "application.confirmation_requested": "application_confirm",
    "application.received": "application_received",
    "application.rejected": "application_rejected",
    "application.waitlisted": "application_waitlisted",
    "offer.made": "offer_made",
    "offer.reminder": "offer_reminder",
    "offer.expired": "offer_expired",
    "offer.withdrawn": "offer_withdrawn",
    "offer.accepted": "offer_accepted",
    "offer.declined": "offer_declined",
    "guidance.summary_requested": "guidance_summary",
}
LANGS = ("sv", "en", "ar", "fa", "prs", "so", "ti")
# Dari: its own template where its words differ (prs/), else Iranian Persian's written standard.
TEMPLATE_LANGS = {"prs": ("prs", "fa")}
RTL = {"ar", "fa", "prs"}
LINK_LABEL = {"sv": {"offer": "Svara på erbjudandet", "status": "Se din ansökan", "confirm": "Bekräfta ansökan"},
              "en": {"offer": "Answer the offer", "status": "See your application", "confirm": "Confirm the application"},
              "ar": {"offer": "أجب على العرض", "status": "اطّلع على طلبك", "confirm": "أكِّد الطلب"},
              "fa": {"offer": "پاسخ به پیشنهاد", "status": "دیدن درخواست", "confirm": "تأیید درخواست"},
              "so": {"offer": "Ka jawaab dalabka", "status": "Eeg codsigaaga", "confirm": "Xaqiiji codsiga"},
              "ti": {"offer": "ንዕድል መልሲ ሃብ", "status": "ምልከታኻ ርአ", "confirm": "ምልከታ ኣረጋግጽ"}}
TZ = ZoneInfo("Europe/Stockholm")
_control = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class Undeliverable(ValueError):
    """This e-mail can never be sent (bad address, missing template): recorded as failed, not retried."""


def whose(payload) -> str | None:  # noqa: ANN001
    """Whom a delivery is about, for erasure: the application, or the conversation of a counsellor's plan."""
    if getattr(payload, "application_id", None):
        return payload.application_id
    if isinstance(payload, GuidanceSummaryPayload):
        return conversation(payload.session_id)
    return None


def conversation(code: str) -> str:
    """How deliveries about a chat conversation (by its code) are kept, beside application ids."""
    return f"chat:{code}"


@dataclass
class Mail:
    template: str
    lang: str
    recipient: str
    subject: str
    message_id: str
    raw: bytes
    application_id: str | None


def header_safe(text: str, limit: int = 200) -> str:
    return _control.sub(" ", text).strip()[:limit]


def message_id(event_id: str, template: str, domain: str) -> str:
    """Derived from what caused the e-mail, so a duplicate after a crash carries the same id."""
    return f"<{hashlib.sha256(f'{event_id}:{template}'.encode()).hexdigest()[:40]}@{domain}>"


class Composer:
    def __init__(self, templates_dir: Path, *, mail_from: str, sender_name: str, sender_contact: str,
                 domain: str) -> None:
        self.env = Environment(loader=FileSystemLoader(str(templates_dir)), undefined=StrictUndefined,
                               autoescape=select_autoescape(["html"]), keep_trailing_newline=True,
                               auto_reload=True)  # operators edit templates without a restart
        self.env.globals.update(municipality=_municipality, date=_date, datetime=_datetime)
        self.mail_from = mail_from
        self.sender = {"name": sender_name, "contact": sender_contact}
        self.domain = domain

    def compose(self, event: Envelope) -> Mail | None:
        """The e-mail an event causes, or None for events that cause none."""
        template = TEMPLATE_FOR.get(event.type)
        if template is None:
            return None
        p = event.payload
        contact = p.contact
        lang = contact.lang if contact.lang in LANGS else "sv"
        try:
            address = validate_email(contact.email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Undeliverable(f"invalid address {contact.email!r}: {exc}") from None
        link, kind = None, None
        if event.type.startswith("offer.") and getattr(p, "answer_url", None) and event.type in (
                "offer.made", "offer.reminder"):
            link, kind = p.answer_url, "offer"
        elif event.type == "application.confirmation_requested":
            link, kind = p.confirm_url, "confirm"
        elif event.type == "application.received" and p.status_url:
            link, kind = p.status_url, "status"
        labels = next(LINK_LABEL[lg] for lg in (*TEMPLATE_LANGS.get(lang, (lang,)), "sv") if lg in LINK_LABEL)
        ctx = {"p": p, "contact": contact, "lang": lang, "dir": "rtl" if lang in RTL else "ltr", "link": link,
               "sender": self.sender, "link_label": labels.get(kind or "", "")}
        tried = [f"{lg}/{template}.txt" for lg in (*TEMPLATE_LANGS.get(lang, (lang,)), "sv")]
        try:
            text = self.env.select_template(tried).render(ctx)
        except TemplateNotFound:
            raise Undeliverable(f"no template {tried[0]}") from None
        subject, _, body = text.partition("\n")
        subject = header_safe(subject)
        body = body.strip() + f"\n\n-- \n{self.sender['name']}\n{self.sender['contact']}\n"
        paragraphs = [[line for line in block.split("\n")] for block in body.split("\n\n")[:-1] if block.strip()]
        try:
            html = self.env.select_template([f"{lg}/{template}.html" for lg in TEMPLATE_LANGS.get(lang, (lang,))]
                                            ).render(ctx)
        except TemplateNotFound:
            html = self.env.get_template("_layout.html").render(subject=subject, paragraphs=paragraphs, **ctx)
        mid = message_id(str(event.event_id), template, self.domain)
        raw = build_mime(
            [("From", formataddr((_encode_word(header_safe(self.sender["name"])), self.mail_from))),
             ("To", formataddr((_encode_word(header_safe(contact.name, 100)), address))),
             ("Subject", _encode_word(subject)),
             ("Message-ID", mid),
             ("Date", format_datetime(event.time)),
             ("Content-Language", lang),
             ("Auto-Submitted", "auto-generated")],
            text=body, html=html, boundary=mid.strip("<>").split("@")[0])
        return Mail(template, lang, address, subject, mid, raw, whose(p))


def _encode_word(value: str) -> str:
    """RFC 2047 encoded-word for non-ASCII header text (names, subjects); ASCII as it is."""
    if value.isascii():
        return value.replace('"', "'")
    return Header(value, "utf-8").encode()


def build_mime(headers: list[tuple[str, str]], *, text: str, html: str, boundary: str) -> bytes:
    """A multipart/alternative message (plain text and HTML, UTF-8, base64).

    Written out directly: the standard library's generator spends milliseconds per message
    re-folding headers, which caps the notifier below its throughput target. Header values here
    are already single-line (header_safe) and encoded (_encode_word).
    """
    b = f"=_{boundary}"
    lines = [f"{k}: {v}" for k, v in headers]
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{b}"', "", ""]
    out = "\r\n".join(lines)
    for subtype, content in (("plain", text), ("html", html)):
        encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
        out += (f"--{b}\r\nContent-Type: text/{subtype}; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}")
    out += f"--{b}--\r\n"
    return out.encode("ascii")


def _municipality(code: str | None) -> str:
    if code is None:
        return ""
    m = municipalities().get(code)
    return m.name if m else code


def _date(d: date | str | None) -> str:
    if d is None:
        return ""
    return d.isoformat() if isinstance(d, date) else str(d)


def _datetime(ts: datetime) -> str:
    return ts.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
