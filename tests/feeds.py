"""Small EMIL3 feeds for tests, built the way a municipality's system would send them."""
from __future__ import annotations

import copy


def s(value: str) -> dict:
    return {"strings": [{"lang": "swe", "value": value}]}


def info(muni: str, code: str, title: str | None = None, description: str = "Kursbeskrivning.", **extra) -> dict:
    rid = f"i.{muni}.{code}"
    content = {"identifier": rid, "code": code, "title": s(title or f"Kurs {code}"),
               "description": s(description), "type": {"code": "Gymnasial vuxenutbildning"},
               "providers": [f"p.{muni}"], **extra}
    return {"id": rid, "status": "ACTIVE", "content": content}


def event(muni: str, code: str, n: int = 1, start: str = "2027-01-18", pace: float = 100.0, **extra) -> dict:
    rid = f"e.{muni}.{code}.{n}"
    content = {"identifier": rid, "education": f"i.{muni}.{code}", "providers": [f"p.{muni}"],
               "locations": [{"town": "Umeå", "areaCode": muni}],
               "execution": {"start": start, "end": "2027-06-04"}, "paceOfStudy": {"percentage": pace},
               "application": {"last": "2026-12-15"}, **extra}
    return {"id": rid, "status": "ACTIVE", "content": content}


def provider(muni: str, name: str = "Vuxenutbildningen") -> dict:
    rid = f"p.{muni}"
    return {"id": rid, "status": "ACTIVE", "content": {"identifier": rid, "name": s(name)}}


def bundle(muni: str, courses: dict[str, int], **sections) -> dict:
    """A feed with one provider, the given courses (code -> number of occurrences) and extra sections."""
    doc = {
        "educationProviders": [provider(muni)],
        "educationInfos": [info(muni, code) for code in courses],
        "educationEvents": [event(muni, code, n) for code, k in courses.items() for n in range(1, k + 1)],
    }
    doc.update(sections)
    return doc


def withdrawn(rec: dict) -> dict:
    return {"id": rec["id"], "status": "DELETED", "content": None}


def edit(doc: dict) -> dict:
    return copy.deepcopy(doc)
