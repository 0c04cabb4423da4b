"""The console's pure parts and the needs analysis reader: the seat form, comparing scenarios, the grant
figures, a needs CSV, and whom a console token speaks for."""
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.allocation.distribution import DistributionInput, distribute
from services.allocation.needs import NeedsErrors, parse
from services.console import charts, domain
from shared.reference import municipalities, subject_areas
from shared.tokens import Caller, acting_for

NAMES = {c: m.name for c, m in sorted(municipalities().items())}
AREAS = sorted(set(subject_areas().values()))


def seat_form(**over) -> dict:
    form = {"year": "2027", "total_places": "300", "key_equal": "10", "key_population": "45",
            "key_unemployment": "45", "need_0": "40", "need_1": "60"}
    for code, f in domain.demo_figures().items():
        form |= {f"pop_{code}": str(f["population"]), f"unemp_{code}": str(f["unemployed"]),
                 f"own_{code}": str(f["own_places"])}
    return {**form, **over}


def test_the_seat_form_becomes_a_distribution_request_the_allocation_service_accepts():
    body = domain.distribution_request(seat_form(total_places="1 200"), NAMES, AREAS)
    inp = DistributionInput.model_validate(body)  # what POST /v1/distributions validates
    assert inp.total_places == 1200 and inp.key.equal == pytest.approx(0.10)
    assert inp.regional_needs == {AREAS[0]: 40, AREAS[1]: 60}
    assert len(inp.municipalities) == 15 and {m.code for m in inp.municipalities} == set(NAMES)


@pytest.mark.parametrize("over, field, key", [
    ({"key_unemployment": "40"}, "key", "err_key_sum"),
    ({"need_1": "50"}, "needs", "err_needs_sum"),
    ({"need_0": "", "need_1": ""}, "needs", "err_needs_none"),
    ({"total_places": "tre"}, "total_places", "err_number"),
    ({"total_places": "2.5"}, "total_places", "err_whole"),
    ({"pop_2480": "-1"}, "pop_2480", "err_range"),
    ({"own_2482": ""}, "own_2482", "err_required"),
])
def test_each_bad_field_is_named(over, field, key):
    with pytest.raises(domain.FormErrors) as e:
        domain.distribution_request(seat_form(**over), NAMES, AREAS)
    assert e.value.errors[field] == key


def scenario(total: int, **key) -> dict:
    inp = DistributionInput.model_validate(domain.distribution_request(seat_form(total_places=str(total), **key),
                                                                       NAMES, AREAS))
    return {"distribution_id": f"d{total}", "year": 2027, "status": "scenario", **distribute(inp).as_dict()}


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000))
def test_a_comparison_accounts_for_every_place(a_total, b_total):
    a, b = scenario(a_total), scenario(b_total)
    c = domain.compare(a, b)
    assert len(c["municipalities"]) == 15
    assert sum(r["diff"] for r in c["municipalities"]) == b_total - a_total
    assert sum(r["diff"] for r in c["areas"]) == b_total - a_total


def test_grant_figures_add_up_and_flag_co_funding():
    d = scenario(300)
    rows = list(csv.reader(io.StringIO(domain.grant_csv(d))))
    areas = [r for r in rows if r[0] == "område"]
    towns = {r[1]: r for r in rows if r[0] == "kommun"}
    assert sum(int(r[3]) for r in areas) == 300 == sum(int(r[3]) for r in towns.values())
    for m in d["municipalities"]:
        row = towns[m["code"]]
        assert int(row[5]) == -(-3 * m["places"] // 7)  # 3/7 rounded up
        assert row[6] == ("ja" if int(row[4]) >= int(row[5]) else "nej")
    assert towns["2482"][6] == "nej"  # Skellefteå's own 30 places fall short in the demo figures


def test_charts_are_svg_images_without_script_that_runs():
    d = scenario(300)
    uri = charts.places_by_area(d, "Platser")
    assert uri.startswith("data:image/svg+xml;base64,")
    import base64

    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert "<svg" in svg and "Umeå" in svg and "http://kozea.github.io" not in svg


def test_needs_against_seats_and_demand_are_shares_of_the_county():
    d = scenario(300)
    needs = {"weights": {AREAS[0]: 40.0, AREAS[1]: 60.0}}
    demand = {"items": [{"area": AREAS[0], "municipality_code": "2480", "applications": 3, "chat_turns": 1},
                        {"area": AREAS[1], "municipality_code": "2482", "applications": 1, "chat_turns": 3},
                        {"area": "-", "municipality_code": "-", "applications": 0, "chat_turns": 5}]}
    rows = {r["area"]: r for r in domain.needs_seats_demand(needs, d, demand)}
    assert "-" not in rows
    assert rows[AREAS[0]]["applications_share"] == 75.0 and rows[AREAS[1]]["chat_share"] == 75.0
    assert sum(r["seats"] for r in rows.values()) == 300


# --- the needs analysis file ---------------------------------------------------------------------

def test_a_needs_analysis_by_area_and_by_ssyk_group():
    n = parse("target;weight;shortage;source;year\n"
              "Vård och omsorg;3;;Region Västerbotten;2026\n"
              "7411;1;;Arbetsförmedlingen;2025\n")
    assert n.basis == "weight" and n.year == 2026 and "Arbetsförmedlingen" in n.source
    assert sum(n.weights.values()) == pytest.approx(100, abs=0.05)
    assert n.weights["Vård och omsorg"] == 75.0 and n.weights["El och energi"] == 25.0  # electricians: El och energi


@pytest.mark.parametrize("text, line, words", [
    ("omrade,vikt\nVård och omsorg,3\n", 1, "the columns must be"),
    ("target,weight,source,year\nRymdteknik,3,X,2026\n", 2, "neither an education area"),
    ("target,weight,source,year\nVård och omsorg,tre,X,2026\n", 2, "must be numbers"),
    ("target,weight,shortage,source,year\nVård och omsorg,3,5,X,2026\n", 2, "either a weight or a shortage"),
    ("target,weight,source,year\nVård och omsorg,-1,X,2026\n", 2, "cannot be negative"),
    ("target,weight,source,year\nVård och omsorg,1,,2026\n", 2, "name the source"),
    ("target,weight,source,year\nVård och omsorg,1,X,26\n", 2, "year must be"),
    ("target,weight,shortage,source,year\nVård och omsorg,1,,X,2026\nEl och energi,,40,X,2026\n", 1, "mixes"),
    ("target,weight,source,year\n", 2, "no rows"),
    ("target,weight,source,year\nVård och omsorg,0,X,2026\n", 2, "add up to zero"),
])
def test_a_bad_needs_file_is_refused_whole_naming_the_line(text, line, words):
    with pytest.raises(NeedsErrors) as e:
        parse(text)
    assert any(err["line"] == line and words in err["message"] for err in e.value.errors), e.value.errors


# --- a console token speaks for a person, with that person's rights only ------------------------------

CONSOLE = Caller("c0ffee", "console", "console", None)
ROLES = {"regional": "coordinator", "municipality": "coordinator"}


@pytest.mark.parametrize("header, role, scope", [
    ("regional - Anna%20%C3%85berg", "coordinator", None),
    ("municipality 2480 Bo", "coordinator", "2480"),
    ("operator - Drift", "none", None),  # no operators here
    ("municipality - Bo", "none", None),  # a municipality's staff without their municipality
    ("regional 2480 Anna", "none", None),  # the region's staff tied to one municipality
    ("admin - Eve", "none", None),
    ("", "none", None),
    (None, "none", None),
])
def test_a_console_call_gets_the_persons_role_or_none(header, role, scope):
    caller = acting_for(CONSOLE, header, ROLES)
    assert (caller.role, caller.scope) == (role, scope)
    if header and role != "none":
        assert caller.name.endswith("(console)") and "%" not in caller.name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.builds(lambda rows: "target,weight,source,year\n" + "\n".join(rows),
                                         st.lists(st.text(max_size=60), max_size=8)))
def test_any_text_is_read_or_refused_with_its_lines_never_a_crash(text):
    try:
        n = parse(text)
    except NeedsErrors as e:
        assert e.errors and all(isinstance(err["line"], int) and err["message"] for err in e.errors)
    else:
        assert n.rows and abs(sum(n.weights.values()) - 100) < 0.1


def test_a_bad_line_is_named_by_its_line_in_the_file_blank_lines_counted():
    with pytest.raises(NeedsErrors) as e:
        parse("target,weight,source,year\n\nVård och omsorg,1,X,2026\n\nRymdteknik,1,X,2026\n")
    assert [err["line"] for err in e.value.errors] == [5]
