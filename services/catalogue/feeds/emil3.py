"""Skolverket's Susa-navet EMIL3 JSON, plus our extensions `validationOffers` and `learningCentres`.

Each record is `{"id", "status", "content"}`; a status other than ACTIVE withdraws the record.
Multi-language strings are `{"strings": [{"lang", "value"}]}`: we take Swedish, else the first.
"""
from __future__ import annotations

import orjson

from services.catalogue.feeds.records import (
    FeedFormatError, FieldError, ParsedFeed, check_id, check_occurrence, clean, html_to_text, parse_date,
    parse_number,
)

SECTIONS = {
    "educationProviders": "provider",
    "educationInfos": "course",
    "educationEvents": "occurrence",
    "validationOffers": "validation_offer",
    "learningCentres": "learning_centre",
}


def load_json(body: bytes):  # noqa: ANN201
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedFormatError(f"malformed JSON: {exc}") from None


def looks_like(doc) -> bool:  # noqa: ANN001
    return isinstance(doc, dict) and any(k in doc for k in SECTIONS)


def text_of(obj, prefer: str = "swe") -> str | None:  # noqa: ANN001
    if isinstance(obj, str):
        return clean(obj)
    if not isinstance(obj, dict):
        return None
    items = obj.get("strings") or obj.get("urls") or []
    if not isinstance(items, list):
        return None
    items = [i for i in items if isinstance(i, dict) and clean(i.get("value"))]
    if not items:
        return None
    best = next((i for i in items if i.get("lang") == prefer), items[0])
    value = clean(best.get("value"))
    if value and best.get("content", "").upper() == "HTML":
        value = html_to_text(value)
    return value


def texts_of(obj) -> list[str]:  # noqa: ANN001
    if not isinstance(obj, dict) or not isinstance(obj.get("strings"), list):
        return []
    return [v for i in obj["strings"] if isinstance(i, dict) and (v := clean(i.get("value")))]


def code_of(obj) -> str | None:  # noqa: ANN001
    return clean(obj.get("code")) if isinstance(obj, dict) else None


def parse(doc: dict, municipality: str) -> ParsedFeed:
    feed = ParsedFeed(format="emil3")
    for section, kind in SECTIONS.items():
        records = doc.get(section, [])
        if records is None:
            continue
        if not isinstance(records, list):
            raise FeedFormatError(f"{section} must be a list of records, got {type(records).__name__}")
        for i, rec in enumerate(records):
            where = f"{section}[{i}]"
            if not isinstance(rec, dict):
                feed.reject(where, "record", f"{where} must be an object with id, status and content")
                continue
            rid = check_id(rec.get("id"))
            if rid is None:
                feed.reject(where, "id", f"{where} has no usable id (a non-empty string of at most 200 characters)")
                continue
            status = rec.get("status")
            if not isinstance(status, str):
                feed.reject(rid, "status", "status must be a string such as ACTIVE or DELETED")
                continue
            if status.upper() != "ACTIVE":
                feed.withdrawn[kind].add(rid)
                continue
            content = rec.get("content")
            if not isinstance(content, dict):
                feed.reject(rid, "content", "an ACTIVE record needs a content object")
                continue
            ident = content.get("identifier")
            if ident is not None and ident != rid:
                feed.reject(rid, "content.identifier", f"identifier {ident!r} differs from the record id {rid!r}")
                continue
            try:
                data = CONVERTERS[kind](rid, content, municipality)
            except FieldError as exc:
                feed.reject(rid, exc.field, exc.message)
                continue
            except (AttributeError, TypeError, ValueError, KeyError, IndexError):
                # A shape no field check foresaw (a list where an object belongs, ...): this record only.
                feed.reject(rid, "content", f"{where} has a field of the wrong type (an object, list, number or "
                                            "text where another is expected); check it against the EMIL3 format")
                continue
            feed.add(kind, rid, data)
            if kind == "occurrence":
                # EMIL3 names providers on the event; our course documents carry one provider.
                provs = content.get("providers")
                if isinstance(provs, list) and provs and clean(provs[0]):
                    feed.course_providers.setdefault(data["course_id"], clean(provs[0]))
    return feed


def _provider(rid: str, c: dict, municipality: str) -> dict:
    addr = c.get("visitAddresses") or []
    visit = addr[0] if isinstance(addr, list) and addr and isinstance(addr[0], dict) else c.get("contactAddress") or {}
    address = ", ".join(x for x in (clean(visit.get("streetAddress")), clean(visit.get("town"))) if x) or None
    phones = c.get("phones") or []
    phone = text_of(phones[0].get("number")) if phones and isinstance(phones[0], dict) else None
    emails = c.get("emailAddresses") or []
    return {
        "id": rid,
        "name": text_of(c.get("name")),
        "municipality_code": municipality,
        "url": text_of(c.get("url")),
        "email": clean(emails[0]) if isinstance(emails, list) and emails else None,
        "phone": phone,
        "address": address,
    }


def _course(rid: str, c: dict, municipality: str) -> dict:
    credits = c.get("credits") or {}
    subjects = [code_of(s) for s in c.get("subjects") or [] if code_of(s)]
    providers = c.get("providers") or []
    return {
        "id": rid,
        "municipality_code": municipality,
        "provider_id": clean(providers[0]) if isinstance(providers, list) and providers else None,
        "code": clean(c.get("code")),
        "title": text_of(c.get("title")),
        "description": text_of(c.get("description")) or "",
        "school_type": code_of(c.get("type")),
        "subjects": subjects,
        "credits": parse_number(credits.get("credits"), fld="credits.credits") if isinstance(credits, dict) else None,
        "credits_system": code_of(credits.get("system")) if isinstance(credits, dict) else None,
        "url": text_of(c.get("url")),
        "keywords": texts_of(c.get("keywords")),
    }


def _occurrence(rid: str, c: dict, municipality: str) -> dict:
    execution = c.get("execution") or {}
    application = c.get("application") or {}
    locations = c.get("locations") or []
    loc = locations[0] if isinstance(locations, list) and locations and isinstance(locations[0], dict) else {}
    pace = c.get("paceOfStudy") or {}
    ext_distance = any(isinstance(e, dict) and e.get("itdistance") is True for e in c.get("extensions") or [])
    place = clean(loc.get("areaCode"))
    if place is not None and not (len(place) == 4 and place.isdigit()):
        raise FieldError("locations.areaCode", f"not a municipality code: {place!r} (four digits, e.g. 2480)")
    if not clean(c.get("education")):
        raise FieldError("education", "an educationEvent must name its educationInfo in `education`")
    data = {
        "id": rid,
        "course_id": clean(c.get("education")),
        "municipality_code": municipality,
        "place_municipality_code": place,
        "town": clean(loc.get("town")),
        "start": parse_date(execution.get("start"), fld="execution.start"),
        "end": parse_date(execution.get("end"), fld="execution.end"),
        "pace_percent": parse_number(pace.get("percentage"), fld="paceOfStudy.percentage") if isinstance(pace, dict) else None,
        "distance": bool(c.get("distance")) or ext_distance,
        "time_of_study": code_of(c.get("timeOfStudy")),
        "application_opens": parse_date(application.get("first"), fld="application.first"),
        "application_deadline": parse_date(application.get("last"), fld="application.last"),
        "continuous_intake": application.get("continuous") is True,
        "languages": [x for x in (clean(v) for v in c.get("languageOfInstructions") or []) if x],
        "url": text_of(c.get("url")),
        "places": c.get("places"),
        "cancelled": c.get("isCancelled") is True,
    }
    check_occurrence(data)
    return data


def _muni(c: dict, municipality: str) -> str:
    given = clean(c.get("municipality"))
    if given is not None and given != municipality:
        raise FieldError("municipality", f"municipality {given} does not match the feed's municipality {municipality}")
    return municipality


def _validation(rid: str, c: dict, municipality: str) -> dict:
    return {
        "id": rid,
        "municipality_code": _muni(c, municipality),
        "title": text_of(c.get("title")),
        "description": text_of(c.get("description")) or "",
        "occupation_ssyk4": clean(c.get("occupation")),
        "course_codes": [x for x in (clean(v) for v in c.get("courseCodes") or []) if x],
        "method": text_of(c.get("method")),
        "duration": text_of(c.get("duration")),
        "cost": text_of(c.get("cost")),
        "provider": text_of(c.get("provider")),
        "contact": text_of(c.get("contact")),
        "url": text_of(c.get("url")),
    }


def _centre(rid: str, c: dict, municipality: str) -> dict:
    coords = c.get("coordinates") or {}
    if not isinstance(coords, dict):
        raise FieldError("coordinates", "coordinates must be an object {lat, lon}")
    lat = parse_number(coords.get("lat"), fld="coordinates.lat")
    lon = parse_number(coords.get("lon"), fld="coordinates.lon")
    if lat is not None and not -90 <= lat <= 90:
        raise FieldError("coordinates.lat", f"latitude out of range: {lat}")
    if lon is not None and not -180 <= lon <= 180:
        raise FieldError("coordinates.lon", f"longitude out of range: {lon}")
    return {
        "id": rid,
        "municipality_code": _muni(c, municipality),
        "name": text_of(c.get("name")),
        "address": text_of(c.get("address")),
        "town": clean(c.get("town")),
        "latitude": lat,
        "longitude": lon,
        "services": [x for x in (clean(v) for v in c.get("services") or []) if x],
        "opening_hours": text_of(c.get("openingHours")),
        "contact": text_of(c.get("contact")),
        "url": text_of(c.get("url")),
    }


CONVERTERS = {
    "provider": _provider,
    "course": _course,
    "occurrence": _occurrence,
    "validation_offer": _validation,
    "learning_centre": _centre,
}
