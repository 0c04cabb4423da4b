"""Skolverket's Planned Educations v4 adult-education-events JSON (list or detail responses).

Quirks handled: titles wrapped in CDATA, the string "null" for missing values, numbers sent as
strings, and a last application date of 2099-12-31 meaning continuous intake. Each event becomes
one course with one occurrence, since this format has no separate course record.
"""
from __future__ import annotations

from datetime import date

from services.catalogue.feeds.records import (
    FeedFormatError, FieldError, ParsedFeed, check_id, check_occurrence, clean, slug, html_to_text, parse_date,
    parse_number,
)

CONTINUOUS = date(2099, 12, 31)


def looks_like(doc) -> bool:  # noqa: ANN001
    return bool(_events(doc, strict=False))


def _events(doc, strict: bool = True) -> list:  # noqa: ANN001
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        body = doc.get("body", doc)
        if isinstance(body, dict):
            emb = body.get("_embedded")
            if isinstance(emb, dict) and isinstance(emb.get("listedAdultEducationEvents"), list):
                return emb["listedAdultEducationEvents"]
            if "educationEventId" in body:
                return [body]
    if strict:
        raise FeedFormatError("no adult education events found (expected body._embedded.listedAdultEducationEvents)")
    return []



def parse(doc, municipality: str) -> ParsedFeed:  # noqa: ANN001
    feed = ParsedFeed(format="planned")
    for i, ev in enumerate(_events(doc)):
        where = f"events[{i}]"
        if not isinstance(ev, dict):
            feed.reject(where, "record", f"{where} must be an object")
            continue
        rid = check_id(ev.get("educationEventId"))
        if rid is None:
            feed.reject(where, "educationEventId", f"{where} has no usable educationEventId")
            continue
        try:
            title = clean(ev.get("titleSv")) or clean(ev.get("studyPathName"))
            last = parse_date(ev.get("lastApplicationDate"), fld="lastApplicationDate")
            continuous = last is not None and last >= CONTINUOUS
            place = clean(ev.get("geographicalAreaCode"))
            provider_name = clean(ev.get("providerName")) or clean(ev.get("organizerName"))
            contact = ev.get("contactInfo") if isinstance(ev.get("contactInfo"), dict) else {}
            course_id = "pe." + rid.removeprefix("e.")
            occurrence = {
                "id": rid,
                "course_id": course_id,
                "municipality_code": municipality,
                "place_municipality_code": place if place and len(place) == 4 and place.isdigit() else None,
                "town": clean(ev.get("town")) or clean(ev.get("municipality")),
                "start": parse_date(ev.get("semesterStartFrom"), fld="semesterStartFrom"),
                "pace_percent": parse_number(ev.get("paceOfStudy"), fld="paceOfStudy"),
                "distance": ev.get("distance") is True or clean(ev.get("distance")) == "true",
                "application_deadline": None if continuous else last,
                "continuous_intake": continuous,
                "languages": [x for x in (clean(ev.get("instructionLanguages")),) if x],
                "url": clean(contact.get("web")),
            }
            check_occurrence(occurrence)
            course = {
                "id": course_id,
                "municipality_code": municipality,
                "provider_id": f"pe.{municipality}.{slug(provider_name)}" if provider_name else None,
                "title": title,
                "description": html_to_text(clean(ev.get("educationEventDescription")) or ""),
                "school_type": clean(ev.get("typeOfSchool")),
                "credits": parse_number(ev.get("credits"), fld="credits"),
                "credits_system": clean(ev.get("creditsSystem")),
                "url": clean(contact.get("web")),
            }
        except FieldError as exc:
            feed.reject(rid, exc.field, exc.message)
            continue
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            feed.reject(rid, "event", f"{where} has a field of the wrong type (an object, list, number or text where "
                                      "another is expected); check it against Planned Educations v4")
            continue
        if course["provider_id"] and course["provider_id"] not in feed.records["provider"]:
            feed.add("provider", course["provider_id"], {
                "id": course["provider_id"], "name": provider_name, "municipality_code": municipality,
                "email": clean(contact.get("email")), "phone": clean(contact.get("telephone")),
                "url": clean(contact.get("web")),
            })
        before = len(feed.rejected)
        feed.add("course", course_id, course)
        if len(feed.rejected) == before:
            feed.add("occurrence", rid, occurrence)
    return feed
