"""`orgpulse metrics rebuild`: rollups and projections rebuilt from the stored events equal what
ingesting them produced (row for row), pick up catalog pairs/funnels added later and the org's
current timezone, keep an org untouched when its rebuild fails, and never interleave with ingest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from datasets import NOW, at, build_acme, frozen_clock
from factories import Factory
from orgpulse.catalog import Catalog, catalog_of
from orgpulse.cli.main import app as cli_app
from orgpulse.core.errors import NotFound
from orgpulse.core.tenancy import TenantScope, apply_scope, scoped, unscoped
from orgpulse.ingestion import Projections, reproject_org, validate_batch
from orgpulse.ingestion.writer import write_messages
from orgpulse.metrics import OrgRebuild, rebuild_metrics, rebuild_org, resolve_orgs
from orgpulse.metrics import rebuild as rebuild_module

# Every derived table of an org, in a stable order (rollup_state without last_rollup_at: the
# time of the last projection, which a rebuild sets to its own).
DERIVED = {
    "rollup_daily_events": "SELECT day, unit_id, name, events FROM rollup_daily_events"
    " WHERE org_id = :o ORDER BY 1, 2, 3",
    "rollup_member_days": "SELECT day, member_id, unit_id, events FROM rollup_member_days"
    " WHERE org_id = :o ORDER BY 1, 2",
    "rollup_member_events": "SELECT day, member_id, name, unit_id, events"
    " FROM rollup_member_events WHERE org_id = :o ORDER BY 1, 2, 3",
    "pair_items": "SELECT pair, item_key, opened_at, closed_at, opener_member_id,"
    " closer_member_id, unit_id, ref_key FROM pair_items WHERE org_id = :o ORDER BY 1, 2",
    "funnel_progress": "SELECT funnel, subject_key, member_id, started_at, total_steps,"
    " max_step, last_step_at, unit_id FROM funnel_progress WHERE org_id = :o ORDER BY 1, 2, 3",
    "risk_flags": "SELECT flag_id, student_user_id, level, confidence, course, program,"
    " flagged_at, detail_at, detail_message_id, resolved_at FROM risk_flags WHERE org_id = :o"
    " ORDER BY 1",
    "interventions": "SELECT intervention_id, flag_id, student_user_id, kind, logged_at,"
    " logged_message_id, outcome, outcome_at, outcome_message_id FROM interventions"
    " WHERE org_id = :o ORDER BY 1",
    "rollup_state": "SELECT newest_event_at, last_received_at, events_total FROM rollup_state"
    " WHERE org_id = :o",
}

# Damage of every kind a stale rollup can have: rows missing, counts wrong, rows that should
# not exist.
DAMAGE = (
    "DELETE FROM rollup_member_days WHERE org_id = :o",
    "UPDATE rollup_daily_events SET events = events + 5 WHERE org_id = :o",
    "DELETE FROM rollup_member_events WHERE org_id = :o AND name = 'Login'",
    "DELETE FROM pair_items WHERE org_id = :o AND item_key = 'sub1'",
    "INSERT INTO funnel_progress (org_id, funnel, subject_key, member_id, max_step)"
    " VALUES (:o, 'courses', 'ghost', 999, 9)",
    "UPDATE rollup_state SET events_total = 0 WHERE org_id = :o",
)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    yield from frozen_clock()


@pytest.fixture
def catalog(factory: Factory) -> Catalog:
    return catalog_of(factory.settings)


def derived(engine: Engine, org_id: int) -> dict[str, list[tuple[Any, ...]]]:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(sql), {"o": org_id})]
            for table, sql in DERIVED.items()
        }


def damage(engine: Engine, org_id: int) -> None:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        for sql in DAMAGE:
            conn.execute(text(sql), {"o": org_id})


def member_ids(engine: Engine, org_id: int) -> dict[str, int]:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        rows = conn.execute(
            text("SELECT external_user_id, member_id FROM members WHERE org_id = :o"),
            {"o": org_id},
        )
        return {r[0]: r[1] for r in rows}


def job_runs(engine: Engine) -> list[tuple[Any, ...]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text(
                "SELECT job, status, detail FROM job_runs WHERE finished_at IS NOT NULL"
                " ORDER BY run_id"
            )
        )
        return [tuple(r) for r in rows]


def in_org(org: str, user: str, event: str, when: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": when,
            "properties": props, "context": {"groupId": org}}


def build_beta(factory: Factory) -> int:
    """Beta (UTC): one member, two logins on different days."""
    org = factory.org("beta", "Beta")
    factory.send([in_org("beta", "b1", "Login", at(1)), in_org("beta", "b1", "Login", at(2))])
    return org


def test_rebuild_reproduces_what_ingest_wrote_row_for_row(
    engine: Engine, factory: Factory, frozen: datetime, catalog: Catalog
) -> None:
    acme, beta = build_acme(factory), build_beta(factory)
    expected, beta_before = derived(engine, acme), derived(engine, beta)
    # By hand: sub1..sub5 (no assignment carries an assignment_id); s1 and s2 in course c1.
    assert [r[1] for r in expected["pair_items"]] == ["sub1", "sub2", "sub3", "sub4", "sub5"]
    assert [(r[1], r[4], r[5]) for r in expected["funnel_progress"]] == [
        ("c1", 3, 3), ("c1", None, 1)
    ]
    damage(engine, acme)
    damage(engine, beta)
    beta_damaged = derived(engine, beta)
    assert derived(engine, acme) != expected and beta_damaged != beta_before

    [rebuilt] = rebuild_metrics(engine=engine, catalog=catalog, org_ids=[acme])

    assert derived(engine, acme) == expected
    assert derived(engine, beta) == beta_damaged  # other orgs are not touched
    # 3 group calls + 5 identifies + 44 tracks (see datasets.build_acme).
    assert rebuilt == OrgRebuild(
        org_id=acme, slug="acme-schools", timezone="UTC", events=52,
        rows={table: len(expected[table]) for table in list(DERIVED)[:-1]},
    )
    assert expected["rollup_state"] == [(NOW, NOW, 52)]
    assert job_runs(engine) == [
        ("metrics_rebuild", "succeeded", "rebuilt 1 of 1 orgs from 52 events")
    ]


def test_a_pair_and_a_funnel_added_to_the_catalog_after_ingest(
    engine: Engine, factory: Factory, frozen: datetime, cli_env: CliRunner, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = factory.org("tix", "Tix")
    sent = factory.send([
        in_org("tix", "a", "Ticket Opened", at(5), ticket_id="k1"),
        in_org("tix", "a", "Ticket Opened", at(4), ticket_id="k1"),  # reopened: first open counts
        in_org("tix", "b", "Ticket Closed", at(3), ticket_id="k1"),
        in_org("tix", "b", "Ticket Opened", at(2), ticket_id="k2"),  # still open
        in_org("tix", "a", "Ticket Closed", at(1), ticket_id="k3"),  # closed, never opened here
        in_org("tix", "a", "Training Started", at(6), training_id="tr1", modules=3),
        in_org("tix", "a", "Module Done", at(6, hour=11), training_id="tr1", module=1),
        in_org("tix", "a", "Module Done", at(5), training_id="tr1", module=2),
    ])
    assert sent.accepted == 8
    before = derived(engine, org)
    assert (before["pair_items"], before["funnel_progress"]) == ([], [])
    override = tmp_path / "catalog.toml"
    override.write_text(
        '[pairs.tickets]\nopen = "Ticket Opened"\nclose = "Ticket Closed"\nkey = "ticket_id"\n\n'
        '[funnels.training]\nstart = "Training Started"\nstep = "Module Done"\n'
        'key = "training_id"\nstep_property = "module"\ntotal_property = "modules"\n'
    )
    monkeypatch.setenv("ORGPULSE_CATALOG_FILE", str(override))

    result = cli_env.invoke(cli_app, ["metrics", "rebuild", "--org", "tix"])

    assert result.exit_code == 0, result.output
    # 1 group call + 8 tracks; daily rows: $group today, Ticket Opened on 3 days, Ticket Closed
    # on 2, Training Started on 1, Module Done on 2; a active on 4 days, b on 2; 6 + 2 member
    # event rows.
    assert (
        "tix (UTC): read 9 events; wrote rollup_daily_events 9, rollup_member_days 6, "
        "rollup_member_events 8, pair_items 3, funnel_progress 1"
    ) in result.output
    assert "rebuilt 1 org(s) from 9 events" in result.output
    after, m = derived(engine, org), member_ids(engine, org)

    def day(n: int, hour: int = 10) -> datetime:
        return (NOW - timedelta(days=n)).replace(hour=hour)

    assert after["pair_items"] == [
        ("tickets", "k1", day(5), day(3), m["a"], m["b"], 0, None),
        ("tickets", "k2", day(2), None, m["b"], None, 0, None),
        ("tickets", "k3", None, day(1), None, m["a"], 0, None),
    ]
    assert after["funnel_progress"] == [("training", "tr1", m["a"], day(6), 3, 2, day(5), 0)]
    # Everything else is what ingest had written.
    assert {k: v for k, v in after.items() if k not in ("pair_items", "funnel_progress")} == {
        k: v for k, v in before.items() if k not in ("pair_items", "funnel_progress")
    }


def test_a_timezone_change_moves_earlier_events_to_their_new_local_day(
    engine: Engine, factory: Factory, frozen: datetime, catalog: Catalog
) -> None:
    org = factory.org("nyc", "NYC")  # UTC until told otherwise
    early, late = "2026-06-10T03:00:00Z", "2026-06-10T15:00:00Z"
    factory.send([in_org("nyc", "u1", "Login", early), in_org("nyc", "u2", "Login", early),
                  in_org("nyc", "u1", "Login", late)])
    factory.send([{"type": "group", "groupId": "nyc", "traits": {"timezone": "America/New_York"}}])
    june = {n: date(2026, 6, n) for n in (9, 10, 15)}
    # Ingest kept the UTC days; the two group calls are at 12:00 UTC, 08:00 in New York.
    assert derived(engine, org)["rollup_daily_events"] == [
        (june[10], 0, "Login", 3), (june[15], 0, "$group", 2)
    ]

    rebuilt = rebuild_org(engine=engine, org_id=org, projections=Projections.of(catalog))

    # 03:00 UTC on June 10 is 23:00 on June 9 in New York (EDT, UTC-4); 15:00 UTC stays June 10.
    assert rebuilt.timezone == "America/New_York"
    after, m = derived(engine, org), member_ids(engine, org)
    assert after["rollup_daily_events"] == [
        (june[9], 0, "Login", 2), (june[10], 0, "Login", 1), (june[15], 0, "$group", 2)
    ]
    assert after["rollup_member_days"] == sorted([
        (june[9], m["u1"], 0, 1), (june[9], m["u2"], 0, 1), (june[10], m["u1"], 0, 1)
    ])


def test_a_failed_rebuild_leaves_its_org_untouched(
    engine: Engine, factory: Factory, frozen: datetime, catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme, beta = build_acme(factory), build_beta(factory)
    expected = derived(engine, acme)
    damage(engine, acme)
    damage(engine, beta)
    beta_damaged = derived(engine, beta)

    def fail_after_writing(conn: Any, *, org_id: int, projections: Projections) -> Any:
        written = reproject_org(conn, org_id=org_id, projections=projections)
        if org_id == beta:
            raise RuntimeError("disk full")
        return written

    monkeypatch.setattr(rebuild_module, "reproject_org", fail_after_writing)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild_metrics(engine=engine, catalog=catalog, org_ids=[acme, beta])

    assert derived(engine, acme) == expected  # committed before beta failed
    assert derived(engine, beta) == beta_damaged  # rolled back as a whole
    assert job_runs(engine) == [
        ("metrics_rebuild", "failed", "rebuilt 1 of 2 orgs from 52 events; RuntimeError: disk full")
    ]


def test_unknown_org_and_option_errors(engine: Engine, cli_env: CliRunner) -> None:
    with pytest.raises(NotFound, match="no organization 'nope'"):
        resolve_orgs(engine=engine, refs=["nope"])
    unknown = cli_env.invoke(cli_app, ["metrics", "rebuild", "--org", "nope"])
    assert (unknown.exit_code, "no organization 'nope'" in unknown.output) == (2, True)
    for args in ([], ["--org", "nope", "--all"]):
        result = cli_env.invoke(cli_app, ["metrics", "rebuild", *args])
        assert result.exit_code == 2, result.output
        assert "give exactly one of --org SLUG or --all" in result.output
    assert job_runs(engine) == []


def test_cli_rebuilds_every_org(
    engine: Engine, factory: Factory, frozen: datetime, cli_env: CliRunner
) -> None:
    acme, beta = build_acme(factory), build_beta(factory)
    expected = {org: derived(engine, org) for org in (acme, beta)}
    for org in (acme, beta):
        damage(engine, org)

    result = cli_env.invoke(cli_app, ["metrics", "rebuild", "--all"])

    assert result.exit_code == 0, result.output
    assert {org: derived(engine, org) for org in (acme, beta)} == expected
    # Beta: 1 group call + 2 logins on two days.
    assert (
        "beta (UTC): read 3 events; wrote rollup_daily_events 3, rollup_member_days 2, "
        "rollup_member_events 2, pair_items 0, funnel_progress 0"
    ) in result.output
    assert "acme-schools (UTC): read 52 events;" in result.output
    assert "rebuilt 2 org(s) from 55 events" in result.output
    assert job_runs(engine) == [
        ("metrics_rebuild", "succeeded", "rebuilt 2 of 2 orgs from 55 events")
    ]


# ------------------------------------------------------------------------------ concurrency


def _wait_for_lock_wait(owner: Engine, timeout: float = 10.0) -> set[str]:
    """Wait until some transaction waits for a lock; return the kinds of lock waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with owner.connect() as conn:
            waiting = conn.execute(
                text("SELECT DISTINCT locktype FROM pg_locks WHERE NOT granted")
            ).scalars()
            kinds = set(waiting)
        if kinds:
            return kinds
        time.sleep(0.02)
    raise AssertionError("nobody waited for a lock")


def _late_login() -> dict[str, Any]:
    return in_org("acme", "t1", "Login", at(0)) | {"messageId": "late-login"}


def _logins(engine: Engine, org_id: int) -> int:
    return sum(r[3] for r in derived(engine, org_id)["rollup_daily_events"] if r[2] == "Login")


def _race(
    engine: Engine, owner: Engine, *, hold: Callable[[Connection], object], then: Callable[[], Any]
) -> tuple[Any, set[str]]:
    """Run ``hold`` in an open transaction, start ``then`` beside it, commit once ``then`` waits
    for a lock; return what ``then`` returned and the kinds of lock it waited for."""
    outcome: dict[str, object] = {}

    def other() -> None:
        try:
            outcome["result"] = then()
        except Exception as exc:  # re-raised below
            outcome["error"] = exc

    with engine.connect() as conn:
        tx = conn.begin()
        hold(conn)
        thread = threading.Thread(target=other)
        thread.start()
        try:
            waited_for = _wait_for_lock_wait(owner)
        finally:
            tx.commit()
        thread.join(30)
    assert "error" not in outcome, repr(outcome.get("error"))
    return outcome["result"], waited_for


def test_a_batch_waits_for_a_rebuild_in_progress(
    engine: Engine, owner: Engine, factory: Factory, frozen: datetime, catalog: Catalog
) -> None:
    acme = build_acme(factory)

    def rebuild_uncommitted(conn: Connection) -> None:
        apply_scope(conn, TenantScope.of([acme]))
        reproject_org(conn, org_id=acme, projections=Projections.of(catalog))

    sent, waited_for = _race(
        engine, owner, hold=rebuild_uncommitted, then=lambda: factory.send([_late_login()])
    )
    assert sent.accepted == 1
    assert _logins(engine, acme) == 5  # 4 from the dataset + the late one, counted once
    settled = derived(engine, acme)
    rebuild_metrics(engine=engine, catalog=catalog, org_ids=[acme])
    assert derived(engine, acme) == settled
    assert waited_for == {"advisory"}


def test_a_rebuild_waits_for_a_batch_in_flight_and_includes_it(
    engine: Engine, owner: Engine, factory: Factory, frozen: datetime, catalog: Catalog
) -> None:
    acme = build_acme(factory)
    projections = Projections.of(catalog)

    def ingest_uncommitted(conn: Connection) -> None:
        messages = validate_batch({"batch": [_late_login()]}, received_at=NOW)[0]
        write_messages(
            conn, messages=messages, received_at=NOW, source="test", projections=projections
        )

    rebuilt, waited_for = _race(
        engine, owner, hold=ingest_uncommitted,
        then=lambda: rebuild_org(engine=engine, org_id=acme, projections=projections),
    )
    assert rebuilt.events == 53
    assert _logins(engine, acme) == 5  # the batch's login counted once
    assert derived(engine, acme)["rollup_state"] == [(NOW, NOW, 53)]
    assert waited_for == {"advisory"}
