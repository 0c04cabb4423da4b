"""Who may do what: every staff endpoint of the catalogue, allocation and notifier, asked by every kind of
caller (no token, a garbled token, another service's token, a municipality's, the region's, a municipal or
regional coordinator's, an operator's), gets exactly the answer it should."""
import pytest

from tests.feeds import bundle

pytestmark = pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)


async def test_authorization_matrix(catalogue, allocation, notifier):
    callers = {
        "none": None,
        "garbled": "vux_0000_not-a-token",
        "umea": await catalogue.token("2480"),
        "lycksele": await catalogue.token("2481"),
        "region": catalogue.region_token,
        "coord_region": allocation.coordinator_token,
        "coord_umea": await allocation.token("2480"),
        "operator": await notifier.token(),
    }

    async def ask(service, method, path, who, body=None):
        headers = {"Authorization": f"Bearer {callers[who]}"} if callers[who] else {}
        async with service.http.request(method, f"{service.url}{path}", json=body, headers=headers) as r:
            return r.status

    feed = bundle("2480", {"AUTH1": 1})
    # Feed pushes: only the municipality itself or the region.
    want = {"none": 401, "garbled": 401, "umea": 200, "lycksele": 403, "region": 200, "coord_region": 401,
            "coord_umea": 401, "operator": 401}
    got = {who: await ask(catalogue, "PUT", "/v1/feeds/2480", who, feed) for who in callers}
    assert got == want
    # The catalogue's read side is public.
    assert {await ask(catalogue, "GET", "/v1/courses", who) for who in callers} == {200}

    # Allocation: coordinators only; rounds and distributions only the regional one.
    coord_any = {"none": 401, "garbled": 401, "umea": 401, "lycksele": 401, "region": 401, "coord_region": 200,
                 "coord_umea": 200, "operator": 401}
    region_only = {**coord_any, "coord_umea": 403}
    for method, path, expected in (("GET", "/v1/rounds", coord_any), ("GET", "/v1/demand", coord_any),
                                   ("POST", "/v1/offers/tick", coord_any)):
        got = {who: await ask(allocation, method, path, who) for who in callers}
        assert got == expected, path
    got = {who: await ask(allocation, "POST", "/v1/distributions/nope/adopt", who) for who in callers}
    assert got == {**region_only, "coord_region": 404}  # allowed through, then no such scenario
    # An application is shown to a coordinator or with its own secret, to nobody else.
    got = {who: await ask(allocation, "GET", "/v1/applications/00000000-0000-0000-0000-000000000000", who)
           for who in callers}
    assert got == {**{w: 404 for w in callers}, "garbled": 401, "umea": 401, "lycksele": 401, "region": 401,
                   "operator": 401}

    # Notifier: operators only.
    want = {w: 401 for w in callers} | {"operator": 200}
    assert {who: await ask(notifier, "GET", "/v1/deliveries", who) for who in callers} == want
    want = {w: 401 for w in callers} | {"operator": 404}
    assert {who: await ask(notifier, "POST", "/v1/deliveries/999/resend", who) for who in callers} == want
