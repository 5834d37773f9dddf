"""Concurrent batches: a race between two writers is retried, never a 500."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from ingest_helpers import platform_rows, scoped_rows
from sqlalchemy import Engine, text

from orgpulse.core import clock
from orgpulse.ingestion import store_messages, validate_batch
from orgpulse.ingestion.writer import write_messages


def _wait_for_lock_wait(owner: Engine, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with owner.connect() as conn:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")


@pytest.mark.parametrize(
    ("second_id", "expected"),
    [
        # Two new orgs with the same name: the second picks the next free slug.
        ("crm-2", [("crm-1", "springfield"), ("crm-2", "springfield-2")]),
        # The same new org from two batches: the second finds the first's.
        ("crm-1", [("crm-1", "springfield")]),
    ],
)
def test_concurrent_creation_of_orgs(
    engine: Engine, owner: Engine, second_id: str, expected: list[tuple[str, str]]
) -> None:
    now = clock.now()

    def group(gid: str) -> list[Any]:
        body = {"batch": [{"type": "group", "groupId": gid, "traits": {"name": "Springfield"}}]}
        return validate_batch(body, received_at=now)[0]

    outcome: dict[str, Any] = {}

    def second_writer() -> None:
        try:
            outcome["result"] = store_messages(
                engine=engine, messages=group(second_id), received_at=now, source="test"
            )
        except Exception as exc:  # reported below
            outcome["error"] = exc

    with engine.connect() as conn:
        tx = conn.begin()
        write_messages(conn, messages=group("crm-1"), received_at=now, source="test")
        thread = threading.Thread(target=second_writer)
        thread.start()
        try:
            # The second writer picked the same free slug and now waits on the first's row.
            _wait_for_lock_wait(owner)
        finally:
            tx.commit()
        thread.join(30)
    assert "error" not in outcome, repr(outcome.get("error"))
    assert outcome["result"].accepted == 1
    assert platform_rows(
        engine, "SELECT external_id, slug FROM directory_groups ORDER BY 1"
    ) == expected
    orgs = [org for _, org in platform_rows(engine, "SELECT external_id, org_id"
                                            " FROM directory_groups")]
    assert scoped_rows(
        engine, orgs,
        "SELECT o.name, count(*) FROM events e JOIN orgs o USING (org_id) GROUP BY o.name",
    ) == [("Springfield", 2)]
