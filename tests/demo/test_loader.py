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
            text("SELECT count(DISTINCT day) FROM health_snapshots WHERE unit_id = 0")
        ).scalar_one()
        held = conn.execute(text("SELECT count(*) FROM unattributed_events")).scalar_one()
    assert (orgs, days, held) == (4, 20, 0)
    assert (settings.data_dir / "demo-churned.csv").read_text().startswith("org,churned_on\n")
    # Loading again reuses the data and the users.
    again = load_demo(settings=settings, orgs=4, days=20, seed=2)
    assert again == logins
