"""The three feed formats parse into the same normalised records; bad records say what and where."""
import json

import pytest

from services.catalogue.feeds import FeedFormatError, detect_and_parse
from tests.conftest import SHARED_DATA

EMIL3 = SHARED_DATA / "skolverket_susa_navet_emil3"
PLANNED = SHARED_DATA / "skolverket_planned_educations"


def emil3_bundle() -> bytes:
    return json.dumps({
        "educationProviders": [json.loads((EMIL3 / "susa_navet_provider.json").read_text())],
        "educationInfos": json.loads((EMIL3 / "susa_navet_infos.json").read_text())["educationInfos"],
        "educationEvents": json.loads((EMIL3 / "susa_navet_events.json").read_text())["educationEvents"],
    }).encode()


def test_real_emil3_samples_parse_with_deleted_row_as_withdrawal():
    feed = detect_and_parse(emil3_bundle(), "application/json", "2480")
    assert feed.format == "emil3"
    assert feed.rejected == []
    occ = feed.records["occurrence"]["e.uoh.kth.dd1420.60090.20251"]
    assert occ.course_id == "i.uoh.kth.dd1420.60090.20251"
    assert str(occ.start) == "2025-01-20" and occ.pace_percent == 50.0
    assert str(occ.application_deadline) == "2024-10-15"
    assert "e.sv.deleted.1" in feed.withdrawn["occurrence"]
    assert feed.records["provider"]["p.uoh.kth"].name == "Kungliga Tekniska högskolan"


def test_emil3_html_description_keeps_words_not_markup():
    doc = json.loads((EMIL3 / "susa_navet_event.json").read_text())
    info = {"id": "i.1", "status": "ACTIVE", "content": {"title": doc["content"]["title"],
                                                        "description": doc["content"]["description"]}}
    feed = detect_and_parse(json.dumps({"educationInfos": [info]}).encode(), "application/json", "2480")
    text = feed.records["course"]["i.1"].description
    assert "<" not in text and "grunderna" in text and "Datastrukturer & komplexitet" in text


def test_planned_educations_quirks():
    body = (PLANNED / "example_adult_education_events_list.json").read_bytes()
    feed = detect_and_parse(body, "application/json", "2480")
    assert feed.format == "planned" and feed.rejected == []
    eng5 = feed.records["occurrence"]["e.IST.518107VUXFLEXENG05"]
    course = feed.records["course"]["pe.IST.518107VUXFLEXENG05"]
    assert course.title == "Engelska 5"  # CDATA unwrapped
    assert course.credits == 100.0  # number sent as a string
    assert eng5.pace_percent is None  # the string "null"
    assert eng5.continuous_intake and eng5.application_deadline is None  # 2099-12-31
    baker = feed.records["occurrence"]["e.IST.33006RLXACNVUXY251BAG"]
    assert str(baker.application_deadline) == "2024-11-28" and not baker.continuous_intake


def test_planned_educations_detail_response():
    body = (PLANNED / "example_adult_education_event_detail.json").read_bytes()
    feed = detect_and_parse(body, "application/json", "2480")
    course = feed.records["course"]["pe.myh.27538"]
    assert course.title == ".NET Cloud Developer"
    assert "Azure" in course.description


CSV_HEADER = "Tillfälle-id;Kurskod;Kursnamn;Beskrivning;Skolform;Anordnare;Ort;Startdatum;Slutdatum;" \
             "Studietakt;Distans;Sista ansökningsdag;Länk;Undervisningsspråk;Platser;Status"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("sep", [";", ","])
def test_csv_template_with_or_without_bom_and_either_separator(bom, sep):
    rows = [
        CSV_HEADER,
        "T1;VÅRVÅR01;Vård och omsorg 1;Grunder i vård;Gymnasial vuxenutbildning;Lärcentrum Sorsele;Sorsele;"
        "2027-01-18;2027-06-04;50 %;ja;2026-12-15;https://x.example;svenska;20;aktiv",
        "T2;SFIKURSB;SFI kurs B;;Svenska för invandrare;Lärcentrum Sorsele;Sorsele;2027-01-18;;100;nej;löpande;;;;",
    ]
    text = "\r\n".join(r.replace(";", sep) if sep == "," else r for r in rows)
    feed = detect_and_parse(bom + text.encode(), "text/csv", "2422")
    assert feed.rejected == []
    t1 = feed.records["occurrence"]["T1"]
    assert t1.course_id == "csv.2422.VÅRVÅR01" and t1.distance and t1.pace_percent == 50 and t1.places == 20
    t2 = feed.records["occurrence"]["T2"]
    assert t2.continuous_intake and not t2.distance
    assert feed.records["course"]["csv.2422.SFIKURSB"].title == "SFI kurs B"
    assert feed.records["provider"]["csv.2422.larcentrum-sorsele"].name == "Lärcentrum Sorsele"


def test_csv_bad_rows_are_rejected_with_line_and_column():
    text = "\n".join([
        CSV_HEADER,
        "T1;K1;Kurs;;;;;2027-13-01;;;;;;;;",
        "T2;K2;Kurs;;;;;;;;kanske;;;;;",
        "T3;K3;Kurs;;;;;;;250;;;;;;",
        "T4;K4;Kurs;;;;;;;;;;;;;",
    ])
    feed = detect_and_parse(text.encode(), "text/csv", "2422")
    got = {r.id: (r.field, r.message) for r in feed.rejected}
    assert got["T1"][0] == "Startdatum" and "line 2" in got["T1"][1] and "2027-13-01" in got["T1"][1]
    assert got["T2"][0] == "Distans" and "line 3" in got["T2"][1]
    assert got["T3"][0] == "pace_percent" and "250" in got["T3"][1]
    assert "T4" in feed.records["occurrence"]


@pytest.mark.parametrize("body,content_type,needle", [
    (b"{not json", "application/json", "malformed JSON"),
    (b'{"something": []}', "application/json", "unrecognised JSON feed"),
    (b'{"educationEvents": {"a": 1}}', "application/json", "must be a list"),
    (b"Kurs;Namn\nx;y", "text/csv", "unknown column 'Kurs'"),
    (b"Kurskod;Kursnamn\nx;y", "text/csv", "missing required column(s): Tillf"),
    ("Tillfälle-id;Kurskod;Kursnamn\n1;2;3".encode("latin-1"), "text/csv", "not UTF-8"),
    (b"Tillf\xc3\xa4lle-id;Kurskod;Kursnamn\n1;\"unterminated;3", "text/csv", "CSV syntax error"),
])
def test_unreadable_feeds_raise_a_clear_error(body, content_type, needle):
    with pytest.raises(FeedFormatError) as exc:
        detect_and_parse(body, content_type, "2480")
    assert needle in str(exc.value)


def test_emil3_record_errors_name_the_field():
    doc = {"educationInfos": [
        {"id": "i.ok", "status": "ACTIVE", "content": {"title": {"strings": [{"lang": "swe", "value": "Ok"}]}}},
        {"id": "i.notitle", "status": "ACTIVE", "content": {"code": "X"}},
        {"id": "", "status": "ACTIVE", "content": {}},
        {"id": "i.other", "status": "ACTIVE", "content": {"identifier": "i.else", "title": "t"}},
        "not an object",
    ], "educationEvents": [
        {"id": "e.backwards", "status": "ACTIVE", "content": {"education": "i.ok",
                                                              "execution": {"start": "2027-05-01", "end": "2027-01-01"}}},
        {"id": "e.noinfo", "status": "ACTIVE", "content": {}},
    ]}
    feed = detect_and_parse(json.dumps(doc).encode(), "application/json", "2480")
    got = {r.id: r.field for r in feed.rejected}
    assert got == {"i.notitle": "title", "educationInfos[2]": "id", "i.other": "content.identifier",
                   "educationInfos[4]": "record", "e.backwards": "end", "e.noinfo": "education"}
    assert list(feed.records["course"]) == ["i.ok"]


def test_documented_csv_example_parses_cleanly():
    from pathlib import Path

    body = (Path(__file__).parent.parent / "docs" / "feed-csv-example.csv").read_bytes()
    feed = detect_and_parse(body, "text/csv", "2422")
    assert feed.rejected == [] and len(feed.records["occurrence"]) == 2
