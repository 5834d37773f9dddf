"""Member activity CSV export of 1M rows: OrgPulse's streaming paths vs COPY, in one run.

    python bench/export.py [--rows 1000000] [--members 500] [--names 5] [--yield-per 2000]

Data (a scratch database): one org with 20 schools and ``--members`` members created through the
real ingestion service in-process, then ``--rows`` rows of ``rollup_member_events`` (members ×
days × event names, one per member, day and name) filled with ``generate_series`` as the owner.
That table is what the member activity export reads (``orgpulse.exports.activity``); the window
is exactly the days filled, so every variant exports the same ``--rows`` rows.

Variants, each in a process of its own so their peak memory does not mix (``VmHWM`` from
``/proc``), run in this order:

1. baseline: ``COPY (SELECT …) TO STDOUT WITH CSV`` of the export's own SELECT, through the
   product's ``copy_csv`` (tenant-scoped, row-level security on), bytes counted as they arrive;
2. ``stream_csv`` in-process: ``activity_csv`` (server-side cursor, ``yield_per`` rows a batch,
   cells encoded and formula-neutralised in Python), chunks consumed as a response would;
3. HTTP: ``GET /api/v1/orgs/{org}/activity.csv`` from ``orgpulse serve --workers 1`` on
   loopback, as an org admin with an API token, read by a streaming client. The server's memory
   is read from its ``/proc`` entry while the response streams.

Memory: resident set size before the first row, after 100k rows and after the last row, and the
peak since the first row (the process's peak is reset then); "growth" is that peak minus the size
before the first row (bar: < 50 MB). Throughput: rows per second from the request to the last
byte (bar: ≥ 100k rows/s). Prints Markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from harness import bench_database, bench_settings, log, server_process
from sqlalchemy import text

from orgpulse.auth import Role, create_api_token, create_user
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine, owner_engine
from orgpulse.core.tenancy import TenantScope, apply_scope, unscoped
from orgpulse.exports.activity import ActivityExport, activity_copy, activity_csv
from orgpulse.ingestion import ingest

ORG = "bx-org"
UNITS = 20
NAMES = ["Login", "$page", "Assignment Created", "Submission Created", "Lesson Completed",
         "Upload Started", "Roster Sync Completed", "Course Enrolled"]
CHECKPOINT = 100_000
MB = 1024 * 1024

FILL_ROLLUP = text(
    """
    INSERT INTO rollup_member_events (org_id, day, member_id, name, unit_id, events)
    SELECT m.org_id, CAST(:since AS date) + g.d, m.member_id, n.name, COALESCE(m.unit_id, 0),
           1 + (m.member_id + g.d) % 7
    FROM members m
    CROSS JOIN generate_series(0, CAST(:days AS int) - 1) AS g(d)
    CROSS JOIN unnest(CAST(:names AS text[])) AS n(name)
    WHERE m.org_id = :org
    ORDER BY 1, 2, 3, 4
    """
)


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


# ---------------------------------------------------------------------------- data
def build(settings: Settings, *, members: int, rows: int, names: int) -> ActivityExport:
    """One org, its schools and members through ingestion; ``rows`` rollup rows as the owner."""
    if rows % (members * names):
        raise SystemExit(f"--rows must be a multiple of members × names ({members * names})")
    days = rows // (members * names)
    until = datetime.now(UTC).date() - timedelta(days=1)
    since = until - timedelta(days=days - 1)
    ts = datetime.now(UTC).isoformat()
    phases: list[list[dict[str, Any]]] = [
        [{"type": "group", "groupId": ORG, "traits": {"name": "Bench Export District"},
          "messageId": "bx-g", "timestamp": ts}],
        [{"type": "group", "groupId": f"{ORG}-s{u}",
          "traits": {"name": f"School {u:02d}", "kind": "school", "parent_group_id": ORG},
          "messageId": f"bx-u-{u}", "timestamp": ts} for u in range(UNITS)],
        [{"type": "identify", "userId": f"{ORG}-m{m}", "context": {"groupId": ORG},
          "traits": {"role": "teacher" if m % 4 == 0 else "student",
                     "unit": f"{ORG}-s{m % UNITS}", "name": f"Member {m}"},
          "messageId": f"bx-i-{m}", "timestamp": ts} for m in range(members)],
    ]
    engine = app_engine(settings)
    for phase in phases:
        for i in range(0, len(phase), 500):
            result = ingest(engine=engine, settings=settings, body={"batch": phase[i : i + 500]},
                            source="bench")
            assert not result.rejections, result.rejections[:3]
    with unscoped(engine) as conn:
        org_id = int(conn.execute(
            text("SELECT org_id FROM directory_groups WHERE external_id = :e AND unit_id IS NULL"),
            {"e": ORG},
        ).scalar_one())
    with owner_engine(settings).begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        apply_scope(conn, TenantScope.of([org_id]))
        conn.execute(FILL_ROLLUP, {"org": org_id, "since": since, "days": days,
                                   "names": NAMES[:names]})
        filled = conn.execute(
            text("SELECT count(*) FROM rollup_member_events"
                 " WHERE org_id = :o AND day BETWEEN :since AND :until"),
            {"o": org_id, "since": since, "until": until},
        ).scalar_one()
    assert filled == rows, f"{filled} rows in the window, expected {rows}"
    with owner_engine(settings).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE rollup_member_events"))
        c.execute(text("VACUUM ANALYZE members"))
    return ActivityExport(org_id=org_id, since=since, until=until, unit_ids=None)


def org_admin_token(settings: Settings, org_id: int) -> str:
    with unscoped(app_engine(settings)) as conn:
        user = create_user(conn, email="admin@bench-export.test", password=None,
                           display_name="Export Admin", role=Role.ORG_ADMIN, org_id=org_id)
        return create_api_token(conn, user_id=user, name="bench")


# ---------------------------------------------------------------------------- one variant
@dataclass
class Meter:
    """Counts rows (CSV lines after the header) and samples memory at 100k rows and the end."""

    pid: int | str
    rows: int = -1  # the header line is not a row
    bytes: int = 0
    at_checkpoint: int | None = None

    def __post_init__(self) -> None:
        # Reset the peak to the current size (Linux ≥ 4.0): start-up peaks (imports, a server's
        # start) are not the export's.
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")
        self.before = proc_status(self.pid)["VmRSS"]

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        self.rows += chunk.count(b"\n")
        if self.at_checkpoint is None and self.rows >= CHECKPOINT:
            self.at_checkpoint = proc_status(self.pid)["VmRSS"]

    def result(self, seconds: float) -> dict[str, Any]:
        end = proc_status(self.pid)
        return {"rows": self.rows, "bytes": self.bytes, "seconds": seconds,
                "rss_before": self.before, "rss_100k": self.at_checkpoint,
                "rss_end": end["VmRSS"], "peak": end["VmHWM"]}


def consume(meter: Meter, chunks: Iterable[bytes]) -> dict[str, Any]:
    start = time.perf_counter()
    for chunk in chunks:
        meter.feed(chunk)
    return meter.result(time.perf_counter() - start)


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one variant in this process and return its measurements."""
    settings = bench_settings(args.db_url)
    export = ActivityExport(org_id=args.org, since=date.fromisoformat(args.since),
                            until=date.fromisoformat(args.until), unit_ids=None)
    scope = TenantScope.of([args.org])
    engine = app_engine(settings)
    with engine.connect():  # the pool's first connection is not part of the export
        pass
    if args.child == "copy":
        return consume(Meter("self"), activity_copy(engine=engine, scope=scope, export=export))
    if args.child == "stream":
        chunks = activity_csv(engine=engine, scope=scope, export=export, yield_per=args.yield_per)
        return consume(Meter("self"), (c.encode() for c in chunks))
    # http: this process is the client; the meter reads the server's memory.
    meter = Meter(args.server_pid)
    path = f"/api/v1/orgs/{ORG}/activity.csv?from={export.since}&to={export.until}"
    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=600) as client:
        start = time.perf_counter()
        with client.stream("GET", path) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(64 * 1024):
                meter.feed(chunk)
        return meter.result(time.perf_counter() - start)


def run_child(variant: str, common: list[str], extra: Sequence[str] = ()) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", variant, *common, *extra]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--names", type=int, default=5, choices=range(1, len(NAMES) + 1))
    parser.add_argument("--yield-per", type=int, default=2000)
    # Internal: one variant in a child process.
    for name in ("--child", "--db-url", "--org", "--since", "--until", "--url", "--token",
                 "--server-pid"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.org = int(args.org)
        print(json.dumps(child(args)))
        return
    with bench_database("orgpulse_bench_export") as (settings, db_url):
        run(args, settings, db_url)


def run(args: argparse.Namespace, settings: Settings, db_url: str) -> None:
    log(f"building {args.rows:,} rollup rows ({args.members} members × {args.names} names)")
    export = build(settings, members=args.members, rows=args.rows, names=args.names)
    token = org_admin_token(settings, export.org_id)
    common = ["--db-url", db_url, "--org", str(export.org_id), "--since", str(export.since),
              "--until", str(export.until), "--yield-per", str(args.yield_per)]
    results: dict[str, dict[str, Any]] = {}
    log("baseline: COPY … TO STDOUT")
    results["copy"] = run_child("copy", common)
    log("stream_csv in-process")
    results["stream"] = run_child("stream", common)
    with server_process(settings, db_url, 1) as (url, proc):
        log("HTTP export from orgpulse serve")
        results["http"] = run_child(
            "http", common, ["--url", url, "--token", token, "--server-pid", str(proc.pid)]
        )
    for variant, r in results.items():
        assert r["rows"] == args.rows, f"{variant}: {r['rows']} rows, expected {args.rows}"
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    def rate(r: dict[str, Any]) -> float:
        return float(r["rows"]) / float(r["seconds"])

    def mb(value: int | None) -> str:
        return "—" if value is None else f"{value / MB:.1f} MB"

    base = rate(results["copy"])
    labels = {
        "copy": "baseline: `COPY (SELECT …) TO STDOUT WITH CSV` (`copy_csv`)",
        "stream": f"`stream_csv` in-process (`activity_csv`, yield_per={args.yield_per})",
        "http": "HTTP `GET /api/v1/orgs/{org}/activity.csv` (server's memory)",
    }
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for variant, r in results.items():
        print(f"  {variant:6s} {r['rows']:,} rows, {r['bytes'] / MB:.1f} MB of CSV in "
              f"{r['seconds']:.2f} s; RSS before {mb(r['rss_before'])}, "
              f"at 100k {mb(r['rss_100k'])}, end {mb(r['rss_end'])}, peak {mb(r['peak'])}")
    print("| date | variant | rows/s | vs COPY | RSS before → 100k → 1M rows | peak "
          "| growth (bar < 50 MB) | rate bar ≥ 100k rows/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for variant, r in results.items():
        growth = r["peak"] - r["rss_before"]
        print(
            f"| {datetime.now(UTC):%Y-%m-%d} | {labels[variant]} | {rate(r):,.0f} | "
            f"{rate(r) / base:.0%} | {mb(r['rss_before'])} → {mb(r['rss_100k'])} → "
            f"{mb(r['rss_end'])} | {mb(r['peak'])} | {mb(growth)} "
            f"({'met' if growth < 50 * MB else '**not met**'}) | "
            f"{'met' if rate(r) >= 100_000 else '**not met**'} |"
        )


if __name__ == "__main__":
    main()
