"""The job registry, `orgpulse worker --once` and the scheduler loop."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from orgpulse.cli.main import app as cli
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.jobs import Job, register, registered_jobs, scheduler_loop


def finished(engine: Engine) -> list[tuple[str, str, str]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text(
                "SELECT job, status, detail FROM job_runs WHERE finished_at IS NOT NULL"
                " ORDER BY run_id"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_builtin_jobs_and_their_intervals() -> None:
    assert [(j.name, j.every_seconds, j.as_owner) for j in registered_jobs()] == [
        ("partitions", 3600, True),
        ("health_snapshots", 300, False),
        ("retention", 86_400, True),
        ("deliveries", 30, False),
        ("alerts", 300, False),
        ("report_subscriptions", 900, False),
    ]


def test_a_second_job_with_a_taken_name_is_refused() -> None:
    def work(conn: Connection, settings: Settings, now: datetime) -> str:
        return "x"

    with pytest.raises(ValueError, match="a job named 'retention' is already registered"):
        register(Job(name="retention", every_seconds=1, work=work, description="clash"))


def test_worker_once_runs_every_job_and_records_it(cli_env: CliRunner, engine: Engine) -> None:
    result = cli_env.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "partitions: succeeded",
        "health_snapshots: succeeded",
        "retention: succeeded",
        "deliveries: succeeded",
        "alerts: succeeded",
        "report_subscriptions: succeeded",
    ]
    runs = finished(engine)
    assert [(job, status) for job, status, _ in runs] == [
        ("partitions", "succeeded"),
        ("health_snapshots", "succeeded"),
        ("retention", "succeeded"),
        ("deliveries", "succeeded"),
        ("alerts", "succeeded"),
        ("report_subscriptions", "succeeded"),
    ]
    assert runs[3][2] == "sent 0, retrying 0, dead 0"
    assert runs[0][2] == "partitions up to date"
    assert runs[1][2] == "refreshed 0 orgs"
    assert "no event partition is past the policy" in runs[2][2]
    assert runs[4][2] == "opened 0, still open 0, resolved 0, quiet in cooldown 0"


def test_worker_once_one_job_and_unknown_job(cli_env: CliRunner, engine: Engine) -> None:
    result = cli_env.invoke(cli, ["worker", "--once", "--job", "partitions"])
    assert (result.exit_code, result.output) == (0, "partitions: succeeded\n")
    assert finished(engine) == [("partitions", "succeeded", "partitions up to date")]
    unknown = cli_env.invoke(cli, ["worker", "--once", "--job", "nope"])
    assert unknown.exit_code == 2
    # The CLI wraps the error at the terminal width: compare with whitespace collapsed.
    assert (
        "no job 'nope'; jobs: partitions, health_snapshots, retention, deliveries, alerts,"
        " report_subscriptions"
    ) in " ".join(unknown.output.split())


def test_scheduler_loop_runs_each_job_on_its_first_tick(
    settings: Settings, engine: Engine
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=scheduler_loop, args=(settings, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while len(finished(engine)) < 6:
        assert time.monotonic() < deadline, finished(engine)
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [job for job, _, _ in finished(engine)] == [
        "partitions",
        "health_snapshots",
        "retention",
        "deliveries",
        "alerts",
        "report_subscriptions",
    ]
