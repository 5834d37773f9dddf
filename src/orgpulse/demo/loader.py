"""Load the demo: synthetic Segment traffic through ingestion, plus one user per role."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text

from orgpulse.auth import Role, create_user, grant_membership
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, scoped, unscoped
from orgpulse.demo.generator import generate
from orgpulse.health.snapshots import backfill_snapshots
from orgpulse.ingestion import ingest
from orgpulse.jobs.runner import run_all_once

DEMO_PASSWORD = "orgpulse-demo"  # noqa: S105 - printed on purpose: demo logins only
DEMO_DOMAIN = "demo.orgpulse.test"


def load_demo(
    *,
    settings: Settings,
    orgs: int,
    days: int,
    seed: int,
    progress: Callable[[int], None] = lambda n: None,
    snapshot_progress: Callable[[int], None] = lambda n: None,
    snapshot_days: int = 31,
) -> list[tuple[str, str, str, str]]:
    """Send demo traffic, score the last ``snapshot_days`` days (both skipped when the demo was
    loaded before), create demo users and evaluate the alert rules once.

    Returns (email, role, password, scope description) per demo login.
    """
    engine = app_engine(settings)
    with unscoped(engine) as conn:
        loaded = conn.execute(
            text("SELECT 1 FROM users WHERE email = :e"), {"e": f"platform_admin@{DEMO_DOMAIN}"}
        ).first()
    if not loaded:
        now = clock.now()
        for batch in generate(orgs=orgs, days=days, seed=seed, now=now):
            ingest(engine=engine, settings=settings, body={"batch": batch}, source="demo")
            progress(len(batch))
        with unscoped(engine) as conn:
            backfill_snapshots(
                conn,
                catalog=catalog_of(settings),
                now=clock.now(),
                days=min(snapshot_days, days),
                progress=snapshot_progress,
            )
    _write_churn_file(engine=engine, settings=settings)
    logins = _demo_users(engine=engine, create=not loaded)
    _demo_hr_submission(engine=engine)
    # Evaluate the alert rules once, now that the account managers exist: a fresh demo's
    # inbox shows its declining accounts at once (the scheduler keeps them current).
    run_all_once(settings, only="alerts")
    return logins


def _write_churn_file(*, engine: Engine, settings: Settings) -> None:
    """Write the demo's churned accounts (from their CRM-style traits) for the backtest."""
    with unscoped(engine) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        rows = conn.execute(
            text(
                "SELECT external_id, traits->>'churned_on' FROM orgs"
                " WHERE traits ? 'churned_on' ORDER BY external_id"
            )
        ).all()
    path = settings.data_dir / "demo-churned.csv"
    path.write_text("org,churned_on\n" + "".join(f"{r[0]},{r[1]}\n" for r in rows))


def _demo_users(*, engine: Engine, create: bool) -> list[tuple[str, str, str, str]]:
    with unscoped(engine) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        orgs = conn.execute(
            text(
                "SELECT o.org_id, o.slug, o.name, o.traits->>'kind' AS kind,"
                " (SELECT count(*) FROM units u WHERE u.org_id = o.org_id) AS units,"
                " o.traits->>'showcase' AS showcase"
                " FROM orgs o ORDER BY o.org_id"
            )
        ).all()
        if not orgs:
            raise RuntimeError("the demo loaded no organizations")
        district = next((o for o in orgs if o.kind == "district" and o.units), orgs[0])
        employer = next(
            (o for o in orgs if o.showcase == "aggregate"),
            next((o for o in orgs if o.kind == "employer"), orgs[-1]),
        )
        if create and employer.kind == "employer":
            # The employer viewer's org is shown to everyone as suppressed aggregates only.
            conn.execute(
                text("UPDATE orgs SET privacy_mode = 'aggregate_only' WHERE org_id = :o"),
                {"o": employer.org_id},
            )
        unit = conn.execute(
            text("SELECT unit_id, name FROM units WHERE org_id = :o ORDER BY unit_id LIMIT 1"),
            {"o": district.org_id},
        ).first()
        managed = orgs[: max(1, min(25, len(orgs) // 2))]
        plan: list[tuple[Role, int | None, tuple[int, ...], str]] = [
            (Role.PLATFORM_ADMIN, None, (), "all organizations"),
            (Role.CS_LEADER, None, (), "all organizations"),
            (Role.ACCOUNT_MANAGER, None, (), f"{len(managed)} accounts"),
            (Role.SUPPORT, None, (), "all organizations"),
            (Role.ORG_ADMIN, district.org_id, (), district.name),
            (
                Role.UNIT_ADMIN,
                district.org_id,
                (unit.unit_id,) if unit else (),
                f"{unit.name if unit else 'no unit'} in {district.name}",
            ),
            (Role.EMPLOYER_VIEWER, employer.org_id, (), employer.name),
            (Role.HR_SUBMITTER, employer.org_id, (), employer.name),
            (Role.MEMBER, district.org_id, (), district.name),
        ]
        logins = []
        for role, org_id, unit_ids, where in plan:
            email = f"{role.value}@{DEMO_DOMAIN}"
            if create:
                user_id = create_user(
                    conn,
                    email=email,
                    password=DEMO_PASSWORD,
                    display_name=role.value.replace("_", " ").title(),
                    role=role,
                    org_id=org_id,
                    unit_ids=unit_ids,
                )
                if role == Role.ACCOUNT_MANAGER:
                    for o in managed:
                        grant_membership(conn, user_id=user_id, org_id=o.org_id, role=role)
            logins.append((email, role.value, DEMO_PASSWORD, where))
        return logins


def _demo_hr_submission(*, engine: Engine) -> None:
    """Submit the HR figures of the demo HR submitter's org for its last complete quarter.

    Skipped when that quarter already has a submission, so loading the demo again adds no
    version. The numbers are the HR integration example's: consistent and above k.
    """
    from orgpulse.audit import AuditContext
    from orgpulse.hr import current_submission, last_complete_quarter, submit_hr_metrics

    with unscoped(engine) as conn:
        user_id = conn.execute(
            text("SELECT user_id FROM users WHERE email = :e"),
            {"e": f"{Role.HR_SUBMITTER.value}@{DEMO_DOMAIN}"},
        ).scalar_one()
        apply_scope(conn, TenantScope(frozenset(), user_id))
        org_id = conn.execute(
            text("SELECT org_id FROM memberships WHERE user_id = :u AND role = :r"),
            {"u": user_id, "r": Role.HR_SUBMITTER.value},
        ).scalar_one()
    now = clock.now()
    with scoped(engine, TenantScope.of([org_id], user_id=user_id)) as conn:
        slug, timezone = conn.execute(
            text("SELECT slug, timezone FROM orgs WHERE org_id = :o"), {"o": org_id}
        ).one()
        start, end = last_complete_quarter(clock.local_date(now, timezone))
        if current_submission(conn=conn, org_id=org_id, period_start=start) is not None:
            return
        submit_hr_metrics(
            conn=conn,
            org_id=org_id,
            payload={
                "org_id": slug,
                "submission_date": clock.local_date(now, timezone).isoformat(),
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "metrics": {
                    "retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3},
                    "absenteeism": {
                        "cohort_size": 45,
                        "pre_avg_absence_days": 8.2,
                        "post_avg_absence_days": 3.1,
                        "reduction_pct": 62.2,
                    },
                    "return_to_work": {
                        "cohort_size": 12,
                        "successful_rtw_count": 11,
                        "success_rate": 91.7,
                    },
                },
            },
            submitted_by=user_id,
            now=now,
            ctx=AuditContext(actor_user_id=user_id, actor_kind="system"),
        )
