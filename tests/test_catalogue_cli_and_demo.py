"""The token command line and the demo data, as an operator uses them."""
import os
import subprocess
import sys

from services.catalogue.demo import municipality_feed, write_feeds
from shared.reference import municipalities

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.catalogue", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "DATABASE_URL": db_url}, timeout=60)


def test_token_create_list_revoke(sqlite_url):
    made = cli(sqlite_url, "token", "create", "--municipality", "2480")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("vux_")
    token_id = token.split("_")[1]
    listed = cli(sqlite_url, "token", "list").stdout
    assert token_id in listed and "2480" in listed and "municipality" in listed and "active" in listed
    assert token.split("_", 2)[2] not in listed  # the secret is never shown again
    assert cli(sqlite_url, "token", "revoke", token_id).returncode == 0
    assert "revoked" in cli(sqlite_url, "token", "list").stdout
    assert cli(sqlite_url, "token", "revoke", token_id).returncode == 1
    bad = cli(sqlite_url, "token", "create", "--municipality", "9999")
    assert bad.returncode == 2 and "unknown municipality" in bad.stderr
    assert cli(sqlite_url, "token", "create", "--region").stdout.strip().splitlines()[-1].startswith("vux_")


def test_demo_feeds_are_deterministic_and_cover_the_county(tmp_path):
    a = [p.read_bytes() for p in write_feeds(tmp_path / "a")]
    b = [p.read_bytes() for p in write_feeds(tmp_path / "b")]
    assert a == b and len(a) == 15
    feeds = {m: municipality_feed(m) for m in municipalities()}
    for m, f in feeds.items():
        assert len(f["learningCentres"]) == 1, m
        titles = {i["content"]["title"]["strings"][0]["value"] for i in f["educationInfos"]}
        assert "Svenska för invandrare, kurs B" in titles and "Svenska 1" in titles, m
    assert any("undersköterska" in v["content"]["title"]["strings"][0]["value"] for v in feeds["2480"]["validationOffers"])
    assert len(feeds["2482"]["validationOffers"]) == 2
    distance = [e for f in feeds.values() for e in f["educationEvents"] if e["content"].get("distance")]
    assert len(distance) > 10
    umea_titles = {i["content"]["title"]["strings"][0]["value"] for i in feeds["2480"]["educationInfos"]}
    assert {"Omvårdnad 1", "Gerontologi och geriatrik", "Stumsvets 1"} <= umea_titles  # real Skolverket texts


async def test_every_demo_feed_is_accepted_without_rejections(catalogue, tmp_path):
    for path in write_feeds(tmp_path):
        status, report = await catalogue.push(path.stem, path.read_bytes())
        assert status == 200 and report["rejected"] == [], (path.stem, report["rejected"][:3])
    status, munis = await catalogue.get("/v1/municipalities")
    assert len(munis["items"]) == 15 and all(m["learning_centres"] == 1 and m["occurrences"] > 0
                                             for m in munis["items"])
    status, offers = await catalogue.get("/v1/validation-offers")
    assert offers["total"] >= 4
