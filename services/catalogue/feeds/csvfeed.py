"""CSV for small municipalities: one row per course occurrence, Swedish headers.

The template is documented in docs/feed-csv-template.md (example: docs/feed-csv-example.csv).
UTF-8 with or without BOM; comma or semicolon as separator (taken from the header line).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata

from services.catalogue.feeds.records import (
    FeedFormatError, FieldError, ParsedFeed, check_id, check_occurrence, clean, slug, parse_date, parse_number,
)

# Template column -> field. Headers match ignoring case, accents, spaces and punctuation.
COLUMNS = {
    "Tillfälle-id": "occurrence_id",
    "Kurskod": "code",
    "Kursnamn": "title",
    "Beskrivning": "description",
    "Skolform": "school_type",
    "Anordnare": "provider",
    "Ort": "town",
    "Startdatum": "start",
    "Slutdatum": "end",
    "Studietakt": "pace",
    "Distans": "distance",
    "Sista ansökningsdag": "deadline",
    "Länk": "url",
    "Undervisningsspråk": "language",
    "Platser": "places",
    "Status": "status",
}
REQUIRED = ("Tillfälle-id", "Kurskod", "Kursnamn")
YES = {"ja", "j", "yes", "true", "1", "x"}
NO = {"nej", "n", "no", "false", "0", ""}
CONTINUOUS = {"löpande", "lopande", "löpande antagning", "kontinuerlig"}
WITHDRAWN = {"borttagen", "struken", "avslutad", "deleted", "inactive"}
CANCELLED = {"inställd", "installd", "cancelled"}


def _key(header: str) -> str:
    h = unicodedata.normalize("NFKD", header.strip().lower())
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in h if not unicodedata.combining(ch)))


KEYS = {_key(h): f for h, f in COLUMNS.items()}



def parse(body: bytes, municipality: str) -> ParsedFeed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedFormatError(
            f"the CSV is not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' and send it again"
        ) from None
    if "\x00" in text:
        raise FeedFormatError("the CSV contains NUL bytes; it looks like a binary file, not CSV text")
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise FeedFormatError("the CSV is empty; the first line must be the header row")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        fields = []
        for h in header:
            f = KEYS.get(_key(h))
            if f is None:
                raise FeedFormatError(
                    f"unknown column {h.strip()!r} in the header; the template's columns are: "
                    + ", ".join(COLUMNS)
                )
            fields.append(f)
        missing = [h for h in REQUIRED if COLUMNS[h] not in fields]
        if missing:
            raise FeedFormatError("missing required column(s): " + ", ".join(missing))
        feed = ParsedFeed(format="csv")
        for lineno, row in enumerate(reader, start=2):
            if not any(v.strip() for v in row):
                continue
            _row(feed, municipality, lineno, dict(zip(fields, row)), len(row) == len(fields))
    except csv.Error as exc:
        raise FeedFormatError(f"CSV syntax error on line {reader.line_num}: {exc}") from None
    return feed


def _row(feed: ParsedFeed, municipality: str, lineno: int, r: dict, width_ok: bool) -> None:
    rid = check_id(r.get("occurrence_id"))
    if rid is None:
        feed.reject(f"rad {lineno}", "Tillfälle-id", f"line {lineno}: Tillfälle-id is empty or too long")
        return
    if not width_ok:
        feed.reject(rid, "row", f"line {lineno}: the row does not have as many columns as the header")
        return
    status = (clean(r.get("status")) or "aktiv").lower()
    if status in WITHDRAWN:
        feed.withdrawn["occurrence"].add(rid)
        return
    code = clean(r.get("code"))
    if not code:
        feed.reject(rid, "Kurskod", f"line {lineno}: Kurskod is required")
        return
    course_id = f"csv.{municipality}.{code}"
    try:
        distance = (clean(r.get("distance")) or "").lower()
        if distance not in YES | NO:
            raise FieldError("Distans", f"line {lineno}: Distans must be ja or nej, got {distance!r}")
        deadline_raw = (clean(r.get("deadline")) or "")
        continuous = deadline_raw.lower() in CONTINUOUS
        places = parse_number(r.get("places"), fld="Platser")
        occurrence = {
            "id": rid,
            "course_id": course_id,
            "municipality_code": municipality,
            "town": clean(r.get("town")),
            "start": parse_date(r.get("start"), fld="Startdatum"),
            "end": parse_date(r.get("end"), fld="Slutdatum"),
            "pace_percent": parse_number(r.get("pace"), fld="Studietakt"),
            "distance": distance in YES,
            "application_deadline": None if continuous else parse_date(deadline_raw or None, fld="Sista ansökningsdag"),
            "continuous_intake": continuous,
            "languages": [x for x in (clean(r.get("language")),) if x],
            "url": clean(r.get("url")),
            "places": int(places) if places is not None else None,
            "cancelled": status in CANCELLED,
        }
        check_occurrence(occurrence)
    except FieldError as exc:
        msg = exc.message if exc.message.startswith("line") else f"line {lineno}: {exc.message}"
        feed.reject(rid, exc.field, msg)
        return
    provider = clean(r.get("provider"))
    provider_id = f"csv.{municipality}.{slug(provider)}" if provider else None
    if provider_id and provider_id not in feed.records["provider"]:
        feed.add("provider", provider_id, {"id": provider_id, "name": provider, "municipality_code": municipality})
    if course_id not in feed.records["course"]:
        before = len(feed.rejected)
        feed.add("course", course_id, {
            "id": course_id, "municipality_code": municipality, "provider_id": provider_id, "code": code,
            "title": clean(r.get("title")), "description": clean(r.get("description")) or "",
            "school_type": clean(r.get("school_type")),
        })
        if len(feed.rejected) > before:
            feed.rejected[-1].message = f"line {lineno}: {feed.rejected[-1].message}"
            feed.rejected[-1].id = rid
            return
    feed.add("occurrence", rid, occurrence)
