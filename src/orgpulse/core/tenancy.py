"""Tenant context: set once per transaction, fail closed.

Every tenant table carries a row-level-security policy that admits only rows whose ``org_id`` is in
the transaction-local setting ``orgpulse.org_ids`` — or every org when the transaction-local flag
``orgpulse.all_orgs`` is on, which only the scope of an all-org staff role sets. Both are made with
``set_config(..., true)``, so they die with the transaction and a pooled connection can never carry
one request's tenant into the next. No setting means no rows. Python code that needs tenant data
asks for the scope of its connection and raises when there is none; that in-process record is
dropped whenever the transaction ends too (commit, rollback, or the connection returning to the
pool), so it can never claim a scope the database no longer has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.pool import Pool

from orgpulse.core.errors import MissingTenantContext

_SCOPE_KEY = "orgpulse.scope"


@dataclass(frozen=True)
class TenantScope:
    """The orgs a transaction may touch, and the user it acts for (if any).

    ``every_org`` scopes admit every org in the database, not only ``org_ids``; Python-side
    checks (``require_org``) still hold to ``org_ids``.
    """

    org_ids: frozenset[int]
    user_id: int | None = None
    every_org: bool = False

    @classmethod
    def of(cls, org_ids: Iterable[int], *, user_id: int | None = None) -> TenantScope:
        return cls(frozenset(int(o) for o in org_ids), user_id)

    @classmethod
    def all_orgs(cls, org_ids: Iterable[int], *, user_id: int | None) -> TenantScope:
        """The scope of a role whose reach is every org (``org_ids``: all of them, as read).

        Why a flag and not the list: the policy then checks one boolean per query instead of
        searching a list of every org id for each row (docs/decisions.md).
        """
        return cls(frozenset(int(o) for o in org_ids), user_id, every_org=True)


def _forget_scope(conn: Connection) -> None:
    # An invalidated connection (the database went away mid-transaction) has no DBAPI
    # connection left: reading ``conn.info`` would try to reconnect inside the rollback and
    # turn the outage into a PendingRollbackError (a 500). Its pool record forgets the scope
    # on checkin.
    if not conn.invalidated:
        conn.info.pop(_SCOPE_KEY, None)


# ``Connection.info`` belongs to the pooled DBAPI connection and outlives the transaction (and the
# checkout), while ``set_config(..., true)`` does not: forget the scope whenever the transaction
# ends, and again when the connection goes back to the pool.
event.listen(Engine, "commit", _forget_scope)
event.listen(Engine, "rollback", _forget_scope)


@event.listens_for(Pool, "checkin")
def _forget_scope_on_checkin(dbapi_connection: object, record: object) -> None:
    info = getattr(record, "info", None)
    if info is not None:
        info.pop(_SCOPE_KEY, None)


def apply_scope(conn: Connection, scope: TenantScope) -> None:
    """Set (or replace) the tenant context of the connection's current transaction."""
    if not conn.in_transaction():
        raise MissingTenantContext("a tenant scope only lives inside a transaction")
    conn.execute(
        text(
            "SELECT set_config('orgpulse.org_ids', :orgs, true),"
            " set_config('orgpulse.all_orgs', :all, true),"
            " set_config('orgpulse.user_id', :uid, true)"
        ),
        {
            "orgs": "" if scope.every_org else ",".join(str(o) for o in sorted(scope.org_ids)),
            "all": "on" if scope.every_org else "",
            "uid": "" if scope.user_id is None else str(scope.user_id),
        },
    )
    conn.info[_SCOPE_KEY] = scope


def scope_of(conn: Connection) -> TenantScope:
    """Return the connection's tenant scope; raise if tenant data is touched without one."""
    scope = conn.info.get(_SCOPE_KEY)
    if not isinstance(scope, TenantScope):
        raise MissingTenantContext("tenant data accessed without a tenant scope")
    return scope


def require_org(conn: Connection, org_id: int) -> None:
    """Raise unless ``org_id`` is inside the connection's scope."""
    if org_id not in scope_of(conn).org_ids:
        raise MissingTenantContext(f"org {org_id} is outside the transaction's tenant scope")


@contextmanager
def scoped(engine: Engine, scope: TenantScope) -> Iterator[Connection]:
    """Open one transaction with the tenant context set; commit on success."""
    with engine.connect() as conn:
        try:
            with conn.begin():
                apply_scope(conn, scope)
                yield conn
        finally:
            _forget_scope(conn)


@contextmanager
def unscoped(engine: Engine) -> Iterator[Connection]:
    """Open one transaction with no tenant context: platform tables only (tenant tables: 0 rows)."""
    with engine.connect() as conn:
        conn.info.pop(_SCOPE_KEY, None)
        with conn.begin():
            yield conn


def all_org_ids(conn: Connection) -> list[int]:
    """Return every org id from the routing directory (the scope of all-org staff roles)."""
    rows = conn.execute(
        text("SELECT org_id FROM directory_groups WHERE unit_id IS NULL ORDER BY org_id")
    )
    return [r[0] for r in rows]
