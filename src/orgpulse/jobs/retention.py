"""Retention: drop raw event partitions past the policy; rollups, snapshots and audit stay.

The run is a list of steps, each reporting what it would do (dry run) or did. Raw events are the
only thing dropped here: rollups and health snapshots are what dashboards read and are kept (at
least two years: no step touches them), audit records are append-only and never touched (seven
years and more).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, text

from orgpulse.core.config import Settings
from orgpulse.core.migrate import partition_months

PARTITION_NAME = re.compile(r"^events_(\d{4})_(\d{2})$")
KEPT = (
    "kept: rollups and health snapshots (not touched by retention: at least 2 years)",
    "kept: audit records (append-only, never touched: at least 7 years)",
)


@dataclass(frozen=True)
class RetentionContext:
    """What a step needs: an owner connection, the time, the policy and whether to only report."""

    conn: Connection
    now: datetime
    settings: Settings
    dry_run: bool


RetentionStep = Callable[[RetentionContext], list[str]]


def _event_partitions(conn: Connection) -> list[tuple[str, date]]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
            " ORDER BY c.relname"
        )
    )
    found = []
    for (name,) in rows:
        match = PARTITION_NAME.match(name)
        if match:
            found.append((name, date(int(match[1]), int(match[2]), 1)))
    return found


def first_kept_month(*, settings: Settings, now: datetime) -> date:
    """The oldest month whose partition is kept: the one partition maintenance starts from.

    Every event in an earlier month is older than ``retention_days`` (ingest rejects those), and
    using the same boundary as ``ensure_partitions`` means the hourly job never recreates what
    retention just dropped.
    """
    return partition_months(settings, now.date())[0]


def drop_expired_partitions(ctx: RetentionContext) -> list[str]:
    """Drop (or list, on a dry run) every monthly events partition before the first kept month."""
    first = first_kept_month(settings=ctx.settings, now=ctx.now)
    horizon = ctx.now - timedelta(days=ctx.settings.retention_days)
    lines = [
        f"policy: raw events kept {ctx.settings.retention_days} days"
        f" (horizon {horizon:%Y-%m-%d}); partitions from {first:%Y-%m} are kept"
    ]
    expired = [name for name, start in _event_partitions(ctx.conn) if start < first]
    for name in expired:
        if ctx.dry_run:
            lines.append(f"would drop partition {name}")
        else:
            # The name comes from the catalog and matched PARTITION_NAME: not user input.
            ctx.conn.execute(text(f"DROP TABLE {name}"))
            lines.append(f"dropped partition {name}")
    if not expired:
        lines.append("no event partition is past the policy")
    return lines


def purge_support_context(ctx: RetentionContext) -> list[str]:
    """Erase the context and screenshots of support requests past their retention."""
    from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope
    from orgpulse.ops.support import purge_expired_support_context

    days = ctx.settings.support_context_retention_days
    # The owner connection is under forced row-level security too: every org, for this step.
    apply_scope(ctx.conn, TenantScope.all_orgs(all_org_ids(ctx.conn), user_id=None))
    cutoff = ctx.now - timedelta(days=days)
    if ctx.dry_run:
        count = ctx.conn.execute(
            text(
                "SELECT count(*) FROM support_requests"
                " WHERE created_at < :cutoff AND context_purged_at IS NULL"
            ),
            {"cutoff": cutoff},
        ).scalar_one()
        return [f"would purge the context of {count} support request(s) older than {days} days"]
    count = purge_expired_support_context(conn=ctx.conn, now=ctx.now, retention_days=days)
    return [f"purged the context of {count} support request(s) older than {days} days"]


# The steps of a run, in order. A slice with data under a retention rule appends its step here.
RETENTION_STEPS: list[RetentionStep] = [drop_expired_partitions, purge_support_context]


def summary(lines: list[str]) -> str:
    """One line for ``job_runs``: the report without its header and kept lines, drops counted."""
    parts: list[str] = []
    drops: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line.startswith("kept:"):
            continue
        for verb in ("would drop", "dropped"):
            prefix = f"{verb} partition "
            if line.startswith(prefix):
                if verb not in drops:
                    drops[verb] = []
                    parts.append(verb)
                drops[verb].append(line.removeprefix(prefix))
                break
        else:
            parts.append(line)
    for verb, names in drops.items():
        text_ = f"{verb} partition {names[0]}"
        if len(names) > 1:
            text_ = f"{verb} {len(names)} partitions ({names[0]} … {names[-1]})"
        parts[parts.index(verb)] = text_
    return "; ".join(parts)


def run_retention(
    conn: Connection, *, settings: Settings, now: datetime, dry_run: bool
) -> list[str]:
    """Run every retention step on one owner connection; return the report, one line each."""
    ctx = RetentionContext(conn=conn, now=now, settings=settings, dry_run=dry_run)
    lines = [f"retention {'dry run' if dry_run else 'run'} at {now:%Y-%m-%dT%H:%M:%SZ}"]
    for step in RETENTION_STEPS:
        lines.extend(step(ctx))
    lines.extend(KEPT)
    return lines
