"""Property-based fuzzing of the three feed parsers: real samples mutated at random (values replaced by
any JSON, keys deleted, records duplicated, CSV cells and lines garbled) and raw bytes. At least 1,000
inputs per format. A parser either reads the feed, with every rejected record naming its field and
what is wrong, or refuses the whole body with a FeedFormatError that says why; nothing else escapes."""
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from services.catalogue.demo import municipality_feed
from services.catalogue.feeds import FeedFormatError, detect_and_parse
from tests.conftest import SHARED_DATA
from tests.strategies import FUZZ, mutated
from tests.test_feed_parsers import CSV_HEADER, emil3_bundle

PLANNED = json.loads((SHARED_DATA / "skolverket_planned_educations" / "example_adult_education_events_list.json")
                     .read_text())
EMIL3 = json.loads(emil3_bundle())
DEMO = municipality_feed("2422")  # validation offers and a learning centre too
EMIL3.update({k: DEMO[k][:2] for k in ("validationOffers", "learningCentres")})
EMIL3["educationInfos"] += DEMO["educationInfos"][:2]
EMIL3["educationEvents"] += DEMO["educationEvents"][:3]
CSV_EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "feed-csv-example.csv"

def check(body: bytes, content_type: str, fmt=None) -> None:
    try:
        feed = detect_and_parse(body, content_type, "2422", fmt)
    except FeedFormatError as exc:
        assert str(exc).strip(), "a refusal must say why"
        return
    for r in feed.rejected:
        assert r.id is not None and r.field and r.message, r


@FUZZ
@given(doc=mutated(EMIL3))
def test_emil3_fuzz(doc):
    check(json.dumps(doc).encode(), "application/json")


@FUZZ
@given(doc=mutated(PLANNED))
def test_planned_educations_fuzz(doc):
    check(json.dumps(doc).encode(), "application/json", "planned")


CSV_LINES = [CSV_HEADER.split("\n")[0]] + [line for line in CSV_EXAMPLE.read_text(encoding="utf-8").splitlines()[1:]
                                            if line]
CELL = st.text(max_size=30) | st.sampled_from(["", "ja", "nej", "maybe", "2027-13-01", "löpande", "-5", "101",
                                                "\"", "\"\"x\"", ";", "\x00", "\ufeff", "2480", "aktiv", "inställd"])


@st.composite
def garbled_csv(draw):
    lines = [line.split(";") for line in CSV_LINES]
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["cell", "cell", "cell", "drop_cell", "add_cell", "dup_line", "drop_line"]))
        if action == "cell" and lines[row]:
            lines[row][draw(st.integers(0, len(lines[row]) - 1))] = draw(CELL)
        elif action == "drop_cell" and lines[row]:
            lines[row].pop(draw(st.integers(0, len(lines[row]) - 1)))
        elif action == "add_cell":
            lines[row].append(draw(CELL))
        elif action == "dup_line":
            lines.append(list(lines[row]))
        elif action == "drop_line" and len(lines) > 1:
            lines.pop(row)
    sep = draw(st.sampled_from([";", ","]))
    text = "\n".join(sep.join(cells) for cells in lines)
    return (("\ufeff" if draw(st.booleans()) else "") + text).encode(draw(st.sampled_from(["utf-8", "latin-1",
                                                                                          "utf-16"])),
                                                                     errors="replace")


@FUZZ
@given(body=garbled_csv())
def test_csv_fuzz(body):
    check(body, "text/csv")


@FUZZ
@given(body=st.binary(max_size=2000), ctype=st.sampled_from(["application/json", "text/csv"]))
def test_raw_bytes_fuzz(body, ctype):
    check(body, ctype)
