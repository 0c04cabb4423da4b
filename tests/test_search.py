"""The search service: catalogue events become searchable, in several languages; a text is embedded once
for every replica."""
import asyncio

import aiohttp
import pytest

from services.catalogue.demo import municipality_feed
from tests.conftest import delete_queues, until
from tests.feeds import bundle

# The catalogue behind search is tested on both databases elsewhere, here on SQLite.
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
    status, body = await search.search("svetsning kock", kinds=["course"])
    assert [r["id"] for r in body["results"]] == ["i.2482.KOCK"]  # the other course is still found


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
            assert (await r.json(content_type=None))["detail"]
    async with search.http.post(f"{search.url}/v1/search", data=b"\x00\xff\xfe",
                                headers={"Content-Type": "application/octet-stream"}) as r:
        assert r.status == 415
    status, body = await search.search("vård " * 2000)
    assert status == 200 and "notice" in body
    # A course code in the text puts that course first, whatever the rest says.
    status, body = await search.search("Jag vill läsa ENGENG06 på distans", kinds=["course"])
    assert body["results"][0]["course_code"] == "ENGENG06"


def embedded() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("vux_search_texts_embedded_total") or 0.0


async def test_a_new_replica_takes_stored_vectors_and_embeds_only_what_changed(catalogue, search, bus_names):
    """Vectors are stored once for every replica: a replica started later (or again) fills its index from
    the catalogue and the stored vectors, and embeds only a text nobody has embedded yet."""
    from services.search.service import SearchService

    before = embedded()  # the counter is the process's: other tests embedded too
    await catalogue.push("2481", municipality_feed("2481"))
    await search.wait_indexed("course", "i.2481.SFIKURSB")
    await until(lambda: not search.service.waiting, "every text embedded")
    distinct = len(search.service.index.vectors)
    assert distinct > 10 and embedded() - before == distinct  # each distinct text once
    # While the new replica is not yet running, one course gets a new title.
    feed = municipality_feed("2481")
    feed["educationInfos"][0]["content"]["title"] = {"strings": [{"lang": "swe", "value": "Ny titel för testet"}]}
    await catalogue.push("2481", feed)
    first = feed["educationInfos"][0]["id"]
    await search.wait_indexed("course", first)
    await until(lambda: search.service.index.entries[("course", first)].doc["title"] == "Ny titel för testet",
                "the new title searchable")
    assert embedded() - before == distinct + 1  # the changed text only

    settings = search.settings.model_copy(update={"instance_name": search.settings.instance_name + "-b",
                                                  "embed_worker": False})
    fresh = SearchService(settings)
    await fresh.start()
    try:
        for _ in range(300):
            if await fresh.db_ready():
                break
            await asyncio.sleep(0.1)
        assert await fresh.db_ready(), "the new replica never became ready"
        assert embedded() - before == distinct + 1  # nothing embedded again
        assert fresh.index.entries[("course", first)].doc["title"] == "Ny titel för testet"
        from services.search.index_check import catalogue_digests, compare

        async with aiohttp.ClientSession() as http:
            in_catalogue = await catalogue_digests(http, catalogue.url)
        held = fresh.index_digests()
        assert held["unembedded"] == [] and compare(held["documents"], in_catalogue)["equal"]
        # Both replicas rank the same.
        from services.search.ranking import Filters

        for q in ("Jag vill läsa svenska", "svetsning", "I want to become an assistant nurse"):
            a = await search.service.search(q, 5, Filters(), {"course"}, understand=False)
            b = await fresh.search(q, 5, Filters(), {"course"}, understand=False)
            assert [(r["id"], r["score"]) for r in a["results"]] == [(r["id"], r["score"]) for r in b["results"]]
    finally:
        await fresh.stop()
        await delete_queues([n for sub in fresh.bus.subscriptions for n in fresh.bus.queue_names(sub.queue).values()])
