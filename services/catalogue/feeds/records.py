"""The normalised form every feed format is parsed into, and the helpers the parsers share."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.events import LearningCentreDoc, OccurrenceDoc, ProviderDoc, ValidationOfferDoc

KINDS = ("provider", "course", "occurrence", "validation_offer", "learning_centre")
MAX_ID = 200
MAX_PLACES = 10_000  # more than any course has; allocation counts seats in 32-bit columns


class FeedFormatError(ValueError):
    """The body cannot be read as a feed at all; nothing is applied."""


class CourseInfo(BaseModel):
    """A course as a feed describes it (EMIL3 educationInfo), before occurrences are attached."""

    model_config = ConfigDict(extra="forbid")
    id: str
    municipality_code: str
    provider_id: str | None = None
    code: str | None = None
    title: str
    description: str = ""
    school_type: str | None = None
    subjects: list[str] = []
    credits: float | None = None
    credits_system: str | None = None
    url: str | None = None
    keywords: list[str] = []


MODELS: dict[str, type[BaseModel]] = {
    "provider": ProviderDoc,
    "course": CourseInfo,
    "occurrence": OccurrenceDoc,
    "validation_offer": ValidationOfferDoc,
    "learning_centre": LearningCentreDoc,
}


@dataclass
class Rejection:
    id: str
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"id": self.id, "field": self.field, "message": self.message}


@dataclass
class ParsedFeed:
    format: str
    records: dict[str, dict[str, BaseModel]] = field(default_factory=lambda: {k: {} for k in KINDS})
    withdrawn: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    rejected: list[Rejection] = field(default_factory=list)
    course_providers: dict[str, str] = field(default_factory=dict)  # course id -> provider id named by its events

    def rejected_ids(self) -> set[str]:
        return {r.id for r in self.rejected}

    def reject(self, rid: str, fld: str, message: str) -> None:
        self.rejected.append(Rejection(rid, fld, message))

    def add(self, kind: str, rid: str, data: dict) -> None:
        """Validate `data` into the kind's model; a failure becomes a rejection naming the field."""
        if rid in self.records[kind] or rid in self.withdrawn[kind]:
            self.reject(rid, "id", f"{kind} id {rid!r} appears more than once in this feed; only the first is used")
            return
        try:
            self.records[kind][rid] = MODELS[kind].model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "content"
            self.reject(rid, loc, f"{err['msg']} (got {_preview(err.get('input'))})")


def _preview(value) -> str:  # noqa: ANN001
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "br", "li", "ul", "ol", "div", "h1", "h2", "h3", "h4", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):  # noqa: ANN001
        self.parts.append(data)


_ws = re.compile(r"[ \t\r\f\v]+")
_nl = re.compile(r"\s*\n\s*")


def html_to_text(value: str) -> str:
    """Feeds may send HTML descriptions; we keep the words, never the markup (it is untrusted)."""
    if "<" not in value and "&" not in value:
        return value.strip()
    p = _TextExtractor()
    p.feed(value)
    p.close()
    text = _ws.sub(" ", "".join(p.parts))
    return _nl.sub("\n", text).strip()


def clean(value) -> str | None:  # noqa: ANN001
    """Strings from feeds: trimmed, CDATA unwrapped, the literal string "null" as None."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    v = value.strip()
    if v.startswith("<![CDATA[") and v.endswith("]]>"):
        v = v[9:-3].strip()
    if v == "" or v.lower() == "null":
        return None
    return html.unescape(v) if "&" in v else v


def parse_date(value, *, fld: str) -> date | None:  # noqa: ANN001
    v = clean(value)
    if v is None:
        return None
    try:
        if len(v) > 10:
            return datetime.fromisoformat(v.replace("Z", "+00:00")).date()
        return date.fromisoformat(v)
    except ValueError:
        raise FieldError(fld, f"not a date: {v!r} (expected YYYY-MM-DD)") from None


def parse_number(value, *, fld: str) -> float | None:  # noqa: ANN001
    if value is None or isinstance(value, bool):
        return None if value is None else _bad_number(fld, value)
    if isinstance(value, (int, float)):
        return float(value)
    v = clean(value)
    if v is None:
        return None
    v = v.replace("%", "").replace(",", ".").replace("\u00a0", "").replace(" ", "")
    try:
        return float(v)
    except ValueError:
        return _bad_number(fld, value)


def _bad_number(fld: str, value) -> float:  # noqa: ANN001
    raise FieldError(fld, f"not a number: {value!r}")


class FieldError(ValueError):
    def __init__(self, fld: str, message: str) -> None:
        super().__init__(message)
        self.field = fld
        self.message = message


def check_id(value) -> str | None:  # noqa: ANN001
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    return v if len(v) <= MAX_ID and v.isprintable() else None


def check_occurrence(data: dict) -> None:
    """Rules across fields that a per-field model cannot see."""
    pace = data.get("pace_percent")
    if pace is not None and not (0 < pace <= 100):
        raise FieldError("pace_percent", f"study pace must be between 1 and 100 percent, got {pace:g}")
    s, e = data.get("start"), data.get("end")
    if s and e and e < s:
        raise FieldError("end", f"ends ({e}) before it starts ({s})")
    places = data.get("places")
    if places is not None and places < 0:
        raise FieldError("places", f"number of places cannot be negative, got {places}")
    if places is not None and places > MAX_PLACES:
        raise FieldError("places", f"{places} places is more than any course has (at most {MAX_PLACES})")


def slug(text: str) -> str:
    """A stable ASCII id fragment from a name (for formats that have no ids for providers)."""
    import unicodedata

    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-")[:60] or "okand"
