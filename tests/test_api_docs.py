"""The API documents in docs/ are what the code generates, and they are well-formed."""
import json

from scripts.api_docs import ROOT, documents, render
from shared.events import EVENT_TYPES, PRODUCERS


def test_checked_in_documents_are_current():
    stale = [str(path.relative_to(ROOT)) for path, doc in documents().items()
             if not path.exists() or path.read_text(encoding="utf-8") != render(doc)]
    assert not stale, f"regenerate with `python scripts/api_docs.py`: {stale}"


def test_openapi_documents_describe_every_route_with_schemas():
    for path, doc in documents().items():
        if path.name == "asyncapi.json":
            continue
        assert doc["openapi"] == "3.1.0"
        for route, methods in doc["paths"].items():
            for method, op in methods.items():
                assert op["responses"], (route, method)
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    ref = body["schema"].get("$ref", "")
                    assert not ref or ref.split("/")[-1] in doc["components"]["schemas"], (route, ref)
    guidance = json.loads((ROOT / "docs" / "openapi" / "guidance.json").read_text())
    chat = guidance["components"]["schemas"]["ChatRequest"]
    assert {"session_id", "message", "lang"} <= set(chat["properties"])


def test_asyncapi_names_a_producer_for_every_event_and_its_consumers():
    doc = documents()[ROOT / "docs" / "asyncapi.json"]
    types = {e.model_fields["type"].default for e in EVENT_TYPES}
    assert set(PRODUCERS) == types
    assert doc["asyncapi"] == "3.0.0" and len(doc["channels"]) == len(types)
    ops = doc["operations"]
    assert "allocation-receives-application-submitted" in ops and "guidance-sends-application-submitted" in ops
    assert "notifier-receives-offer-made" in ops


def test_every_answer_has_its_schema_and_every_error_is_a_problem():
    ops = 0
    for path, doc in documents().items():
        if path.name == "asyncapi.json":
            continue
        assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
        for route, methods in doc["paths"].items():
            for method, op in methods.items():
                ops += 1
                for code, answer in op["responses"].items():
                    (ctype, body), = answer["content"].items()
                    if int(code) >= 400 and path.name == "console.json" and route not in ("/readyz", "/healthz"):
                        assert ctype == "text/html", (route, code)  # the console answers people with pages
                    elif int(code) >= 400 and route != "/readyz":  # not ready: which check fails
                        assert ctype == "application/problem+json", (path.name, route, code)
                        assert body["schema"] == {"$ref": "#/components/schemas/Problem"}
                    elif ctype == "application/json":
                        assert body["schema"] not in ({}, {"type": "object"}), (path.name, method, route, code)
    assert ops > 40
