"""Reading occupations out of a learner's own words (pure)."""
def test_occupations_named_in_the_text_are_understood_as_experience_or_goal():
    from services.search.taxonomy import named_occupations

    got = {o["occupation"]: o["role"] for o in
           named_occupations("Jag har jobbat som barnskötare i tio år men vill bli undersköterska")}
    assert got.get("Barnskötare") == "experience"
    assert any(name.startswith("Undersköterska") and role == "goal" for name, role in got.items())
    assert named_occupations("Jag vill läsa svenska på kvällstid") == []
