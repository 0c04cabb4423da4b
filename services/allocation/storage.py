"""The allocation service's tables and every query it makes (SQLAlchemy 2 async, SQLite or PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, bindparam,
    case, delete, func, insert, select, text, update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import aware  # noqa: F401 - storage.aware for callers
from shared.outbox import inbox_table, outbox_table
from shared.tokens import tokens_table

metadata = MetaData()

occurrences = Table(
    "occurrences", metadata,
    Column("id", String(200), primary_key=True),
    Column("course_id", String(200), nullable=False),
    Column("course_code", String(80)),
    Column("title", Text, nullable=False),
    Column("municipality_code", String(4), nullable=False),
    Column("area", String(80)),
    Column("start", Date),
    Column("places", Integer),  # as the feed says
    Column("funded_places", Integer),  # set by an adopted distribution; wins over `places`
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_occurrences_course", "course_id"),
    Index("ix_occurrences_funding", "municipality_code", "area"),
)

applications = Table(
    "applications", metadata,
    Column("id", String(36), primary_key=True),
    Column("submission_id", String(80), nullable=False, unique=True),
    Column("form_hash", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("name", Text),  # personal data: blanked on erasure
    Column("email", Text),
    Column("email_key", String(64)),  # hash of the lower-cased address, to find duplicates
    Column("lang", String(4), nullable=False),
    Column("home_municipality", String(4), nullable=False),
    Column("education_level", String(40)),
    Column("employment", String(40)),
    Column("priority_group", Integer, nullable=False),
    Column("priority_reason", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("confirmed_at", DateTime(timezone=True)),  # None while status is "unconfirmed"
    Column("erased_at", DateTime(timezone=True)),
    Index("ix_applications_email", "email_key"),
    Index("ix_applications_status", "status"),
    Index("ix_applications_confirmed", "confirmed_at"),
)

choices = Table(
    "choices", metadata,
    Column("application_id", String(36), ForeignKey("applications.id"), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("occurrence_id", String(200), nullable=False),
    Column("approval", String(10), nullable=False),  # approved | pending | denied (home municipality)
    Column("state", String(20), nullable=False),  # open | offered | accepted | declined | expired | withdrawn
    Column("reserve_position", Integer),
    Index("ix_choices_occurrence", "occurrence_id"),
)

offers = Table(
    "offers", metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(36), ForeignKey("applications.id"), nullable=False),
    Column("occurrence_id", String(200), nullable=False),
    Column("round_id", String(36)),
    Column("choice_rank", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # pending | accepted | declined | expired | withdrawn
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("reminded", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Index("ix_offers_status", "status", "deadline"),
    Index("ix_offers_created", "created_at"),
    Index("ix_offers_occurrence", "occurrence_id", "status"),
)

rounds = Table(
    "rounds", metadata,
    Column("id", String(36), primary_key=True),
    Column("seed", String(80), nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_s", Float),
    Column("summary", Text, nullable=False),
    Column("result", Text, nullable=False),  # per applicant (rounds before round_results; now "{}")
    Column("occurrences", Text),  # per occurrence: title, municipality, admitted and reserves counted
)

# Who a round admitted to each occurrence and who it put on the reserve list, and each applicant's
# explanation: read one occurrence at a time (a round of 100,000 applicants is too much for one page).
round_places = Table(
    "round_places", metadata,
    Column("round_id", String(36), primary_key=True),
    Column("occurrence_id", String(200), primary_key=True),
    Column("application_id", String(36), primary_key=True),
    Column("outcome", String(10), nullable=False),  # offered | reserve
    Column("position", Integer),  # on the reserve list
    Column("choice_rank", Integer),
    Column("priority_group", Integer),
)

round_results = Table(
    "round_results", metadata,
    Column("round_id", String(36), primary_key=True),
    Column("application_id", String(36), primary_key=True),
    Column("result", Text, nullable=False),  # outcome, group, lottery number, explanation
)

distributions = Table(
    "distributions", metadata,
    Column("id", String(36), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("input", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("status", String(10), nullable=False),  # scenario | adopted
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("adopted_by", String(200)),
    Column("adopted_at", DateTime(timezone=True)),
)

needs_analyses = Table(
    "needs_analyses", metadata,
    Column("id", String(36), primary_key=True),
    Column("source", Text, nullable=False),
    Column("year", Integer, nullable=False),
    Column("basis", String(10), nullable=False),  # weight | shortage
    Column("rows", Text, nullable=False),  # the file's rows as read
    Column("weights", Text, nullable=False),  # per cent per education area
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

chat_demand = Table(
    "chat_demand", metadata,
    Column("area", String(80), primary_key=True),
    Column("municipality_code", String(4), primary_key=True),
    Column("turns", Integer, nullable=False),
)

# Applications per e-mail address in the last day (a hash of the address, kept 24 hours, and not
# blanked by erasure, so that applying and erasing again cannot e-mail an address without end).
address_uses = Table(
    "address_uses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_address_uses_key_time", "email_key", "created_at"),
)

service_secrets = Table(
    "service_secrets", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)

api_tokens = tokens_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def now() -> datetime:
    return datetime.now(timezone.utc)




async def lock(conn: AsyncConnection, key: str) -> None:
    """Serialise work that must never run twice at once (rounds) across replicas, on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


# --- queries, by the use cases that need them -------------------------------------------------------
# Each takes the caller's connection, so a use case decides what one transaction holds.

async def secret(conn: AsyncConnection, name: str) -> str | None:
    return (await conn.execute(select(service_secrets.c.value).where(service_secrets.c.name == name))).scalar()


async def save_secret(conn: AsyncConnection, name: str, value: str) -> None:
    await conn.execute(insert(service_secrets).values(name=name, value=value))


# catalogue copy

async def upsert_occurrence(conn: AsyncConnection, occurrence_id: str, row: dict) -> None:
    res = await conn.execute(update(occurrences).where(occurrences.c.id == occurrence_id).values(**row))
    if res.rowcount == 0:
        await conn.execute(insert(occurrences).values(id=occurrence_id, funded_places=None, **row))


async def active_occurrence_ids(conn: AsyncConnection, course_id: str) -> list[str]:
    return list((await conn.execute(select(occurrences.c.id).where(
        occurrences.c.course_id == course_id, occurrences.c.active.is_(True)))).scalars())


async def deactivate_occurrences(conn: AsyncConnection, ids: list[str]) -> None:
    await conn.execute(update(occurrences).where(occurrences.c.id.in_(ids)).values(active=False, updated_at=now()))


async def occurrences_by_id(conn: AsyncConnection, ids: list[str] | None = None, active_only: bool = False) -> dict:
    q = select(occurrences)
    if ids is not None:
        q = q.where(occurrences.c.id.in_(ids))
    if active_only:
        q = q.where(occurrences.c.active.is_(True))
    return {r.id: r for r in (await conn.execute(q)).all()}


# applications

async def application(conn: AsyncConnection, application_id: str):  # noqa: ANN201 - a row or None
    return (await conn.execute(select(applications).where(applications.c.id == application_id))).first()


async def application_by_submission(conn: AsyncConnection, submission_id: str):  # noqa: ANN201
    return (await conn.execute(select(applications).where(applications.c.submission_id == submission_id))).first()


async def active_application_with_email(conn: AsyncConnection, email_key: str, statuses: tuple[str, ...]):  # noqa: ANN201
    return (await conn.execute(select(applications.c.id).where(
        applications.c.email_key == email_key, applications.c.status.in_(statuses)))).first()


async def address_uses_since(conn: AsyncConnection, email_key: str, since: datetime) -> int:
    """How often the address applied since then; older uses are forgotten on the way."""
    await conn.execute(delete(address_uses).where(address_uses.c.created_at < since))
    return await conn.scalar(select(func.count()).select_from(address_uses).where(
        address_uses.c.email_key == email_key, address_uses.c.created_at >= since))


async def add_address_use(conn: AsyncConnection, email_key: str) -> None:
    await conn.execute(insert(address_uses).values(email_key=email_key, created_at=now()))


async def add_application(conn: AsyncConnection, values: dict, choice_rows: list[dict]) -> None:
    await conn.execute(insert(applications).values(**values))
    await conn.execute(insert(choices), choice_rows)


async def confirm_application(conn: AsyncConnection, application_id: str) -> bool:
    """Unconfirmed -> received; False when it was not (any longer) unconfirmed."""
    res = await conn.execute(update(applications).where(applications.c.id == application_id,
                                                        applications.c.status == "unconfirmed")
                             .values(status="received", confirmed_at=now()))
    return res.rowcount > 0


async def unconfirmed_before(conn: AsyncConnection, before: datetime) -> list:
    return (await conn.execute(select(applications).where(applications.c.status == "unconfirmed",
                                                          applications.c.created_at < before))).all()


async def delete_applications(conn: AsyncConnection, ids: list[str]) -> None:
    """Gone entirely: an application never confirmed was never counted, so no statistics remain."""
    await conn.execute(delete(choices).where(choices.c.application_id.in_(ids)))
    await conn.execute(delete(applications).where(applications.c.id.in_(ids)))


async def choices_with_occurrences(conn: AsyncConnection, application_id: str) -> list:
    return (await conn.execute(
        select(choices, occurrences.c.title, occurrences.c.municipality_code, occurrences.c.start)
        .join(occurrences, occurrences.c.id == choices.c.occurrence_id)
        .where(choices.c.application_id == application_id).order_by(choices.c.rank))).all()


async def offers_of(conn: AsyncConnection, application_id: str) -> list:
    return (await conn.execute(select(offers).where(offers.c.application_id == application_id)
                               .order_by(offers.c.created_at))).all()


async def set_approval(conn: AsyncConnection, application_id: str, rank: int, approval: str) -> bool:
    res = await conn.execute(update(choices).where(choices.c.application_id == application_id, choices.c.rank == rank)
                             .values(approval=approval))
    return res.rowcount > 0


async def unerased_applications(conn: AsyncConnection, submission_ids: list[str]) -> list:
    return (await conn.execute(select(applications).where(applications.c.submission_id.in_(submission_ids),
                                                          applications.c.erased_at.is_(None)))).all()


async def blank_person(conn: AsyncConnection, application_id: str) -> None:
    await conn.execute(update(applications).where(applications.c.id == application_id).values(
        name=None, email=None, email_key=None, education_level=None, employment=None, status="erased",
        erased_at=now()))


# offers

async def offer(conn: AsyncConnection, offer_id: str):  # noqa: ANN201
    return (await conn.execute(select(offers).where(offers.c.id == offer_id))).first()


async def open_offers(conn: AsyncConnection, where) -> list:  # noqa: ANN001 - a SQLAlchemy condition
    return (await conn.execute(select(offers).where(where, offers.c.status.in_(("pending", "accepted"))))).all()


async def settle_offer(conn: AsyncConnection, offer_row, offer_status: str, choice_state: str,  # noqa: ANN001
                       application_status: str, **offer_values) -> None:
    """An offer answered, lapsed or taken back: the offer, its choice and the application move together."""
    await conn.execute(update(offers).where(offers.c.id == offer_row.id).values(status=offer_status, **offer_values))
    await conn.execute(update(choices).where(choices.c.application_id == offer_row.application_id,
                                             choices.c.rank == offer_row.choice_rank).values(state=choice_state))
    await conn.execute(update(applications).where(applications.c.id == offer_row.application_id)
                       .values(status=application_status))


async def lapsed_offers(conn: AsyncConnection, at: datetime) -> list:
    return (await conn.execute(select(offers).where(offers.c.status == "pending", offers.c.deadline < at))).all()


async def offers_to_remind(conn: AsyncConnection, at: datetime, soon: datetime) -> list:
    return (await conn.execute(select(offers).where(offers.c.status == "pending", offers.c.reminded.is_(False),
                                                    offers.c.deadline < soon, offers.c.deadline >= at))).all()


async def mark_reminded(conn: AsyncConnection, offer_id: str) -> None:
    await conn.execute(update(offers).where(offers.c.id == offer_id).values(reminded=True))


async def occurrence(conn: AsyncConnection, occurrence_id: str):  # noqa: ANN201
    return (await conn.execute(select(occurrences).where(occurrences.c.id == occurrence_id))).first()


# rounds

async def round_input(conn: AsyncConnection, waiting: tuple[str, ...]) -> tuple[dict, dict, dict, dict]:
    """What a round decides on: active occurrences, seats held by open offers, the applications still
    waiting and their choices in rank order."""
    occ = await occurrences_by_id(conn, active_only=True)
    held = dict((await conn.execute(select(offers.c.occurrence_id, func.count()).where(
        offers.c.status.in_(("pending", "accepted"))).group_by(offers.c.occurrence_id))).all())
    apps = {r.id: r for r in (await conn.execute(select(applications).where(
        applications.c.status.in_(waiting)))).all()}
    by_app: dict[str, list] = {}
    for c in (await conn.execute(select(choices).join(applications, applications.c.id == choices.c.application_id)
                                 .where(applications.c.status.in_(waiting))
                                 .order_by(choices.c.application_id, choices.c.rank))).all():
        by_app.setdefault(c.application_id, []).append(c)
    return occ, held, apps, by_app


async def save_round(conn: AsyncConnection, offer_rows: list[dict], status_updates: list[dict],
                     reserve_updates: list[dict], round_row: dict, place_rows: list[dict],
                     result_rows: list[dict]) -> None:
    if offer_rows:
        await conn.execute(insert(offers), offer_rows)
        await conn.execute(update(choices).where(choices.c.application_id == bindparam("a"),
                                                 choices.c.rank == bindparam("r")).values(state="offered"),
                           [{"a": x["application_id"], "r": x["choice_rank"]} for x in offer_rows])
    if status_updates:
        await conn.execute(update(applications).where(applications.c.id == bindparam("aid"))
                           .values(status=bindparam("st")), status_updates)
    if reserve_updates:
        await conn.execute(update(choices).where(choices.c.application_id == bindparam("aid"),
                                                 choices.c.rank == bindparam("rk"))
                           .values(reserve_position=bindparam("pos")), reserve_updates)
    await conn.execute(insert(rounds).values(**round_row))
    for table, rows in ((round_places, place_rows), (round_results, result_rows)):
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(table), rows[i:i + 5000])


async def round_results_of(conn: AsyncConnection, round_id: str) -> dict[str, str]:
    return dict((await conn.execute(select(round_results.c.application_id, round_results.c.result)
                                    .where(round_results.c.round_id == round_id))).all())


async def round_occurrence(conn: AsyncConnection, round_id: str, occurrence_id: str) -> list:
    """One occurrence's admitted and reserves in a round, each with their result (explanation)."""
    p, r = round_places, round_results
    return (await conn.execute(
        select(p.c.application_id, p.c.outcome, p.c.position, p.c.choice_rank, p.c.priority_group, r.c.result)
        .join(r, (r.c.round_id == p.c.round_id) & (r.c.application_id == p.c.application_id))
        .where(p.c.round_id == round_id, p.c.occurrence_id == occurrence_id)
        .order_by(p.c.outcome, p.c.position, p.c.priority_group))).all()


async def round_row(conn: AsyncConnection, round_id: str):  # noqa: ANN201
    return (await conn.execute(select(rounds).where(rounds.c.id == round_id))).first()


async def round_summaries(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(select(rounds.c.summary).order_by(rounds.c.started_at))).scalars())


# seats and demand

async def add_distribution(conn: AsyncConnection, values: dict) -> None:
    await conn.execute(insert(distributions).values(**values))


async def distribution(conn: AsyncConnection, dist_id: str):  # noqa: ANN201
    return (await conn.execute(select(distributions).where(distributions.c.id == dist_id))).first()


async def adopt(conn: AsyncConnection, dist_id: str, year: int, adopted_by: str) -> None:
    """The one adopted scenario of its year (an earlier one goes back to being a scenario)."""
    await conn.execute(update(distributions).where(distributions.c.year == year, distributions.c.status == "adopted")
                       .values(status="scenario"))
    await conn.execute(update(distributions).where(distributions.c.id == dist_id)
                       .values(status="adopted", adopted_by=adopted_by, adopted_at=now()))


async def active_occurrence_ids_in(conn: AsyncConnection, municipality: str, area: str) -> list[str]:
    return list((await conn.execute(select(occurrences.c.id).where(
        occurrences.c.municipality_code == municipality, occurrences.c.area == area, occurrences.c.active.is_(True))
        .order_by(occurrences.c.id))).scalars())


async def set_funded_places(conn: AsyncConnection, places: dict[str, int]) -> None:
    await conn.execute(update(occurrences).where(occurrences.c.id == bindparam("oid"))
                       .values(funded_places=bindparam("p")), [{"oid": i, "p": p} for i, p in places.items()])


async def count_chat_turn(conn: AsyncConnection, area: str, municipality: str) -> None:
    res = await conn.execute(update(chat_demand).where(chat_demand.c.area == area,
                                                       chat_demand.c.municipality_code == municipality)
                             .values(turns=chat_demand.c.turns + 1))
    if res.rowcount == 0:
        await conn.execute(insert(chat_demand).values(area=area, municipality_code=municipality, turns=1))


async def demand_rows(conn: AsyncConnection) -> tuple[list, list, list]:
    """Choices (count, first choices, reserve places), offers by status, and chat turns, per area and
    municipality."""
    o, ch, of = occurrences, choices, offers
    applied = (await conn.execute(
        select(o.c.area, o.c.municipality_code, func.count(), func.sum(case((ch.c.rank == 1, 1), else_=0)),
               func.count(ch.c.reserve_position))
        .join(o, o.c.id == ch.c.occurrence_id)
        .join(applications, applications.c.id == ch.c.application_id)
        .where(applications.c.status != "unconfirmed").group_by(o.c.area, o.c.municipality_code))).all()
    offered = (await conn.execute(
        select(o.c.area, o.c.municipality_code, of.c.status, func.count())
        .join(o, o.c.id == of.c.occurrence_id).group_by(o.c.area, o.c.municipality_code, of.c.status))).all()
    chat = (await conn.execute(select(chat_demand))).all()
    return applied, offered, chat


async def add_needs(conn: AsyncConnection, values: dict) -> None:
    await conn.execute(insert(needs_analyses).values(**values))


async def latest_needs(conn: AsyncConnection):  # noqa: ANN201 - a row or None
    return (await conn.execute(select(needs_analyses).order_by(needs_analyses.c.imported_at.desc())
                               .limit(1))).first()


async def distribution_rows(conn: AsyncConnection, year: int | None = None) -> list:
    d = distributions
    q = select(d.c.id, d.c.year, d.c.status, d.c.created_by, d.c.created_at, d.c.adopted_by, d.c.adopted_at)
    if year is not None:
        q = q.where(d.c.year == year)
    return (await conn.execute(q.order_by(d.c.created_at.desc()).limit(200))).all()


async def adopted_results(conn: AsyncConnection) -> list:
    """The adopted scenario of each year: (year, result JSON)."""
    d = distributions
    return (await conn.execute(select(d.c.year, d.c.result).where(d.c.status == "adopted"))).all()


async def pending_approvals(conn: AsyncConnection, home: str | None, limit: int) -> list:
    """Choices waiting for the applicant's home municipality to approve studies elsewhere."""
    a, ch, o = applications, choices, occurrences
    q = (select(a.c.id, a.c.name, a.c.home_municipality, a.c.priority_group, a.c.created_at, ch.c.rank,
                ch.c.occurrence_id, o.c.title, o.c.municipality_code, o.c.start)
         .join(ch, ch.c.application_id == a.c.id).join(o, o.c.id == ch.c.occurrence_id, isouter=True)
         .where(ch.c.approval == "pending", a.c.status.notin_(("unconfirmed", "erased", "withdrawn")),
                ch.c.state == "open"))
    if home:
        q = q.where(a.c.home_municipality == home)
    return (await conn.execute(q.order_by(a.c.created_at, ch.c.rank).limit(limit))).all()


async def home_study_flows(conn: AsyncConnection) -> list:
    """(home municipality, study municipality, choices) for confirmed applications."""
    a, ch, o = applications, choices, occurrences
    return (await conn.execute(
        select(a.c.home_municipality, o.c.municipality_code, func.count())
        .join(ch, ch.c.application_id == a.c.id).join(o, o.c.id == ch.c.occurrence_id)
        .where(a.c.status != "unconfirmed").group_by(a.c.home_municipality, o.c.municipality_code))).all()


async def report_days(conn: AsyncConnection) -> tuple[list, list]:
    """Per area, study municipality and day: choices of the applications confirmed that day (and how many
    are withdrawn), and offers made that day by status."""
    a, ch, o, of = applications, choices, occurrences, offers
    day = func.date(a.c.confirmed_at)
    applied = (await conn.execute(
        select(o.c.area, o.c.municipality_code, day, func.count(),
               func.sum(case((ch.c.state == "withdrawn", 1), else_=0)))
        .join(ch, ch.c.occurrence_id == o.c.id).join(a, a.c.id == ch.c.application_id)
        .where(a.c.confirmed_at.is_not(None)).group_by(o.c.area, o.c.municipality_code, day))).all()
    offer_day = func.date(of.c.created_at)
    offered = (await conn.execute(
        select(o.c.area, o.c.municipality_code, offer_day, of.c.status, func.count())
        .join(o, o.c.id == of.c.occurrence_id)
        .group_by(o.c.area, o.c.municipality_code, offer_day, of.c.status))).all()
    return applied, offered
