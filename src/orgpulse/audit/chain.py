"""Verify the audit records' hash chain, recomputing every hash in Python.

The database chains each record in a BEFORE INSERT trigger (migration 0004). Verification does
not call that SQL: it rebuilds the canonical serialization from the stored fields here, so a
replaced digest function in the database cannot vouch for its own records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, text

# The trigger's advisory lock class (see migration 0004).
CHAIN_LOCK_CLASS = 24949
GENESIS = bytes(32)
_TAG = b"orgpulse-audit-v1"

_PAGE = text(
    "SELECT audit_id, at, actor_user_id, actor_kind, org_id, action, target, outcome,"
    " CAST(details AS text) AS details, request_id, ip, query_type, cohort_size, suppressed,"
    " export_kind, prev_hash, hash"
    " FROM audit_records WHERE audit_id > :after ORDER BY audit_id LIMIT :limit"
)


def _field(value: str | None) -> bytes:
    if value is None:
        return b"-"
    raw = value.encode("utf-8")
    return str(len(raw)).encode("ascii") + b":" + raw


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def canonical(fields: Sequence[object]) -> bytes:
    """Serialize a record's fields (in the migration's order) as the chain hashes them."""
    return _TAG + b"".join(_field(_text(v)) for v in fields)


def record_hash(fields: Sequence[object], prev_hash: bytes) -> bytes:
    """Return SHA-256 over the canonical serialization followed by the previous hash."""
    return hashlib.sha256(canonical(fields) + prev_hash).digest()


@dataclass(frozen=True)
class BrokenLink:
    audit_id: int
    problem: Literal["prev_hash mismatch", "hash mismatch"]
    expected: bytes
    stored: bytes


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken: BrokenLink | None
    head: bytes  # the last verified record's hash (GENESIS for an empty table)

    @property
    def intact(self) -> bool:
        return self.broken is None


def count_records(*, engine: Engine) -> int:
    """Return how many audit records there are (the progress bar's total)."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_records")).scalar_one())


def verify_chain(
    *,
    engine: Engine,
    page_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute the chain in audit_id order; stop at the first broken link.

    Reads keyset pages, one short transaction each, so a large table is never held in memory
    nor in one long snapshot. Run it as the owner: the app role's view is the same today (the
    table has no row-level security), but verification must never depend on a role's reach.
    """
    checked, after, prev = 0, 0, GENESIS
    while True:
        with engine.connect() as conn:
            rows = conn.execute(_PAGE, {"after": after, "limit": page_size}).all()
        for row in rows:
            checked += 1
            stored_prev, stored_hash = bytes(row.prev_hash), bytes(row.hash)
            if stored_prev != prev:
                link = BrokenLink(row.audit_id, "prev_hash mismatch", prev, stored_prev)
                return ChainReport(checked=checked, broken=link, head=prev)
            expected = record_hash(row[:15], prev)
            if stored_hash != expected:
                link = BrokenLink(row.audit_id, "hash mismatch", expected, stored_hash)
                return ChainReport(checked=checked, broken=link, head=prev)
            prev = stored_hash
        if progress is not None and rows:
            progress(len(rows))
        if len(rows) < page_size:
            return ChainReport(checked=checked, broken=None, head=prev)
        after = rows[-1].audit_id
