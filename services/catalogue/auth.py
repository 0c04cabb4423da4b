"""Who may push which feed: a municipality token pushes only its own feed, a region token any.
A console token speaks for a signed-in person, with the role STAFF_ROLES gives them here."""
from __future__ import annotations

from shared.tokens import Caller


STAFF_ROLES = {"regional": "region", "municipality": "municipality"}


def may_push(caller: Caller, municipality: str) -> bool:
    return caller.role == "region" or (caller.role == "municipality" and caller.scope == municipality)


def may_read_feeds(caller: Caller, municipality: str) -> bool:
    """A feed's history and reports: the region, or that municipality's own staff."""
    return may_push(caller, municipality)


def check_scope(role: str, scope: str | None) -> str | None:
    """For `token create`: a municipality token needs one of the county's codes; a region token none."""
    from shared.reference import municipalities

    if role == "municipality" and scope not in municipalities():
        return f"unknown municipality code {scope}; use one of " + ", ".join(sorted(municipalities()))
    if role != "municipality" and scope:
        return f"a {role} token is not tied to a municipality; leave out --municipality"
    return None
