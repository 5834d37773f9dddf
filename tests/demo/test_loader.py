"""The demo loader: traffic through ingestion, snapshots, one login per role, churn file."""

from sqlalchemy import text

from orgpulse.auth import Role
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, unscoped
from orgpulse.demo.loader import DEMO_PASSWORD, load_demo


def test_demo_loads_orgs_snapshots_and_one_login_per_role(settings, engine) -> None:
    logins = load_demo(settings=settings, orgs=4, days=20, seed=2)
    assert [role for _, role, _, _ in logins] == [r.value for r in Role]
    assert {password for _, _, password, _ in logins} == {DEMO_PASSWORD}
    with unscoped(engine) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        orgs = conn.execute(text("SELECT count(*) FROM orgs")).scalar_one()
        days = conn.execute(
            # Per org: each org counts days in its own time zone, so across orgs in
            # different zones the days span one more calendar date for part of the day.
            text("SELECT DISTINCT count(DISTINCT day) FROM health_snapshots WHERE unit_id = 0"
                 " GROUP BY org_id")
        ).scalar_one()
        held = conn.execute(text("SELECT count(*) FROM unattributed_events")).scalar_one()
        runs = conn.execute(
            text("SELECT job, status FROM job_runs WHERE job = 'alerts'")).all()
        inbox = conn.execute(text("SELECT count(*) FROM alert_inbox")).scalar_one()
        opened = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
    assert (orgs, days, held) == (4, 20, 0)
    # The alert rules ran once; each alert reached at least one inbox.
    assert [tuple(r) for r in runs] == [("alerts", "succeeded")]
    assert inbox >= opened
    assert (settings.data_dir / "demo-churned.csv").read_text().startswith("org,churned_on\n")
    # Loading again reuses the data and the users.
    again = load_demo(settings=settings, orgs=4, days=20, seed=2)
    assert again == logins


def test_demo_submits_hr_figures_for_the_last_complete_quarter(settings, engine) -> None:
    from datetime import UTC, date, datetime

    from orgpulse.core import clock

    clock.freeze(datetime(2026, 5, 10, 12, 0, tzinfo=UTC))
    try:
        load_demo(settings=settings, orgs=4, days=5, seed=3, snapshot_days=1)
        load_demo(settings=settings, orgs=4, days=5, seed=3, snapshot_days=1)
    finally:
        clock.freeze(None)
    with unscoped(engine) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        rows = conn.execute(
            text("SELECT o.traits->>'kind', h.period_start, h.period_end, h.version,"
                 " h.superseded_at, h.metrics->'retention'->>'cohort_size'"
                 " FROM hr_submissions h JOIN orgs o USING (org_id)")
        ).all()
    # Loaded twice, submitted once: the quarter before the one containing 2026-05-10.
    assert [tuple(r) for r in rows] == [
        ("employer", date(2026, 1, 1), date(2026, 3, 31), 1, None, "45")
    ]


def test_demo_employer_is_an_aggregate_only_showcase(settings, engine, client) -> None:
    """The employer viewer's org: aggregate-only, four locations, one hidden below k and one
    hidden to protect it (seed 1 makes a steady employer of 122 people its showcase)."""
    from datetime import UTC, datetime, timedelta

    from factories import Factory

    logins = load_demo(settings=settings, orgs=6, days=30, seed=1)
    viewer = next(email for email, role, _, _ in logins if role == Role.EMPLOYER_VIEWER.value)
    with unscoped(engine) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        slug, mode = conn.execute(
            text("SELECT slug, privacy_mode FROM orgs WHERE traits->>'showcase' = 'aggregate'")
        ).one()
    assert mode == "aggregate_only"
    Factory(engine=engine, settings=settings, app=client.app).login(client, viewer, DEMO_PASSWORD)
    assert client.get("/", follow_redirects=False).headers["location"] == f"/orgs/{slug}/aggregate"
    today = datetime.now(UTC).date()
    iso = (today - timedelta(days=today.isoweekday())).isocalendar()  # the last complete week
    week = f"{iso.year}-W{iso.week:02d}"
    body = client.get(f"/api/v1/orgs/{slug}/aggregate?breakdown=unit&period={week}").json()
    assert body["status"] == "ok", body
    assert len(body["units"]) == 4
    cohort = body["cohort"]
    assert cohort["org"]["people"] == 122
    assert sorted(f["people"] or 0 for f in cohort["units"]) == [0, 0, 42, 64]  # 4 and 12 hidden
    assert [f["suppressed"] for f in cohort["units"]].count(True) == 2
    assert client.get(f"/orgs/{slug}/aggregate").status_code == 200
