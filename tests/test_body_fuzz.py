"""Property-based fuzzing of every JSON request body the services take (feeds have their own fuzz
test): 1,000 generated inputs per body, against the four services running as processes. Each input is
a valid body mutated at random, any JSON value, raw bytes or an extreme document (deep nesting, huge
numbers and strings). Never a 5xx; every refusal is JSON whose `error` says what is wrong and where
(the field, or the line and column of broken JSON); and a refused input changes nothing stored
(SQLite's data_version of the service's database stays the same).
"""
import asyncio
import json
import secrets
import sqlite3
import time

import aiohttp
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from services.catalogue.demo import municipality_feed
from tests.conftest import MailedLinks, apply_confirmed
from tests.processes import SERVICES, whole_system
from tests.strategies import ANY_JSON, FUZZ, mutated

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    with whole_system(tmp_path_factory.mktemp("bodies")) as system:
        url = {s: system.procs[s].url for s in SERVICES}
        region = system.cli("catalogue", "token", "create", "--region")
        r = requests.put(f"{url['catalogue']}/v1/feeds/2480", json=municipality_feed("2480"),
                         headers={"Authorization": f"Bearer {region}"}, timeout=60)
        assert r.status_code == 200, r.text
        coordinator = system.cli("allocation", "token", "create", "--coordinator")
        password = secrets.token_urlsafe(12)
        system.cli("guidance", "counsellor", "create", "fuzz", "--name", "Fuzz", "--password-stdin", stdin=password)
        session = requests.Session()
        assert session.post(f"{url['guidance']}/v1/counsellor/login", json={"username": "fuzz", "password": password},
                            timeout=30).status_code == 200
        for _ in range(300):  # the courses reach search and allocation
            chat = session.post(f"{url['guidance']}/v1/chat", json={"message": "Jag vill bli undersköterska"},
                                timeout=30).json()
            occ = [o["id"] for s in chat.get("suggestions", []) if s["kind"] == "course" for o in s["occurrences"]]
            if occ:
                break
            time.sleep(0.5)
        application = asyncio.run(apply_once_known(url["allocation"], f"vux.test.{system.run_id}", {
            "submission_id": "fuzz-seed-1", "choices": occ[:1], "consent": True,
            "applicant": {"name": "Fuzz Seed", "email": "seed@example.se", "home_municipality": "2480",
                          "education_level": "primary", "employment": "unemployed"}}))
        rnd = requests.post(f"{url['allocation']}/v1/rounds", json={}, timeout=30,
                            headers={"Authorization": f"Bearer {coordinator}"}).json()
        assert rnd["offers"] == 1
        system.fixtures = {"url": url, "coordinator": coordinator, "session": session, "sid": chat["session_id"],
                           "code": chat["code"], "result": chat["suggestions"][0]["id"], "occ": occ,
                           "application": application["application_id"]}
        yield system


async def apply_once_known(url: str, exchange: str, form: dict) -> dict:
    """A confirmed application, once allocation knows the occurrence (422 until its event arrives)."""
    async with MailedLinks(exchange) as links, aiohttp.ClientSession() as http:
        for _ in range(100):
            status, receipt = await apply_confirmed(http, url, links, form)
            if status == 200:
                return receipt
            await asyncio.sleep(0.3)
    raise AssertionError(f"could not apply: {status} {receipt}")


def bodies(f: dict) -> dict:
    """A valid body for every JSON-body operation (the starting point of the mutations)."""
    applicant = {"name": "Fuzz Learner", "email": "fuzz@example.se", "home_municipality": "2480",
                 "education_level": "primary", "employment": "unemployed", "lang": "sv"}
    return {
        ("search", "POST", "/v1/search"): {"text": "svetsare", "limit": 5, "filters": {"home_municipality": "2480"},
                                            "kinds": ["course"]},
        ("search", "POST", "/v1/understand"): {"text": "Jag har jobbat som svetsare i fem år", "lang": "sv"},
        ("search", "POST", "/v1/occurrences/known"): {"ids": f["occ"][:2]},
        ("guidance", "POST", "/v1/chat"): {"session_id": f["sid"], "message": "helst på distans", "lang": "sv"},
        ("guidance", "POST", "/v1/chat/marks"): {"session_id": f["sid"], "result_id": f["result"], "mark": "saved"},
        ("guidance", "POST", "/v1/chat/apply"): {"session_id": f["sid"], "choices": f["occ"][:2], "consent": True,
                                               "applicant": applicant},
        ("guidance", "POST", "/v1/counsellor/login"): {"username": "fuzz", "password": "not the password"},
        ("guidance", "POST", "/v1/counsellor/sessions"): {"code": f["code"]},
        ("guidance", "POST", "/v1/counsellor/sessions/{code}/marks"): {"result_id": f["result"], "mark": "pinned"},
        ("guidance", "POST", "/v1/counsellor/sessions/{code}/notes"): {"text": "En anteckning"},
        ("guidance", "POST", "/v1/counsellor/sessions/{code}/search"): {"text": "svetsare"},
        ("guidance", "POST", "/v1/counsellor/sessions/{code}/additions"): {"text": "svetsare", "result_id": f["result"],
                                                                           "note": "Titta på den här."},
        ("guidance", "POST", "/v1/counsellor/sessions/{code}/summary"): {"name": "Fuzz", "email": "fuzz@example.se"},
        ("allocation", "POST", "/v1/applications"): {"submission_id": "fuzz-0001", "choices": f["occ"][:2],
                                                     "consent": True, "applicant": applicant},
        ("allocation", "POST", "/v1/applications/{id}/approvals"): {"rank": 1, "approved": True},
        ("allocation", "POST", "/v1/distributions"): {
            "year": 2027, "total_places": 10, "regional_needs": {"Vård och omsorg": 1},
            "municipalities": [{"code": "2480", "name": "Umeå", "population": 130000, "unemployed": 4000,
                                "own_places": 5}]},
        ("allocation", "POST", "/v1/rounds"): {"seed": "fuzz"},
        ("allocation", "POST", "/v1/offers/{id}/accept"): {"token": "not-the-token"},
        ("allocation", "POST", "/v1/offers/{id}/decline"): {"token": "not-the-token"},
    }


def raw_inputs(base: dict):
    """Bytes to send: the valid body mutated, any JSON, bytes, or an extreme document."""
    dumps = st.builds(lambda d: json.dumps(d, allow_nan=True).encode(), mutated(base))
    extreme = st.sampled_from([b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
                               json.dumps({**base, "x": "å" * 300_000}).encode(), b"1" * 5000, b"-1e999999",
                               b'"\\ud800"', b"\xff\xfe\x00", b"", b"null", b"[]", b"{}", b'{"__proto__": {}}'])
    return st.one_of(dumps, dumps, dumps, st.builds(lambda d: json.dumps(d, allow_nan=True).encode(), ANY_JSON),
                     st.binary(max_size=200), extreme)


class Store:
    """Has the service's database changed? A connection kept open sees other connections' commits
    as a new PRAGMA data_version."""

    def __init__(self, path) -> None:
        # Search keeps no database: nothing of it can change.
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False) \
            if path.exists() else None

    def version(self) -> int:
        return self.conn.execute("PRAGMA data_version").fetchone()[0] if self.conn else 0

    def settled(self) -> int:
        """The version once nothing has been written for a moment (after an accepted request, its
        events and their bookkeeping are written shortly after)."""
        v = self.version()
        while True:
            time.sleep(0.15)  # outbox relays are told at once; their writes follow within milliseconds
            now = self.version()
            if now == v:
                return v
            v = now


OPERATIONS = [op for op in bodies({"sid": "", "occ": [""], "result": "", "code": ""})]


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{s}:{m} {p}" for s, m, p in OPERATIONS])
def test_generated_bodies_are_refused_clearly_and_change_nothing(county, op):
    f = county.fixtures
    service, method, path = op
    base = bodies(f)[op]
    url = f["url"][service] + path.replace("{code}", f["code"]).replace(
        "{id}", f["application"] if "applications" in path else "00000000-0000-0000-0000-000000000000")
    headers = {"Content-Type": "application/json"}
    if service == "allocation":
        headers["Authorization"] = f"Bearer {f['coordinator']}"
    store = Store(county.tmp / f"{service}.db")
    seen: dict[int, int] = {}
    state = {"version": store.settled()}

    @given(raw=raw_inputs(base))
    @FUZZ
    def one(raw: bytes) -> None:
        r = f["session"].request(method, url, data=raw, headers=headers, timeout=60)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code < 500, (raw[:300], r.status_code, r.text[:500])
        if r.status_code < 400:
            state["version"] = store.settled()  # accepted: what it changed is allowed to change
            return
        body = r.json()
        assert isinstance(body.get("detail"), str) and len(body["detail"]) >= 10, body
        if r.status_code == 422:
            where, _, what = body["detail"].partition(": ")
            assert where and what, body  # "applicant.email: value is not a valid email address"
        if r.status_code == 400 and "JSON" in body["detail"]:
            assert "line" in body["detail"] or "char" in body["detail"] or "empty" in body["detail"].lower(), body
        if store.version() != state["version"]:
            # Something was written meanwhile: this input, or what an earlier accepted one set off.
            # Once all is quiet, the same input again tells which.
            state["version"] = store.settled()
            again = f["session"].request(method, url, data=raw, headers=headers, timeout=60)
            assert again.status_code == r.status_code
            assert store.version() == state["version"], f"a refused input ({r.status_code}) changed stored data: " \
                                                        f"{raw[:200]}"

    one()
    print(op, seen)
    assert sum(seen.values()) >= 1000
    assert any(s >= 400 for s in seen)
