"""Database-level tenancy controls, checked from the application's own side.

tests/core/test_schema.py lints the catalog as the owner (row-level security enabled and forced
with a ``tenant_isolation`` policy on every tenant table and partition, no invoker-less view or
SECURITY DEFINER function reachable by the app role, the app role's attributes) and runs raw SQL
as the app role without a context, in another org's context and over a small pool. This module
covers what those tests do not see:

* the same facts as the app role sees them in its own session, through the running app's
  engine (``app.state.engine``): who it is, that row security is *active* for it on every tenant
  table, that no org-carrying table it may read escapes RLS undeclared, that it can execute no
  SECURITY DEFINER function and read no view without ``security_invoker``;
* HTTP requests of two orgs' users, interleaved on threads over one app whose pool holds two
  connections: every response carries only its own org's data, refusals included, and both
  pooled connections are back to no context afterwards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text

from factories import Factory
from orgpulse.auth import Role, resolve_org_ref
from orgpulse.core.config import Settings
from orgpulse.core.db import app_url
from orgpulse.core.tenancy import unscoped
from orgpulse.web.app import create_app
from tenancy_catalog import PLATFORM_TABLES_WITH_ORG_ID, TENANT_TABLES, isolation_violations


# ---------------------------------------------------------------------------------- as the app role
def test_the_app_connects_as_an_unprivileged_role(app: Any, owner: Engine,
                                                  settings: Settings) -> None:
    with owner.connect() as conn:
        owner_role = conn.execute(text("SELECT current_user")).scalar_one()
    for engine in (app.state.engine, app.state.read_engine):
        with engine.connect() as conn:
            me = conn.execute(text(
                "SELECT current_user, session_user, current_setting('is_superuser'),"
                " r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,"
                " pg_has_role(current_user, :owner, 'USAGE'),"
                " current_setting('row_security')"
                " FROM pg_roles r WHERE r.rolname = current_user"), {"owner": owner_role}).one()
        assert tuple(me) == (settings.app_db_role, settings.app_db_role, "off", False, False,
                             False, False, False, "on")
    assert owner_role != settings.app_db_role


def test_row_security_is_active_for_the_app_role_on_every_tenant_table(app: Any) -> None:
    with app.state.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            "       row_security_active(c.oid),"
            "       (SELECT count(*) FROM pg_policies p"
            "         WHERE p.schemaname = 'public' AND p.tablename = c.relname)"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            "  AND c.relname = ANY(:t)"), {"t": sorted(TENANT_TABLES)}).all()
        # Every table with an org id that this role may read, with RLS off: only the declared
        # platform tables (a new table granted to the app without RLS fails here).
        unprotected = set(conn.execute(text(
            "SELECT c.relname FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'"
            "  AND NOT a.attisdropped"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"
            "  AND has_table_privilege(current_user, c.oid, 'SELECT')"
            "  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)")).scalars())
    assert {r[0] for r in rows} == TENANT_TABLES
    problems = [r[0] for r in rows if not (r[1] and r[2] and r[3] and r[4] >= 1)]
    assert problems == []
    assert unprotected <= PLATFORM_TABLES_WITH_ORG_ID


def test_the_app_role_reaches_no_rls_bypass(app: Any, settings: Settings) -> None:
    """The lint of tests/core/test_schema.py (whose negative cases prove it can fail), run in the
    app role's own session: what that role can execute or read, not what the owner thinks."""
    with app.state.engine.connect() as conn:
        assert isolation_violations(conn, settings.app_db_role) == []
        assert conn.execute(text("SELECT count(*) FROM pg_proc p"
                                 " WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace"
                                 "  AND has_function_privilege(current_user, p.oid, 'EXECUTE')")
                            ).scalar_one() == 0


# ---------------------------------------------------------------------------------- pooling
@dataclass(frozen=True)
class OrgCase:
    slug: str
    name: str
    members: int
    events: int
    markers: tuple[str, ...]  # what must never appear in the other org's responses


def _two_orgs(factory: Factory) -> tuple[OrgCase, OrgCase]:
    """Osprey: 2 members, 7 events (2 group calls: org and unit, 2 identifies, 3 tracks);
    Pelican: 3 members, 10 events (2 group calls, 3 identifies, 5 tracks)."""
    cases = []
    for ext, name, people, tracks in (("ext-osprey", "Osprey Schools", 2, 3),
                                      ("ext-pelican", "Pelican Academy", 3, 5)):
        word = name.split()[0]
        factory.org(ext, name, units=(f"{word}Ridge",))
        users = [f"{word.lower()}-person-{i}" for i in range(people)]
        result = factory.send(
            [{"type": "identify", "userId": u, "context": {"groupId": ext}} for u in users]
            + [{"type": "track", "userId": users[i % people], "event": f"{word} Lesson Viewed",
                "context": {"groupId": ext}} for i in range(tracks)]
        )
        assert (result.accepted, result.rejections) == (people + tracks, [])
        cases.append(OrgCase(slug=name.lower().replace(" ", "-"), name=name, members=people,
                             events=2 + people + tracks,
                             markers=(name, ext, f"{word}Ridge", f"{word} Lesson Viewed",
                                      *users)))
    return cases[0], cases[1]


@pytest.fixture
def small_pool_app(settings: Settings) -> Iterator[Any]:
    """The app over one engine of two pooled connections and no overflow, for pages and API
    reads alike: concurrent requests queue for the same two connections."""
    small = create_app(settings)
    pool = create_engine(app_url(settings), pool_size=2, max_overflow=0, pool_timeout=60,
                         connect_args={"prepare_threshold": None})
    small.state.engine = small.state.read_engine = pool
    yield small
    pool.dispose()


def test_interleaved_requests_of_two_orgs_see_only_their_own_org(
    factory: Factory, small_pool_app: Any
) -> None:
    osprey, pelican = _two_orgs(factory)
    connects: list[int] = []
    event.listen(small_pool_app.state.engine, "connect", lambda *_: connects.append(1))
    users = []
    for org, other in ((osprey, pelican), (pelican, osprey)):
        for role in (Role.ORG_ADMIN, Role.ACCOUNT_MANAGER):
            client = TestClient(small_pool_app, base_url="http://testserver")
            factory.login(client, factory.user(role, org_id=_org_id(factory, org.slug)))
            users.append((client, org, other))

    rounds = 6
    seen: list[tuple[str, str, int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(users))

    def browse(client: TestClient, org: OrgCase, other: OrgCase) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                for url in (f"/api/v1/orgs/{org.slug}/overview", "/api/v1/orgs",
                            f"/orgs/{org.slug}", f"/api/v1/orgs/{other.slug}/overview"):
                    response = client.get(url)
                    with lock:
                        seen.append((org.slug, url, response.status_code, response.text))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=browse, args=u) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for client, _, _ in users:
        client.close()
    assert errors == []
    assert len(seen) == len(users) * rounds * 4

    by_slug = {osprey.slug: (osprey, pelican), pelican.slug: (pelican, osprey)}
    for slug, url, status, body in seen:
        org, other = by_slug[slug]
        leaked = [m for m in other.markers if m in body]
        assert leaked == [], (slug, url)
        if url.endswith("/overview") and other.slug in url:
            assert status == 403, (slug, url)
        elif url.endswith("/overview"):
            assert status == 200, (slug, url)
            overview = json.loads(body)
            assert (overview["members_total"], overview["events_total"]) == (
                org.members, org.events)
        elif url == "/api/v1/orgs":
            assert status == 200
            assert [o["slug"] for o in json.loads(body)["orgs"]] == [org.slug]
        else:
            assert status == 200
            assert f"<h1>{org.name}" in body

    # Every pooled connection is back to no tenant context: zero rows from every tenant table.
    engine = small_pool_app.state.engine
    with engine.connect() as c1, engine.connect() as c2:
        for conn in (c1, c2):
                counts = {
                    t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                    for t in sorted(TENANT_TABLES)
                }
                assert counts == dict.fromkeys(sorted(TENANT_TABLES), 0)

    # 4 × 24 requests (each several transactions) went through at most 4 physical connections.
    assert len(connects) <= 4

def _org_id(factory: Factory, slug: str) -> int:
    with unscoped(factory.engine) as conn:
        org_id = resolve_org_ref(conn, slug)
    assert org_id is not None
    return org_id
