"""End-to-end HTTP ingest vs raw COPY into the same events table, in one run.

    python bench/ingest.py [--events 100000] [--orgs 50] [--concurrency 4] [--workers 2]

Baseline: the same rows (as the writer would store them) COPYed into ``events`` in batches of 500,
one transaction per batch, from one client. Contender: `orgpulse serve` on loopback receiving the
Segment messages as /v1/batch requests of 500, from ``--concurrency`` client threads; this path also
validates, attributes, de-duplicates and updates the rollups in the same transaction.
Prints a Markdown table row for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from harness import bench_database, server
from sqlalchemy import text

from orgpulse.auth import create_write_key
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine, owner_engine
from orgpulse.core.ids import uuid7
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, unscoped

BATCH = 500


def make_messages(events: int, orgs: int, now: datetime) -> tuple[list[dict], list[dict]]:
    setup, activity = [], []
    members_per_org = 40
    for o in range(orgs):
        setup.append(
            {
                "type": "group",
                "groupId": f"b-org-{o}",
                "userId": f"b-{o}-0",
                "traits": {"name": f"Bench Org {o}"},
                "messageId": f"b-g-{o}",
                "timestamp": now.isoformat(),
            }
        )
        for m in range(members_per_org):
            setup.append(
                {
                    "type": "identify",
                    "userId": f"b-{o}-{m}",
                    "context": {"groupId": f"b-org-{o}"},
                    "traits": {"role": "teacher"},
                    "messageId": f"b-i-{o}-{m}",
                    "timestamp": now.isoformat(),
                }
            )
    names = [
        "Login",
        "Assignment Created",
        "Submission Created",
        "Submission Scored",
        "Upload Started",
    ]
    for i in range(events):
        o = i % orgs
        ts = now - timedelta(minutes=(i * 7) % (60 * 24 * 60))
        activity.append(
            {
                "type": "track",
                "userId": f"b-{o}-{i % members_per_org}",
                "event": names[i % 5],
                "context": {"groupId": f"b-org-{o}"},
                "properties": {"n": i, "source": "bench"},
                "messageId": f"b-t-{i}",
                "timestamp": ts.isoformat(),
            }
        )
    return setup, activity


def baseline_copy(settings: Settings, activity: list[dict], now: datetime) -> float:
    """COPY the equivalent event rows in batches of 500 (one transaction each)."""
    engine = app_engine(settings)
    with unscoped(engine) as conn:
        org_ids = dict(
            conn.execute(
                text("SELECT external_id, org_id FROM directory_groups WHERE unit_id IS NULL")
            ).all()
        )
    rows = []
    for m in activity:
        ts = datetime.fromisoformat(m["timestamp"])
        rows.append(
            (
                org_ids[m["context"]["groupId"]],
                ts,
                uuid7(int(ts.timestamp() * 1000)),
                "copy-" + m["messageId"],
                "track",
                m["event"],
                None,
                None,
                None,
                now,
                orjson.dumps(m["properties"]).decode(),
                orjson.dumps(m["context"]).decode(),
            )
        )
    # COPY FROM is refused under row-level security, so the baseline runs as the owner.
    start = time.perf_counter()
    raw = owner_engine(settings).raw_connection()
    try:
        for i in range(0, len(rows), BATCH):
            with raw.cursor() as cur:
                cur.execute(
                    "SELECT set_config('orgpulse.org_ids', %s, true)",
                    (",".join(str(o) for o in org_ids.values()),),
                )
                with cur.copy(
                    "COPY events (org_id, event_time, event_id, message_id, type, name, member_id,"
                    " unit_id, anonymous_id, received_at, properties, context) FROM STDIN"
                ) as copy:
                    for row in rows[i : i + BATCH]:
                        copy.write_row(row)
            raw.commit()
    finally:
        raw.close()
    return len(rows) / (time.perf_counter() - start)


def http_ingest(url: str, key: str, messages: list[dict], concurrency: int) -> float:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    bodies = [
        orjson.dumps({"batch": messages[i : i + BATCH], "sentAt": datetime.now(UTC).isoformat()})
        for i in range(0, len(messages), BATCH)
    ]

    def send(body: bytes) -> int:
        with httpx.Client(timeout=60) as client:
            r = client.post(
                f"{url}/v1/batch",
                content=body,
                headers={"Authorization": auth, "Content-Type": "application/json"},
            )
            r.raise_for_status()
            return int(r.json()["accepted"])

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        accepted = sum(pool.map(send, bodies))
    elapsed = time.perf_counter() - start
    assert accepted == len(messages), f"accepted {accepted} of {len(messages)}"
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with bench_database("orgpulse_bench") as (settings, db_url):
        run(args, settings, db_url)


def run(args: argparse.Namespace, settings: Settings, db_url: str) -> None:
    """Measure both paths against the fresh database ``db_url``; print the result row."""
    now = datetime.now(UTC)
    setup, activity = make_messages(args.events, args.orgs, now)
    with unscoped(app_engine(settings)) as conn:
        key = create_write_key(conn, name="bench")

    with server(settings, db_url, args.workers) as url:
        http_ingest(url, key, setup, 1)  # orgs and members first (not timed)
        copy_rate = baseline_copy(settings, activity, now)
        with owner_engine(settings).begin() as conn:
            conn.execute(text("DELETE FROM events WHERE message_id LIKE 'copy-%'"))
        http_rate = http_ingest(url, key, activity, args.concurrency)
        with unscoped(app_engine(settings)) as conn:
            apply_scope(conn, TenantScope.of(all_org_ids(conn)))
            counted = conn.execute(
                text("SELECT sum(events) FROM rollup_daily_events WHERE name NOT LIKE '$%'")
            ).scalar()
        assert counted == args.events, f"rollups count {counted}, expected {args.events}"
    ratio = http_rate / copy_rate
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"| {datetime.now(UTC):%Y-%m-%d} | {args.events:,} events, {args.orgs} orgs | "
        f"{copy_rate:,.0f} rows/s | {http_rate:,.0f} events/s (c={args.concurrency}, "
        f"workers={args.workers}) | {ratio:.0%} |"
    )


if __name__ == "__main__":
    main()
