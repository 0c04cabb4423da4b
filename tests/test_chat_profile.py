"""What the assistant reads from a learner's words (pure functions, no services): guidance keeps the
profile, from search's reading of each message (services.search.understanding) and its own."""
from datetime import date

from services.guidance.assistant import phrases, understood
from services.guidance.profile import Profile, next_question, search_filters
from services.guidance.profile import read_message as keep
from services.search.understanding import detect_language, read


def read_message(p: Profile, text: str, today: date) -> Profile:
    """One turn as the services take it: search reads the message, guidance refines the profile."""
    return keep(p, text, today, read(text))


def test_without_search_place_and_constraints_are_still_read():
    p = keep(Profile(), "Jag har jobbat som barnskötare, bor i Sorsele och vill läsa på deltid", date(2026, 11, 27))
    assert p.experience == [] and p.home_municipality == "2422" and p.pace == "part"

FIRST = "Jag har jobbat som barnskötare i tio år men vill bli undersköterska, bor i Sorsele och kan inte flytta"


def test_profile_reading_is_pure_and_refines():
    today = date(2026, 11, 27)
    p = read_message(Profile(), FIRST, today)
    assert [(j.occupation, j.years) for j in p.experience] == [("barnskötare", 10)]
    assert [j.occupation for j in p.goals] == ["undersköterska"]
    assert p.home_municipality == "2422" and p.can_move is False
    p = read_message(p, "helst på distans", today)
    assert p.distance == "only" and search_filters(p, today)["distance_only"] is True
    p = read_message(p, "jag bor i Lycksele nu", today)
    assert p.home_municipality == "2481" and len(p.topics) == 1  # refinements are not search words
    assert detect_language("I have worked as a cleaner and want to study") == "en"
    assert detect_language("أريد أن أدرس التمريض") == "ar"
    assert detect_language("من می‌خواهم پرستار شوم") == "fa"


def test_a_question_is_asked_once_and_only_when_it_matters():
    p = read_message(Profile(), "Jag vill bli elektriker", date(2026, 11, 27))
    assert next_question(p, [], "sv") == "municipality"
    p.asked.append("municipality")
    assert next_question(p, [], "sv") == "travel"
    p.asked.append("travel")
    p = read_message(p, "nej", date(2026, 11, 27))  # no to travelling: study at a distance
    same_pace = [{"kind": "course", "occurrences": [{"pace_percent": 100, "start": "2027-01-18"}]}]
    assert next_question(p, same_pace, "sv") is None  # pace and start would change nothing
    mixed = [{"kind": "course", "occurrences": [{"pace_percent": 100}, {"pace_percent": 50}]}]
    assert next_question(p, mixed, "sv") == "pace"
    assert p.distance == "only"


def test_every_language_has_the_replies_the_assistant_needs():
    for lang in ("sv", "en", "ar"):
        assert set(phrases()["sv"]) == set(phrases()[lang]), lang
    p = read_message(Profile(), "I live in Skellefteå and can only study part time", date(2026, 11, 27))
    assert understood(p, "en")["summary"] == "live in Skellefteå and want to study part time"
    assert understood(p, "ar")["summary"] == "تسكن في Skellefteå و تريد الدراسة بدوام جزئي"


def test_home_is_where_the_learner_lives_not_where_they_would_travel():
    today = date(2026, 11, 27)
    for text, home in (("Jag bor i Umeå men kan pendla till Skellefteå", "2480"),
                       ("Kan pendla till Skellefteå, jag bor i Umeå", "2480"),
                       ("Jag kommer från Vilhelmina men bor nu i Umeå", "2480"),
                       ("I live in Lycksele and could travel to Umeå", "2481"),
                       ("Jag kan pendla till Skellefteå", None)):
        assert read_message(Profile(), text, today).home_municipality == home, text
    # A bare name answers "where do you live?".
    asked = Profile(asked=["municipality"])
    assert read_message(asked, "Storuman", today).home_municipality == "2421"


def test_a_yes_belongs_to_the_fact_the_message_states_not_to_the_last_question():
    today = date(2026, 11, 27)
    asked = Profile(asked=["travel"])
    p = keep(asked, "Ja, jag kan flytta till Umeå om det finns jobb", today)
    assert p.can_move is True and p.travel is None  # said of moving, not of commuting
    p = keep(asked, "ja", today)
    assert p.travel is True  # a bare yes answers the question asked
