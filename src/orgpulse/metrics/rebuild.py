"""Rebuild every rollup and projection of an org from its stored events.

Ingest keeps the rollups incrementally, with the catalog and the org timezone of the moment. After
a pair or funnel is added to the catalog, or an org's timezone changes, a rebuild makes the
derived tables what ingesting the same events from scratch would produce today.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel
from sqlalchemy import Engine

from orgpulse.auth import resolve_org_ref
from orgpulse.catalog import Catalog
from orgpulse.core.errors import NotFound
from orgpulse.core.tenancy import TenantScope, all_org_ids, scoped, unscoped
from orgpulse.ingestion import Projections, reproject_org
from orgpulse.jobs import recorded_run
from orgpulse.metrics.scope import org_view

JOB_NAME = "metrics_rebuild"


class OrgRebuild(BaseModel):
    """What a rebuild of one org read and wrote."""

    org_id: int
    slug: str
    timezone: str
    events: int
    rows: dict[str, int]


def resolve_orgs(*, engine: Engine, refs: Sequence[str] | None) -> list[int]:
    """Return the ids of the orgs named by slug (or external id), or of every org when None."""
    with unscoped(engine) as conn:
        if refs is None:
            return all_org_ids(conn)
        org_ids: list[int] = []
        for ref in refs:
            org_id = resolve_org_ref(conn, ref)
            if org_id is None:
                raise NotFound(f"no organization {ref!r}")
            org_ids.append(org_id)
    return org_ids


def rebuild_org(*, engine: Engine, org_id: int, projections: Projections) -> OrgRebuild:
    """Rebuild one org's rollups and projections in one transaction scoped to that org."""
    with scoped(engine, TenantScope.of([org_id])) as conn:
        view = org_view(conn, org_id=org_id)
        written = reproject_org(conn, org_id=org_id, projections=projections)
    return OrgRebuild(
        org_id=org_id,
        slug=view.slug,
        timezone=view.timezone,
        events=written.events,
        rows=written.rows,
    )


def rebuild_metrics(
    *,
    engine: Engine,
    catalog: Catalog,
    org_ids: Sequence[int],
    on_org: Callable[[OrgRebuild], None] = lambda rebuilt: None,
) -> list[OrgRebuild]:
    """Rebuild the given orgs one transaction each, recorded as one run in ``job_runs``.

    A failure stops the run: orgs rebuilt before it stay rebuilt, the failing org is untouched.
    """
    projections = Projections.of(catalog)
    done: list[OrgRebuild] = []
    with recorded_run(engine, JOB_NAME) as run:
        run.detail = _tally(done, total=len(org_ids))
        for org_id in org_ids:
            rebuilt = rebuild_org(engine=engine, org_id=org_id, projections=projections)
            done.append(rebuilt)
            run.detail = _tally(done, total=len(org_ids))
            on_org(rebuilt)
    return done


def _tally(done: list[OrgRebuild], *, total: int) -> str:
    return f"rebuilt {len(done)} of {total} orgs from {sum(r.events for r in done)} events"
