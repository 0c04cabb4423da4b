"""Feed parsing: three formats in, one normalised `ParsedFeed` out. Pure functions, no I/O."""
from __future__ import annotations

from services.catalogue.feeds.records import FeedFormatError, ParsedFeed, Rejection  # noqa: F401


def detect_and_parse(body: bytes, content_type: str, municipality: str, fmt: str | None = None) -> ParsedFeed:
    """Parse a feed body; raises FeedFormatError (a message for the caller) when it cannot be read at all."""
    from services.catalogue.feeds import csvfeed, emil3, planned

    if fmt is None:
        fmt = "csv" if content_type in ("text/csv", "application/csv") else "json"
    if fmt == "csv":
        return csvfeed.parse(body, municipality)
    doc = emil3.load_json(body)
    if fmt == "emil3" or emil3.looks_like(doc):
        return emil3.parse(doc, municipality)
    if fmt == "planned" or planned.looks_like(doc):
        return planned.parse(doc, municipality)
    raise FeedFormatError(
        "unrecognised JSON feed: expected an EMIL3 bundle with educationProviders/educationInfos/"
        "educationEvents (and optionally validationOffers, learningCentres), or a Planned Educations "
        "v4 adult-education-events response"
    )
