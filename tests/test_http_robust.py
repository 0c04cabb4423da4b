"""Robust HTTP on every service: header bytes that are not UTF-8, repeated query parameters, yes/no
values that must be exactly yes or no, and numbers the consumers need bounded (issue 16, Low)."""
import asyncio
import json
from urllib.parse import urlsplit

from tests.feeds import bundle


async def raw(url: str, head: bytes, body: bytes = b"") -> tuple[int, dict | None]:
    """One request written byte for byte (aiohttp's client will not send bytes that are not UTF-8)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(head.replace(b"\n", b"\r\n") + b"Host: x\r\nConnection: close\r\n"
                 + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 15)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    problem = json.loads(payload) if b"application/problem+json" in head_part.lower() else None
    return status, problem


async def test_header_bytes_that_are_not_utf8_are_a_400_on_every_service(catalogue, allocation, notifier,
                                                                          search, guidance):
    bad = b"\xff\xfe\xc3("
    cases = [
        (guidance.url, b"POST /v1/chat HTTP/1.1\nContent-Type: application/json\nX-Chat-Session: " + bad + b"\n",
         b'{"message": "hej"}', "X-Chat-Session"),
        (guidance.url, b"GET /v1/counsellor/me HTTP/1.1\nCookie: vux_counsellor=" + bad + b"\n", b"", "Cookie"),
        (catalogue.url, b"PUT /v1/feeds/2480 HTTP/1.1\nContent-Type: application/json\nAuthorization: Bearer " + bad + b"\n",
         b"{}", "Authorization"),
        (allocation.url, b"GET /v1/rounds HTTP/1.1\nAuthorization: Bearer " + bad + b"\n", b"", "Authorization"),
        (notifier.url, b"GET /v1/deliveries HTTP/1.1\nAuthorization: Bearer " + bad + b"\n", b"", "Authorization"),
        (search.url, b"GET /healthz HTTP/1.1\nX-Correlation-ID: " + bad + b"\n", b"", "X-Correlation-ID"),
    ]
    for base, head, body, header in cases:
        status, problem = await raw(base, head, body)
        assert status == 400, (base, header, status)
        assert problem is not None and problem["field"].lower() == header.lower(), problem
        assert "UTF-8" in problem["detail"]


async def test_a_query_parameter_given_twice_is_refused_and_withdrawals_need_exactly_true(catalogue):
    full = bundle("2480", {"ROB1": 1, "ROB2": 1, "ROB3": 1})
    status, _ = await catalogue.push("2480", full)
    assert status == 200
    only_one = bundle("2480", {"ROB1": 1})  # a snapshot that would withdraw two of three
    status, report = await catalogue.push("2480", only_one)
    assert status == 409, report  # the guard against mass withdrawal
    for query in (b"confirm_withdrawals=1&confirm_withdrawals=0", b"confirm_withdrawals=true&confirm_withdrawals=true",
                  b"confirm_withdrawals=yes", b"confirm_withdrawals=1"):
        status, problem = await raw(
            catalogue.url, b"PUT /v1/feeds/2480?" + query + b" HTTP/1.1\nContent-Type: application/json\n"
            b"Authorization: Bearer " + catalogue.region_token.encode() + b"\n", json.dumps(only_one).encode())
        assert status == 400 and problem["field"] == "confirm_withdrawals", (query, status, problem)
    for course in ("i.2480.ROB2", "i.2480.ROB3"):  # nothing was withdrawn
        status, body = await catalogue.get(f"/v1/courses/{course}")
        assert status == 200 and body["status"] == "active", (course, body)
    status, report = await catalogue.push("2480", only_one, params={"confirm_withdrawals": "true"})
    assert status == 200 and report["withdrawn"] >= 2, report


async def test_consent_is_only_a_json_true(allocation):
    from tests.test_allocation_service import form

    for consent in ("yes", "true", 1):
        body = {**form(["e.2480.X.1"]), "consent": consent}
        status, problem = await allocation.call("POST", "/v1/applications", body, token="")
        assert status == 422 and problem["field"] == "consent", (consent, status, problem)


async def test_places_beyond_any_course_are_rejected_by_the_catalogue(catalogue):
    feed = bundle("2480", {"BIG1": 1, "BIG2": 1})
    feed["educationEvents"][0]["content"]["places"] = 2 ** 63
    status, report = await catalogue.push("2480", feed)
    assert status == 200, report
    rejected = report["rejected"]
    assert len(rejected) == 1 and rejected[0]["field"] == "places", rejected
    assert "at most 10000" in rejected[0]["message"]
    assert report["added"] >= 1  # the rest of the feed still counts


async def test_the_public_intake_limits_clients_and_addresses_and_takes_only_names(catalogue, allocation):
    """Issue 16, Medium: 35 calls in 0.4 s sent 35 e-mails with a link in the name field."""
    from services.allocation.api import APPLY_LIMIT
    from tests.test_allocation_service import form, seed_courses

    await seed_courses(catalogue, allocation)
    choice = ["e.2480.SVETS.1"]
    for name in ("www.evil.example", "Sara https://evil.example", "Sara <a href='x'>", "Sara2000"):
        status, problem = await allocation.call("POST", "/v1/applications", form(choice) | {
            "applicant": {**form(choice)["applicant"], "name": name}}, token="")
        assert status == 422 and problem["field"] == "applicant.name", (name, status, problem)

    # An address is mailed at most a few times a day, whoever sends the forms.
    allocation.service.settings.applications_per_address_per_day = 2
    statuses = [(await allocation.call("POST", "/v1/applications", form(choice, email="target@example.se"),
                                       token=""))[0] for _ in range(4)]
    assert statuses == [202, 202, 429, 429], statuses

    # A client gets a few tries a minute: its own address, or the one a trusted proxy forwards.
    limit = allocation.app[APPLY_LIMIT]
    limit.per_minute, limit.seen = 3, type(limit.seen)(limit.seen.default_factory)
    allocation.service.settings.trusted_proxies = ["127.0.0.1/32"]

    async def post(forwarded: str) -> int:
        status, _ = await allocation.call("POST", "/v1/applications", form(choice), token="",
                                          headers={"X-Forwarded-For": forwarded})
        return status

    # Behind our proxy, each learner is counted by the address the proxy saw (the right-most hop) ...
    assert [await post("203.0.113.7") for _ in range(4)] == [202, 202, 202, 429]
    assert await post("203.0.113.8") == 202
    # ... and whatever a caller writes in front of it does not make it someone new.
    assert await post("198.51.100.1, 203.0.113.7") == 429
    allocation.service.settings.trusted_proxies = []  # without a trusted proxy the header counts for nothing
    limit.per_minute, limit.seen = 2, type(limit.seen)(limit.seen.default_factory)
    assert [await post(f"192.0.2.{i}") for i in range(3)] == [202, 202, 429]


async def test_a_malformed_form_on_the_offer_page_is_a_400(allocation):
    boundary = b"vux"
    broken = b"--vux\r\nContent-Disposition: form-data; name=\"answer\"\r\n\r\naccept\r\n--vux\r\nContent-Disp"  # cut off
    for ctype, body in ((b"multipart/form-data; boundary=" + boundary, broken),
                        (b"multipart/form-data", b"answer=accept"),  # no boundary at all
                        (b"application/x-www-form-urlencoded", b"answer=accept&token=%ff%fe")):
        status, problem = await raw(allocation.url, b"POST /offers/o-1 HTTP/1.1\nContent-Type: " + ctype + b"\n", body)
        assert problem is not None, (ctype, status)
        if ctype.startswith(b"multipart"):
            assert status == 400 and "form" in problem["detail"], (ctype, status, problem)
        else:  # read (bytes that are not UTF-8 become U+FFFD), then no such offer
            assert status == 404, (ctype, status, problem)
