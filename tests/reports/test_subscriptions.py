"""Report subscriptions: the schedule, the job rendering with the recipient's permissions at
send time, the email reaching a real SMTP server, and nothing at all for a revoked recipient."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.dashboards.test_aggregate import northwind  # noqa: F401  (the fixture)
from tests.dashboards.test_portfolio import accounts  # noqa: F401  (the fixture)
from tests.reports.helpers import pdf_text
from tests.reports.test_portfolio_summary import sarah  # noqa: F401  (the fixture)

from factories import Factory
from mailsink import MailSink
from orgpulse.auth import Role, find_user_id
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.notify import deliver_due
from orgpulse.reports import pdf
from orgpulse.reports.subscriptions import (
    create_subscription,
    next_run_after,
    run_due_subscriptions,
)


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cadence", "after", "expected"),
    [
        # Wednesday → the next Monday 07:00.
        ("weekly", _at(2026, 6, 17, 10, 0), _at(2026, 6, 22, 7, 0)),
        # Monday before 07:00 → the same morning; at 07:00 exactly → a week later.
        ("weekly", _at(2026, 6, 22, 6, 59), _at(2026, 6, 22, 7, 0)),
        ("weekly", _at(2026, 6, 22, 7, 0), _at(2026, 6, 29, 7, 0)),
        ("monthly", _at(2026, 6, 15, 12, 0), _at(2026, 7, 1, 7, 0)),
        ("monthly", _at(2026, 12, 1, 7, 0), _at(2027, 1, 1, 7, 0)),
    ],
)
def test_next_run(cadence: str, after: datetime, expected: datetime) -> None:
    assert next_run_after(cadence, after) == expected


CREATED = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def _subscribe(engine: Engine, email: str, org_id: int) -> tuple[int, int]:
    with unscoped(engine) as conn:
        user_id = find_user_id(conn, email=email)
        sub_id, next_run = create_subscription(
            conn, user_id=user_id, report="business_review", org_id=org_id, cadence="monthly",
            now=CREATED,
        )
    assert next_run == DUE
    return user_id, sub_id


def test_due_subscription_is_rendered_queued_and_arrives_with_the_pdf(
    factory: Factory, acme: int, smtp_sink: MailSink, tmp_path: Path
) -> None:
    email = factory.user(Role.ACCOUNT_MANAGER, org_id=acme, email="am@example.test")
    user_id, sub_id = _subscribe(factory.engine, email, acme)

    with factory.engine.begin() as conn:  # not due yet: nothing happens
        assert run_due_subscriptions(conn, factory.settings, DUE.replace(hour=6)) == (
            "0 sent, 0 skipped, 0 failed")
    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE) == "1 sent, 0 skipped, 0 failed"

    with unscoped(factory.engine) as conn:
        sub = conn.execute(
            text("SELECT last_status, next_run_at FROM report_subscriptions"
                 " WHERE subscription_id = :s"), {"s": sub_id}).one()
        queued = conn.execute(
            text("SELECT email_to, user_id, source FROM deliveries")).all()
    assert tuple(sub) == ("sent", datetime(2026, 8, 1, 7, 0, tzinfo=UTC))
    assert [tuple(q) for q in queued] == [("am@example.test", user_id, f"subscription:{sub_id}")]

    smtp = factory.settings.model_copy(
        update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port, "smtp_starttls": False})
    assert len(deliver_due(factory.engine, settings=smtp, now=DUE).sent) == 1
    assert smtp_sink.envelopes == [("orgpulse@localhost", ["am@example.test"])]
    (part,) = list(smtp_sink.messages[0].iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "acme-schools_business-review_2026-07-01.pdf"
    words = pdf_text(part.get_content(), tmp_path)
    assert "Acme Schools — business review" in words
    assert "June 2026 (2026-06-01 to 2026-06-30)" in words


def test_recipient_who_lost_access_gets_nothing(
    factory: Factory, acme: int, owner: Engine
) -> None:
    email = factory.user(Role.ACCOUNT_MANAGER, org_id=acme, email="am@example.test")
    user_id, sub_id = _subscribe(factory.engine, email, acme)
    with scoped(owner, TenantScope.of([acme])) as conn:
        conn.execute(text("DELETE FROM memberships WHERE user_id = :u"), {"u": user_id})

    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE) == "0 sent, 1 skipped, 0 failed"
    with unscoped(factory.engine) as conn:
        sub = conn.execute(
            text("SELECT last_status, next_run_at FROM report_subscriptions"
                 " WHERE subscription_id = :s"), {"s": sub_id}).one()
        deliveries = conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
        audit = conn.execute(
            text("SELECT action, target FROM audit_records WHERE action LIKE 'subscription.%'")
        ).all()
    assert (sub[0], sub[1], deliveries) == ("skipped", datetime(2026, 8, 1, 7, 0, tzinfo=UTC), 0)
    assert [tuple(a) for a in audit] == [("subscription.skipped", f"subscription:{sub_id}")]


def _subscribe_to(engine: Engine, email: str, report: str, org_id: int | None) -> int:
    with unscoped(engine) as conn:
        sub_id, next_run = create_subscription(
            conn, user_id=find_user_id(conn, email=email), report=report, org_id=org_id,
            cadence="monthly", now=CREATED,
        )
    assert next_run == DUE
    return sub_id


def _send(factory: Factory, smtp_sink: MailSink) -> None:
    smtp = factory.settings.model_copy(
        update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port, "smtp_starttls": False})
    deliver_due(factory.engine, settings=smtp, now=DUE)


def test_portfolio_subscription_mails_the_summary_and_its_csv_of_the_recipients_accounts(
    factory: Factory, accounts: dict[str, int], sarah: str, smtp_sink: MailSink,  # noqa: F811
    tmp_path: Path,
) -> None:
    _subscribe_to(factory.engine, sarah, "portfolio", None)
    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE) == "1 sent, 0 skipped, 0 failed"
    _send(factory, smtp_sink)
    assert smtp_sink.envelopes == [("orgpulse@localhost", ["sarah@example.test"])]
    message = smtp_sink.messages[0]
    assert message["Subject"] == "OrgPulse: Portfolio summary · June 2026"
    pdf_part, csv_part = list(message.iter_attachments())
    assert (pdf_part.get_filename(), csv_part.get_filename()) == (
        "portfolio_summary_2026-07-01.pdf", "portfolio_summary_2026-07-01.csv")
    # The run on 1 July covers June; the latest snapshots are those of 15 June.
    words = pdf_text(pdf_part.get_content(), tmp_path)
    assert "June 2026 · health as of 2026-06-30 · accounts visible to Sarah" in words
    assert "Charlie" not in words
    rows = list(csv.reader(io.StringIO(csv_part.get_content())))
    assert rows[0] == ["account", "slug", "plan", "account_managers", "score", "band",
                       "scored_on", "change_7d", "change_30d", "top_driver"]
    assert [r[:6] for r in rows[1:]] == [
        ["Alpha", "alpha", "growth", "Sarah", "80.0", "healthy"],
        ["Bravo", "bravo", "starter", "Sarah", "40.0", "at_risk"],
    ]


def test_employer_quarterly_subscription_needs_the_baa_and_covers_the_quarter_just_ended(
    client: TestClient, factory: Factory, northwind: int, smtp_sink: MailSink,  # noqa: F811
    tmp_path: Path,
) -> None:
    email = factory.user(Role.EMPLOYER_VIEWER, org_id=northwind, email="hr@example.test")
    sub_id = _subscribe_to(factory.engine, email, "employer_quarterly", northwind)
    with factory.engine.begin() as conn:  # no BAA accepted yet: nothing is sent
        assert run_due_subscriptions(conn, factory.settings, DUE) == "0 sent, 1 skipped, 0 failed"
    with unscoped(factory.engine) as conn:
        status = conn.execute(text(
            "SELECT last_status, last_detail FROM report_subscriptions"
            " WHERE subscription_id = :s"), {"s": sub_id}).one()
        conn.execute(text("UPDATE report_subscriptions SET next_run_at = :d"), {"d": DUE})
    assert status[0] == "skipped" and status[1].startswith("baa_required:")

    viewer = {"Authorization": f"Bearer {factory.token(email)}"}
    assert client.post("/api/v1/orgs/northwind/baa", headers=viewer).status_code == 200
    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE) == "1 sent, 0 skipped, 0 failed"
    _send(factory, smtp_sink)
    assert smtp_sink.envelopes == [("orgpulse@localhost", ["hr@example.test"])]
    pdf_part, csv_part = list(smtp_sink.messages[0].iter_attachments())
    assert (pdf_part.get_filename(), csv_part.get_filename()) == (
        "northwind_employer-quarterly_2026-07-01.pdf",
        "northwind_employer-quarterly_2026-07-01.csv")
    words = pdf_text(pdf_part.get_content(), tmp_path)
    # The run on Wednesday 1 July covers Q2; aggregates count whole ISO weeks, so its data run
    # through the last complete week, ending Sunday 28 June.
    assert ("Northwind — quarterly report 2026-Q2 (2026-04-01 to 2026-06-30) · in progress, "
            "data through 2026-06-28 · aggregates only") in words
    assert "People in the cohort Whole organization 65 aberdeen — — bristol 20" in words
    lines = csv_part.get_content().splitlines()
    assert lines[0] == "org_id,org_name,period,section,measure,unit,people,percent,value"
    prefix = f"{northwind},Northwind,2026-Q2"
    assert f"{prefix},summary,cohort,(organization),65,," in lines
    assert f"{prefix},summary,cohort,dover,—,—," in lines
    assert f"{prefix},wellbeing,programme_participation,cardiff,15,53.6," in lines


def test_a_failed_rendering_is_recorded_and_retried_an_hour_later(
    factory: Factory, acme: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = factory.user(Role.ACCOUNT_MANAGER, org_id=acme, email="am@example.test")
    _, sub_id = _subscribe(factory.engine, email, acme)

    def broken(html: str) -> bytes:
        raise RuntimeError("fonts are missing")

    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE) == "0 sent, 0 skipped, 1 failed"

    def state() -> tuple[object, ...]:
        with unscoped(factory.engine) as conn:
            return tuple(conn.execute(text(
                "SELECT last_status, last_detail, next_run_at FROM report_subscriptions"
                " WHERE subscription_id = :s"), {"s": sub_id}).one())

    assert state() == ("failed", "RuntimeError: fonts are missing", DUE + timedelta(hours=1))
    with unscoped(factory.engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 0
    monkeypatch.undo()
    with factory.engine.begin() as conn:  # not yet: the retry waits its hour
        assert run_due_subscriptions(conn, factory.settings, DUE + timedelta(minutes=15)) == (
            "0 sent, 0 skipped, 0 failed")
    with factory.engine.begin() as conn:
        assert run_due_subscriptions(conn, factory.settings, DUE + timedelta(hours=1)) == (
            "1 sent, 0 skipped, 0 failed")
    assert state()[0] == "sent"
