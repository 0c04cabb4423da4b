"""Reading occupations out of a learner's own words (pure)."""
def test_occupations_named_in_the_text_are_understood_as_experience_or_goal():
    from services.search.taxonomy import named_occupations

    got = {o["occupation"]: o["role"] for o in
           named_occupations("Jag har jobbat som barnskötare i tio år men vill bli undersköterska")}
    assert got.get("Barnskötare") == "experience"
    assert any(name.startswith("Undersköterska") and role == "goal" for name, role in got.items())
    assert named_occupations("Jag vill läsa svenska på kvällstid") == []


def test_different_courses_with_the_same_text_stay_apart_and_the_asked_code_comes_first():
    from datetime import date

    import numpy as np

    from services.search.index import SearchIndex
    from services.search.ranking import Filters, fuse, results

    idx = SearchIndex(4)
    v = np.array([1, 0, 0, 0], np.float32)
    occ = [{"id": "e1", "course_id": "x", "municipality_code": "2480", "start": "2027-01-18"}]
    for cid, code, muni in (("i.1.AAA01", "AAA01", "2480"), ("i.2.BBB01", "BBB01", "2480"),
                            ("i.3.AAA01", "AAA01", "2482")):
        idx.put("course", cid, {"id": cid, "code": code, "title": "Samma", "description": "Samma text",
                                "occurrences": [{**occ[0], "id": f"e.{cid}", "municipality_code": muni}]},
                "ab12cd34ef56ab12cd34ef56", "Samma text", v, "2026-01-01T00:00:00+00:00")
    ranked = fuse(idx, v, "Jag vill läsa BBB01", depth=10, )
    out = results(idx, ranked, "Jag vill läsa BBB01", Filters(), 10, {"course"}, date(2026, 11, 1))
    assert [r["course_code"] for r in out] == ["BBB01", "AAA01"]
    assert len(out[1]["occurrences"]) == 2  # AAA01 offered by two municipalities: one result


def test_skills_named_in_swedish_text_are_understood_also_in_definite_form():
    from services.search.taxonomy import named_skills

    got = named_skills("Jag har jobbat inom äldreomsorgen i fem år, mest med demensvård och omvårdnad.")
    assert got[:3] == ["Äldreomsorg", "Demensvård", "Omvårdnad"] or set(got) >= {"Äldreomsorg", "Demensvård",
                                                                                   "Omvårdnad"}
    assert "Demensvård, specialistområde för sjuksköterska" not in got  # the plain label, once
    assert named_skills("Jag vill läsa på distans") == []


def test_understood_reads_like_a_counsellor_would_say_it():
    from datetime import date

    from services.guidance.assistant import understood
    from services.guidance.profile import Profile, read_message
    from services.search.understanding import read

    text = "Jag har jobbat som undersköterska inom äldreomsorgen i fem år"
    reading = read(text)
    assert reading["summary"] == "har arbetat som undersköterska i 5 år och har erfarenhet av äldreomsorg"
    assert reading["experience"] == [{"occupation": "undersköterska", "ssyk4": reading["experience"][0]["ssyk4"],
                                      "years": 5}]
    p = read_message(Profile(), text, date(2026, 11, 27), reading)
    assert understood(p, "sv")["summary"] == reading["summary"]  # guidance says it the same way
