"""Read audit records: filters, keyset pages newest first, one function for HTML, JSON and CSV.

Why the reach is an explicit argument: ``audit_records`` has no row-level security (it is a
platform table), so the caller's restriction is the only thing between an org admin and every
other org's trail. ``org_ids=None`` (everything) is for platform admins only; any set holds the
reader to those orgs, and records without an org are never in a set's reach. Fail closed: an
empty set reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, and_, false, func, literal_column, select, true
from sqlalchemy.sql import column, table

from orgpulse.auth import resolve_org_ref
from orgpulse.core.errors import InvalidInput, PermissionDenied

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 50
# Counting stops here: an exact total over years of records would scan them all.
COUNT_CAP = 10_000

audit_records = table(
    "audit_records",
    column("audit_id"),
    column("at"),
    column("actor_user_id"),
    column("actor_kind"),
    column("org_id"),
    column("action"),
    column("target"),
    column("outcome"),
    column("details"),
    column("request_id"),
    column("ip"),
    column("query_type"),
    column("cohort_size"),
    column("suppressed"),
    column("export_kind"),
)
users = table("users", column("user_id"), column("email"))
directory_groups = table(
    "directory_groups", column("org_id"), column("unit_id"), column("slug")
)


class AuditFilters(BaseModel):
    """What a reader narrows the records to; every field optional, all of them ANDed."""

    org: str | None = None
    actor: str | None = None
    action: str | None = None  # exact, or a prefix when it ends with "." (e.g. "auth.")
    outcome: str | None = None
    query_type: str | None = None
    export_kind: str | None = None
    suppressed: bool | None = None
    date_from: date | None = None
    date_to: date | None = None

    def query_pairs(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (for "next page" and CSV links)."""
        names = {"date_from": "from", "date_to": "to"}
        pairs = []
        for key, value in self.model_dump(exclude_none=True).items():
            text_value = str(value).lower() if isinstance(value, bool) else str(value)
            pairs.append((names.get(key, key), text_value))
        return pairs


class AuditEntry(BaseModel):
    audit_id: int
    at: datetime
    actor_user_id: int | None
    actor_email: str | None
    actor_kind: str
    org_id: int | None
    org_slug: str | None
    action: str
    target: str | None
    outcome: str
    query_type: str | None
    cohort_size: int | None
    suppressed: bool | None
    export_kind: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    filters: AuditFilters
    entries: list[AuditEntry]
    per_page: int
    before: int | None
    next_before: int | None  # pass as ``before`` for the next (older) page; None: last page
    total: int
    total_capped: bool  # True: there are at least ``total`` matching records


def _parse_date(name: str, value: str | None) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{name!r} is not a date (YYYY-MM-DD): {value[:40]!r}",
            details=[{"field": name, "problem": "expected a date YYYY-MM-DD"}],
        ) from None


def _parse_bool(name: str, value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInput(
        f"{name!r} must be true or false, not {value[:40]!r}",
        details=[{"field": name, "problem": "expected true or false"}],
    )


def parse_filters(
    *,
    org: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    query_type: str | None = None,
    export_kind: str | None = None,
    suppressed: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> AuditFilters:
    """Validate query-string filters; a bad one is a 422 naming it."""

    def clean(value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    start = _parse_date("from", date_from)
    end = _parse_date("to", date_to)
    if start is not None and end is not None and end < start:
        raise InvalidInput(
            f"'to' ({end}) is before 'from' ({start})",
            details=[{"field": "to", "problem": "before 'from'"}],
        )
    return AuditFilters(
        org=clean(org),
        actor=clean(actor),
        action=clean(action),
        outcome=clean(outcome),
        query_type=clean(query_type),
        export_kind=clean(export_kind),
        suppressed=_parse_bool("suppressed", suppressed),
        date_from=start,
        date_to=end,
    )


def validate_filters(
    *, conn: Connection, org_ids: frozenset[int] | None, filters: AuditFilters
) -> int | None:
    """Resolve the ``org`` filter to its id; refuse one outside ``org_ids``.

    An org admin naming another org (or an unknown one: the answer must not reveal which orgs
    exist) is refused rather than shown an empty list, so a widening attempt is visible.
    """
    if filters.org is None:
        return None
    org_id = resolve_org_ref(conn, filters.org)
    if org_ids is not None and (org_id is None or org_id not in org_ids):
        raise PermissionDenied(f"you may not read the audit records of {filters.org!r}")
    if org_id is None:
        raise InvalidInput(
            f"no organization {filters.org!r}",
            details=[{"field": "org", "problem": "unknown organization"}],
        )
    return org_id


def _conditions(
    conn: Connection, *, org_ids: frozenset[int] | None, filters: AuditFilters
) -> list[ColumnElement[bool]]:
    a = audit_records.c
    where: list[ColumnElement[bool]] = []
    if org_ids is not None:
        # Fail closed: NULL org_id is never IN a set, and an empty set matches nothing.
        where.append(a.org_id.in_(sorted(org_ids)) if org_ids else false())
    org_id = validate_filters(conn=conn, org_ids=org_ids, filters=filters)
    if org_id is not None:
        where.append(a.org_id == org_id)
    if filters.actor is not None:
        where.append(
            a.actor_user_id.in_(
                select(users.c.user_id).where(
                    func.lower(users.c.email) == func.lower(filters.actor)
                )
            )
        )
    if filters.action is not None:
        if filters.action.endswith("."):
            where.append(a.action.startswith(filters.action, autoescape=True))
        else:
            where.append(a.action == filters.action)
    for name in ("outcome", "query_type", "export_kind"):
        value = getattr(filters, name)
        if value is not None:
            where.append(a[name] == value)
    if filters.suppressed is not None:
        where.append(a.suppressed.is_(true() if filters.suppressed else false()))
    if filters.date_from is not None:
        where.append(a.at >= datetime.combine(filters.date_from, time(), tzinfo=UTC))
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), tzinfo=UTC)
        where.append(a.at < end)
    return where


def audit_page(
    *,
    conn: Connection,
    org_ids: frozenset[int] | None,
    filters: AuditFilters,
    before: int | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    count: bool = True,
) -> AuditPage:
    """Return one page of matching records, newest first, with the cursor of the next page."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}")
    a = audit_records.c
    where = _conditions(conn, org_ids=org_ids, filters=filters)
    email = (
        select(users.c.email).where(users.c.user_id == a.actor_user_id).scalar_subquery()
    )
    slug = (
        select(directory_groups.c.slug)
        .where(directory_groups.c.org_id == a.org_id, directory_groups.c.unit_id.is_(None))
        .limit(1)
        .scalar_subquery()
    )
    page_where = [*where, a.audit_id < before] if before is not None else where
    rows = conn.execute(
        select(
            a.audit_id,
            a.at,
            a.actor_user_id,
            email.label("actor_email"),
            a.actor_kind,
            a.org_id,
            slug.label("org_slug"),
            a.action,
            a.target,
            a.outcome,
            a.query_type,
            a.cohort_size,
            a.suppressed,
            a.export_kind,
            a.ip,
            a.request_id,
            a.details,
        )
        .select_from(audit_records)
        .where(and_(true(), *page_where))
        .order_by(a.audit_id.desc())
        .limit(per_page + 1)
    ).mappings().all()
    entries = [AuditEntry.model_validate(dict(r)) for r in rows[:per_page]]
    total, capped = 0, False
    if count:
        capped_rows = (
            select(literal_column("1"))
            .select_from(audit_records)
            .where(and_(true(), *where))
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        total = int(conn.execute(select(func.count()).select_from(capped_rows)).scalar_one())
        capped = total > COUNT_CAP
        total = min(total, COUNT_CAP)
    return AuditPage(
        filters=filters,
        entries=entries,
        per_page=per_page,
        before=before,
        next_before=entries[-1].audit_id if len(rows) > per_page else None,
        total=total,
        total_capped=capped,
    )


def iter_audit_entries(
    *,
    connect: Callable[[], AbstractContextManager[Connection]],
    org_ids: frozenset[int] | None,
    filters: AuditFilters,
    page_size: int = MAX_PER_PAGE,
) -> Iterator[AuditEntry]:
    """Yield every matching record, newest first, one short transaction per keyset page.

    ``connect`` returns a context manager yielding a connection (e.g. ``unscoped(engine)``), so
    a long export never holds one snapshot or the whole result in memory.
    """
    before: int | None = None
    while True:
        with connect() as conn:
            page = audit_page(
                conn=conn,
                org_ids=org_ids,
                filters=filters,
                before=before,
                per_page=page_size,
                count=False,
            )
        yield from page.entries
        if page.next_before is None:
            return
        before = page.next_before


CSV_HEADER = [
    "audit_id",
    "at",
    "actor_user_id",
    "actor_email",
    "actor_kind",
    "org_id",
    "org_slug",
    "org_name",
    "action",
    "target",
    "outcome",
    "query_type",
    "cohort_size",
    "suppressed",
    "export_kind",
    "ip",
    "request_id",
    "details",
]


def compact_json(value: dict[str, Any]) -> str:
    """Details as one line of JSON with sorted keys (the page, the CSV)."""
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def csv_row(entry: AuditEntry, org_names: Mapping[int, str]) -> list[Any]:
    """One CSV line of a record: the JSON fields in CSV_HEADER order, plus the org's name
    (``org_names``: read by the caller in the reader's tenant scope; names are tenant data)."""
    data = entry.model_dump(mode="json")
    data["org_name"] = org_names.get(entry.org_id) if entry.org_id is not None else None
    row: list[Any] = []
    for name in CSV_HEADER:
        value = data[name]
        if name == "details":
            value = compact_json(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        row.append("" if value is None else value)
    return row
