"""The search service: catalogue events become searchable, in several languages, and survive restarts."""

import aiohttp
import pytest

from services.catalogue.demo import municipality_feed
from tests.feeds import bundle

# Search keeps no database; the catalogue behind it is tested on both elsewhere, here on SQLite.
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_factory", ["sqlite"], indirect=True)]


async def test_care_backgrounds_in_swedish_english_and_arabic_find_care_courses(catalogue, search):
    status, report = await catalogue.push("2480", municipality_feed("2480"))
    assert status == 200
    await search.wait_indexed("course", "i.2480.OMVOMV01")
    await search.wait_indexed("validation", "v.2480.vård")
    for text in ("Jag har jobbat som vårdbiträde på ett äldreboende i tio år och vill bli undersköterska",
                 "I have worked in elderly care for ten years and want to become an assistant nurse",
                 "عملت في رعاية المسنين لمدة عشر سنوات وأريد أن أصبح ممرضة مساعدة"):
        status, body = await search.search(text, limit=5, kinds=["course"])
        assert status == 200
        areas = [r["area"] for r in body["results"][:3]]
        assert "Vård och omsorg" in areas, (text, [(r["title"], r["area"]) for r in body["results"]])
    status, body = await search.search("Jag har jobbat som undersköterska utan utbildning", limit=10)
    # Worked as an assistant nurse: Umeå's validation in health and social care comes first.
    assert body["results"][0]["kind"] == "validation" and body["results"][0]["id"] == "v.2480.vård"
    assert body["understood"]["occupations"][0]["role"] == "experience"
    assert body["understood"]["summary"].startswith("har arbetat som undersköterska")
    hit = next(r for r in body["results"] if r["kind"] == "course")
    assert hit["course_code"] and hit["occurrences"][0]["municipality"] == "Umeå" and "why" in hit


async def test_a_withdrawn_course_disappears_and_a_new_one_appears(catalogue, search):
    feed = bundle("2482", {"SVETS": 1, "KOCK": 1})
    feed["educationInfos"][0]["content"]["title"] = {"strings": [{"lang": "swe", "value": "Svetsning grund"}]}
    await catalogue.push("2482", feed)
    await search.wait_indexed("course", "i.2482.SVETS")
    smaller = bundle("2482", {"KOCK": 1})
    await catalogue.push("2482", smaller, params={"confirm_withdrawals": "true"})
    await search.wait_indexed("course", "i.2482.SVETS", present=False)
    status, body = await search.search("svetsning", kinds=["course"])
    assert all(r["id"] != "i.2482.SVETS" for r in body["results"])


async def test_filters_and_bad_input(catalogue, search):
    await catalogue.push("2480", municipality_feed("2480"))
    await catalogue.push("2422", municipality_feed("2422"))
    await search.wait_indexed("course", "i.2422.SFIKURSB")
    await search.wait_indexed("course", "i.2480.SFIKURSB")
    status, body = await search.search("svenska för invandrare", kinds=["course"],
                                       filters={"home_municipality": "2422", "max_distance_km": 50})
    munis = {o["municipality"] for r in body["results"] for o in r["occurrences"] if not o["distance"]}
    assert munis == {"Sorsele"}
    status, body = await search.search("engelska", kinds=["course"], filters={"distance_only": True})
    assert body["results"] and all(o["distance"] for r in body["results"] for o in r["occurrences"])
    for payload, want in (({"text": ""}, 400), ({"text": 5}, 422), ({"text": "x", "limit": 0}, 422),
                          ({"text": "x", "kinds": ["jobs"]}, 422)):
        async with search.http.post(f"{search.url}/v1/search", json=payload) as r:
            assert r.status == want, payload
            assert (await r.json())["error"]
    async with search.http.post(f"{search.url}/v1/search", data=b"\x00\xff\xfe",
                                headers={"Content-Type": "application/octet-stream"}) as r:
        assert r.status == 415
    status, body = await search.search("vård " * 2000)
    assert status == 200 and "notice" in body
    # A course code in the text puts that course first, whatever the rest says.
    status, body = await search.search("Jag vill läsa ENGENG06 på distans", kinds=["course"])
    assert body["results"][0]["course_code"] == "ENGENG06"


async def test_a_restart_loads_the_saved_index_and_catches_up(catalogue, search, bus_names, tmp_path):
    from services.search.service import SearchService

    await catalogue.push("2481", municipality_feed("2481"))
    await search.wait_indexed("course", "i.2481.SFIKURSB")
    await catalogue.push("2422", municipality_feed("2422"))  # a later push
    await search.wait_indexed("course", "i.2422.SFIKURSB")
    svc = search.service
    count = len(svc.index)
    await svc.stop()  # saves the index
    from services.search.index import SearchIndex

    # As if the save had happened while one older course's event was still on its way (events are
    # handled concurrently, so a newer change can be in a save before an older one).
    saved = SearchIndex.load(search.settings.index_path(), svc.embedder.dim, svc.embedder.signature)
    changing = municipality_feed("2481")["educationInfos"][0]["id"]  # changed below while search is down
    late = min((e for e in saved.entries.values() if e.kind == "course" and e.id.startswith("i.2481.")
                and e.id != changing), key=lambda e: e.version)
    assert saved.remove("course", late.id) and late.version < max(e.version for e in saved.entries.values())
    saved.save(search.settings.index_path())
    # While search is down, the catalogue changes.
    feed = municipality_feed("2481")
    feed["educationInfos"][0]["content"]["title"] = {"strings": [{"lang": "swe", "value": "Ny titel för testet"}]}
    await catalogue.push("2481", feed)
    fresh = SearchService(search.settings)
    fresh.embedder = svc.embedder  # the same model; loading it again only costs time
    fresh.index = SearchIndex.load(search.settings.index_path(), svc.embedder.dim, svc.embedder.signature)
    assert len(fresh.index) == count - 1  # loaded, not re-embedded from scratch
    changed = await fresh.catch_up()
    assert changed >= 2
    first = feed["educationInfos"][0]["id"]
    assert fresh.index.entries[("course", first)].doc["title"] == "Ny titel för testet"
    assert ("course", late.id) in fresh.index.entries  # the late one is caught up too
    from services.search.index_check import catalogue_digests, compare, digest

    async with aiohttp.ClientSession() as http:
        in_catalogue = await catalogue_digests(http, catalogue.url)
    held = {f"{k}:{rid}": digest(e.doc) for (k, rid), e in fresh.index.entries.items()}
    assert compare(held, in_catalogue)["equal"], compare(held, in_catalogue)
    search.service = fresh  # the fixture's teardown stops this one
    await fresh.bus.close()
    await fresh.engine.dispose()
    search.service = svc

