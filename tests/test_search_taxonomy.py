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


def test_field_words_count_only_in_the_texts_language():
    """Arabic مكتب is an office; Dari مکتب a school: a Dari teacher is not sent to office courses."""
    from services.search.understanding import fields_named, read

    assert "Handel och administration" in fields_named("كنت أعمل في مكتب", "ar")["areas"]
    assert "Handel och administration" not in fields_named("در یک مکتب خصوصی با اطفال کار میکدم", "prs")["areas"]
    assert read("من در یک مکتب خصوصی با اطفال کار میکدم")["fields"]["areas"] == ["Barn och fritid"]


def test_a_learner_aiming_at_university_is_pointed_to_basic_eligibility():
    """No vocational exit leads to a teacher's job: the way is the subjects of basic eligibility (Swedish or
    Swedish as a second language, English, mathematics), not the child-care courses near the occupation."""
    from services.search.understanding import course_areas, course_stems, read, search_text

    text = "من در افغانستان مکتب را تا صنف دوازده خواندم. میخواهم به پوهنتون بروم و معلم شوم."
    reading = read(text)
    assert reading["lang"] == "prs" and [g["ssyk4"] for g in reading["goals"]] == ["2341"]
    assert course_stems(reading) == {"ENG", "MAT", "SVA"}
    assert course_areas(reading) == frozenset()
    assert "Jag vill bli" not in search_text(text, reading)
    assert course_stems(read("Jag vill bli sjuksköterska")) == {"ENG", "MAT", "SVE"}
    # A learner who names what they lack is taken at their word; one who studied at university is not sent back.
    assert course_stems(read("Jag vill bli ingenjör men saknar matte 3")) == {"MAT"}
    assert not course_stems(read("مهندس نرم‌افزار از دانشگاه تبریز هستم"))
    assert course_stems(read("Jag vill bli undersköterska")) and "ENG" not in course_stems(
        read("Jag vill bli undersköterska"))


def test_a_specialisation_comes_after_its_series_also_in_general_subjects():
    import hashlib

    import numpy as np

    from services.search.index import SearchIndex
    from services.search.ranking import fuse

    idx = SearchIndex(4)
    v = np.array([1, 0, 0, 0], np.float32)
    for code in ("MATMAT00S", "MATMAT02a", "OMVOMV01", "OMVOMV02"):
        idx.put("course", f"i.{code}", {"id": f"i.{code}", "code": code, "title": code, "description": code,
                                       "occurrences": []}, hashlib.sha1(code.encode()).hexdigest()[:24], code, v, "2026-01-01T00:00:00+00:00")
    ranked = [idx.code_of(k) for k, _ in fuse(idx, v, "matte", depth=10, entry_weight=0.005,
                                               specialisation_weight=0.04)]
    assert ranked.index("MATMAT02a") < ranked.index("MATMAT00S")
    assert ranked.index("OMVOMV01") < ranked.index("OMVOMV02")


def test_everyday_names_of_trades_the_county_trains_for_are_read_in_every_script():
    from services.search.taxonomy import named_occupations

    for text, ssyk4 in (("من معدنچی بودم در کرمان", "8111"), ("ኣብ ኤርትራ ኣሳላፊ ነይረ", "5131"),
                        ("Waxaan ahaa darawal cagaf 6 sano", "8342"), ("كنت فني تبريد في دمشق", "7126"),
                        ("در کابل موچی بودم", "7534"), ("I worked as a receptionist in a hotel", "4224")):
        assert [o["ssyk4"] for o in named_occupations(text)] == [ssyk4], text
