"""Write validated messages: attribute them to orgs, units and members, store each once, and
update the rollups from the newly inserted rows, all in the caller's transaction.

Order inside one transaction:
1. resolve every groupId / userId through the routing directory (no tenant context needed);
2. create the orgs and units that ``group`` calls introduce (directory first, for the org id);
3. open the tenant context for exactly the orgs this batch touches;
4. upsert orgs/units/members (profile updates only when newer: replays and out-of-order
   messages cannot roll a profile back);
5. take the orgs' projection locks (shared: a rebuild of an org takes it exclusively), then
   insert into ``event_dedup`` → ``events`` → rollups in one statement, so only rows that were
   new are counted;
6. hold what no org can be found for, and re-attribute held messages whose group or user
   became known.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection

from orgpulse.catalog import Catalog
from orgpulse.core.tenancy import TenantScope, apply_scope, require_org
from orgpulse.ingestion import queries as q
from orgpulse.ingestion.validation import Message, Rejection

PARENT_TRAITS = ("parent_group_id", "parentGroupId")
MAX_REATTRIBUTION_ROUNDS = 3
LAST_SEEN_RESOLUTION = timedelta(hours=1)
_NEVER = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass
class IngestResult:
    """What happened to a batch: every message sent lands in exactly one bucket."""

    accepted: int = 0
    duplicates: int = 0
    unattributed: int = 0
    reattributed: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    org_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unattributed": self.unattributed,
            "reattributed": self.reattributed,
            "rejected": len(self.rejections),
            "rejections": [r.as_dict() for r in self.rejections],
        }


@dataclass(frozen=True)
class Projections:
    """The catalog's pairs and funnels, as the JSON documents the events statement expands."""

    pairs: str = "[]"
    funnels: str = "[]"

    @classmethod
    def of(cls, catalog: Catalog) -> Projections:
        return cls(
            pairs=orjson.dumps(
                [{"pair": k, **p.model_dump()} for k, p in sorted(catalog.pairs.items())]
            ).decode(),
            funnels=orjson.dumps(
                [{"funnel": k, **f.model_dump()} for k, f in sorted(catalog.funnels.items())]
            ).decode(),
        )


NO_PROJECTIONS = Projections()


@dataclass(frozen=True)
class ProjectedRows:
    """Events read and rows written per rollup/projection table by one projection."""

    events: int
    rows: dict[str, int]


@dataclass
class _Group:
    org_id: int
    unit_id: int | None


def slugify(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:60] or "org"


def _parent_of(msg: Message) -> str | None:
    for key in PARENT_TRAITS:
        value = msg.traits.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _trait_str(traits: dict[str, Any], key: str) -> str | None:
    value = traits.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()[:200]
    return None


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _timezone(traits: dict[str, Any]) -> str | None:
    """Return the group's IANA timezone trait, or None when absent or not a known zone."""
    zone = _trait_str(traits, "timezone")
    return zone if zone in _known_zones() else None


def _jsonb(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


class _Batch:
    def __init__(self, conn: Connection, result: IngestResult, projections: Projections) -> None:
        self.conn = conn
        self.projections = projections
        self.result = result
        self.groups: dict[str, _Group] = {}
        self.users: dict[str, int] = {}  # external user id → org of its latest association
        self.associated_at: dict[str, datetime] = {}  # … and when that association was made
        self.new_group_ids: set[str] = set()
        self.new_user_ids: set[str] = set()

    # ---------------------------------------------------------------- directory
    def load_directory(self, messages: list[Message]) -> None:
        group_ids = {m.group_id for m in messages if m.group_id}
        group_ids |= {p for m in messages if m.type == "group" and (p := _parent_of(m))}
        group_ids |= {
            u for m in messages if m.type == "identify" and (u := _trait_str(m.traits, "unit"))
        }
        wanted = sorted(group_ids - self.groups.keys())
        if wanted:
            rows = self.conn.execute(
                q.GROUPS_BY_EXTERNAL_ID,
                {"ids": wanted},
            )
            for ext, org_id, unit_id in rows:
                self.groups[ext] = _Group(org_id, unit_id)
        users = sorted({m.user_id for m in messages if m.user_id} - self.users.keys())
        if users:
            rows = self.conn.execute(
                q.MEMBERS_BY_EXTERNAL_ID,
                {"ids": users},
            )
            for ext, org_id, associated_at in rows:
                self.users[ext] = org_id
                self.associated_at[ext] = associated_at

    def _associate(self, msg: Message, org_id: int) -> None:
        """Attribute the group call's user to ``org_id`` unless a newer association is known, so
        a late group call cannot move a user back (the directory upsert applies the same rule)."""
        user = msg.user_id
        if user is not None and msg.event_time > self.associated_at.get(user, _NEVER):
            self.users[user] = org_id
            self.associated_at[user] = msg.event_time

    def _unit_row(self, org_id: int, group_id: str, msg: Message, name: str | None) -> None:
        """Queue a unit upsert; name and kind stay as they are when the call does not give them."""
        previous = self._unit_rows.get((org_id, group_id), {})
        self._unit_rows[(org_id, group_id)] = {
            "org_id": org_id,
            "external_id": group_id,
            "name": name or previous.get("name"),
            "kind": _trait_str(msg.traits, "kind") or previous.get("kind"),
            "traits": {**previous.get("traits", {}), **msg.traits},
            "profile_at": msg.event_time,
        }

    def _new_org(self, external_id: str, name: str | None) -> int:
        org_id = self.conn.execute(q.NEXT_ORG_ID).scalar_one()
        base = slugify(name or external_id)
        while True:
            taken = {
                r[0]
                for r in self.conn.execute(
                    q.SLUGS_LIKE,
                    {"s": base, "p": base + "-%"},
                )
            }
            slug, n = base, 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            # No conflict target: a concurrent batch may take this external id *or* this slug.
            row = self.conn.execute(
                q.INSERT_ORG_DIRECTORY,
                {"e": external_id, "o": org_id, "s": slug},
            ).first()
            if row is not None:
                break
            existing = self.conn.execute(
                q.GROUP_BY_EXTERNAL_ID,
                {"e": external_id},
            ).first()
            if existing is not None:  # created concurrently by another batch
                self.groups[external_id] = _Group(existing[0], existing[1])
                return int(existing[0])
            # Only the slug was taken concurrently (it is committed now): pick the next one.
        self.groups[external_id] = _Group(org_id, None)
        self.new_group_ids.add(external_id)
        self._org_rows[org_id] = {
            "org_id": org_id,
            "external_id": external_id,
            "slug": slug,
            "name": external_id,
            "traits": {},
            "timezone": "UTC",
            "profile_at": None,
        }
        return int(org_id)

    # ---------------------------------------------------------------- group calls
    def apply_groups(self, messages: list[Message]) -> list[Message]:
        """Create/update orgs and units named by group calls; return the messages still valid."""
        self._org_rows: dict[int, dict[str, Any]] = {}
        self._unit_rows: dict[tuple[int, str], dict[str, Any]] = {}
        keep: list[Message] = []
        for msg in sorted(messages, key=lambda m: m.event_time):
            if msg.type != "group":
                keep.append(msg)
                continue
            if msg.group_id is None:  # validation guarantees one; never reached
                continue
            parent = _parent_of(msg)
            known = self.groups.get(msg.group_id)
            name = _trait_str(msg.traits, "name")
            if parent is not None and parent != msg.group_id:
                # Decide before creating anything: a rejected call must leave no trace (such
                # as a parent org made up from its parent_group_id).
                parent_group = self.groups.get(parent)
                reason = None
                if parent_group is not None and parent_group.unit_id is not None:
                    reason = f"parent group {parent!r} is a unit"
                elif known is not None and known.unit_id is None:
                    reason = f"group {msg.group_id!r} is an organization; it cannot become a unit"
                elif known is not None and (
                    parent_group is None or known.org_id != parent_group.org_id
                ):
                    reason = (
                        f"unit {msg.group_id!r} belongs to another organization; "
                        "moving units between organizations is not supported"
                    )
                if reason is not None:
                    self.result.rejections.append(Rejection(msg.index, msg.message_id, reason))
                    continue
                if parent_group is None:
                    self._new_org(parent, None)
                    parent_group = self.groups[parent]
                self._associate(msg, parent_group.org_id)
                self._unit_row(parent_group.org_id, msg.group_id, msg, name)
            elif known is not None and known.unit_id is not None:
                self._associate(msg, known.org_id)
                self._unit_row(known.org_id, msg.group_id, msg, name)
            else:
                org_id = known.org_id if known else self._new_org(msg.group_id, name)
                row = self._org_rows.get(org_id)
                if row is None:
                    row = {"org_id": org_id, "external_id": msg.group_id}
                    self._org_rows[org_id] = row
                self._associate(msg, org_id)
                # A group call without a name or timezone (e.g. one that only associates a user)
                # keeps the org's current ones.
                row.update(
                    name=name or row.get("name"),
                    traits={**(row.get("traits") or {}), **msg.traits},
                    timezone=_timezone(msg.traits) or row.get("timezone"),
                    profile_at=msg.event_time,
                )
            keep.append(msg)
        return keep

    def write_profiles(self) -> None:
        """Upsert org and unit rows (inside the tenant context); register new units."""
        for row in self._org_rows.values():
            params = {
                "slug": None,
                "name": None,
                "timezone": None,
                "profile_at": None,
                **row,
                "traits": _jsonb(row.get("traits") or {}),
            }
            self.conn.execute(
                q.UPSERT_ORG,
                params,
            )
        for row in self._unit_rows.values():
            unit_id = self.conn.execute(
                q.UPSERT_UNIT,
                {**row, "traits": _jsonb(row["traits"])},
            ).scalar_one()
            ext = row["external_id"]
            if ext not in self.groups or self.groups[ext].unit_id is None:
                self.conn.execute(
                    q.INSERT_UNIT_DIRECTORY,
                    {"e": ext, "o": row["org_id"], "u": unit_id},
                )
                self.groups[ext] = _Group(row["org_id"], unit_id)
                self.new_group_ids.add(ext)

    # ---------------------------------------------------------------- attribution
    def attribute(
        self, messages: list[Message]
    ) -> tuple[list[tuple[Message, int, int | None]], list[tuple[Message, str]]]:
        placed: list[tuple[Message, int, int | None]] = []
        held: list[tuple[Message, str]] = []
        for msg in messages:
            if msg.group_id is not None:
                group = self.groups.get(msg.group_id)
                if group is None:
                    held.append((msg, f"unknown groupId {msg.group_id!r}"))
                else:
                    placed.append((msg, group.org_id, group.unit_id))
            elif msg.user_id is not None and msg.user_id in self.users:
                placed.append((msg, self.users[msg.user_id], None))
            else:
                held.append((msg, "no context.groupId and no known org for this user"))
        return placed, held

    def scope_orgs(self, placed: Iterable[tuple[Message, int, int | None]]) -> set[int]:
        org_ids = {org_id for _, org_id, _ in placed}
        org_ids |= {g.org_id for g in self.groups.values()}
        org_ids |= set(self.users.values())
        return org_ids

    def upsert_members(
        self, placed: list[tuple[Message, int, int | None]]
    ) -> dict[tuple[int, str], tuple[int, int | None]]:
        """Create/refresh members; return (org, user) → (member id, unit id)."""
        agg: dict[tuple[int, str], dict[str, Any]] = {}
        for msg, org_id, unit_id in placed:
            if msg.user_id is None:
                continue
            key = (org_id, msg.user_id)
            entry = agg.get(key)
            if entry is None:
                entry = agg[key] = {
                    "first": msg.event_time,
                    "last": msg.event_time,
                    "profile_at": None,
                    "traits": {},
                    "role": None,
                    "unit": None,
                    "associated_at": _NEVER,
                }
            entry["first"] = min(entry["first"], msg.event_time)
            entry["last"] = max(entry["last"], msg.event_time)
            profile_unit = None
            if msg.type == "identify":
                unit_ext = _trait_str(msg.traits, "unit")
                group = self.groups.get(unit_ext) if unit_ext else None
                if group is not None and group.org_id == org_id:
                    profile_unit = group.unit_id
            elif msg.type == "group":
                profile_unit = unit_id
                entry["associated_at"] = max(entry["associated_at"], msg.event_time)
            if msg.type in ("identify", "group") and (
                entry["profile_at"] is None or msg.event_time >= entry["profile_at"]
            ):
                entry["profile_at"] = msg.event_time
                if msg.type == "identify":
                    entry["traits"] = {**entry["traits"], **msg.traits}
                    entry["role"] = _trait_str(msg.traits, "role") or entry["role"]
                entry["unit"] = profile_unit or entry["unit"]
        if not agg:
            return {}
        keys = sorted(agg)
        members = self._existing_members(keys, agg)
        writes = [k for k in keys if k not in members]
        if writes:
            rows = self.conn.execute(
                q.UPSERT_MEMBERS,
                {
                    "rows": orjson.dumps(
                        [
                            {
                                "org_id": k[0],
                                "external_user_id": k[1],
                                "first_seen_at": agg[k]["first"],
                                "last_seen_at": agg[k]["last"],
                                "profile_at": agg[k]["profile_at"],
                                "traits": agg[k]["traits"],
                                "role": agg[k]["role"],
                                "unit_id": agg[k]["unit"],
                            }
                            for k in writes
                        ]
                    ).decode()
                },
            )
            members.update({(r[0], r[1]): (r[2], r[3]) for r in rows})
        # Only users the directory does not know yet, or whom a group call (re)associates.
        keys = [k for k in keys if k[1] not in self.users or agg[k]["associated_at"] > _NEVER]
        if not keys:
            return members
        dir_rows = self.conn.execute(
            q.UPSERT_MEMBER_DIRECTORY,
            self._latest_associations(keys, agg, members),
        )
        for user, org_id, associated_at, inserted in dir_rows:
            self.users[user] = org_id
            self.associated_at[user] = associated_at
            if inserted:
                self.new_user_ids.add(user)
        return members

    def _existing_members(
        self, keys: list[tuple[int, str]], agg: dict[tuple[int, str], dict[str, Any]]
    ) -> dict[tuple[int, str], tuple[int, int | None]]:
        """Return known members that need no write (read-only: no row locks, no new versions).

        A member needs a write when a profile message is newer than its profile, when an event
        predates its first-seen time, or when its last-seen time lags by more than
        ``LAST_SEEN_RESOLUTION`` — refreshing it on every batch would rewrite the row each time.
        """
        rows = self.conn.execute(
            q.EXISTING_MEMBERS,
            {
                "keys": orjson.dumps(
                    [{"org_id": o, "external_user_id": u} for o, u in keys]
                ).decode()
            },
        )
        fresh: dict[tuple[int, str], tuple[int, int | None]] = {}
        for org_id, user, member_id, unit_id, first, last, profile_at in rows:
            entry = agg[(org_id, user)]
            stale = (
                (
                    entry["profile_at"] is not None
                    and (profile_at is None or entry["profile_at"] >= profile_at)
                )
                or first is None
                or entry["first"] < first
                or last is None
                or entry["last"] > last + LAST_SEEN_RESOLUTION
            )
            if not stale:
                fresh[(org_id, user)] = (member_id, unit_id)
        return fresh

    @staticmethod
    def _latest_associations(
        keys: list[tuple[int, str]],
        agg: dict[tuple[int, str], dict[str, Any]],
        members: dict[tuple[int, str], tuple[int, int | None]],
    ) -> dict[str, list[Any]]:
        best: dict[str, tuple[int, str]] = {}
        for key in keys:
            current = best.get(key[1])
            if current is None or agg[key]["associated_at"] > agg[current]["associated_at"]:
                best[key[1]] = key
        chosen = [best[u] for u in sorted(best)]
        return {
            "users": [k[1] for k in chosen],
            "orgs": [k[0] for k in chosen],
            "members": [members[k][0] for k in chosen],
            "at": [agg[k]["associated_at"] for k in chosen],
        }

    # ---------------------------------------------------------------- events + rollups
    def insert_events(
        self,
        placed: list[tuple[Message, int, int | None]],
        members: dict[tuple[int, str], tuple[int, int | None]],
        received_at: datetime,
    ) -> int:
        if not placed:
            return 0
        rows = []
        for msg, org_id, unit_id in placed:
            member = members.get((org_id, msg.user_id)) if msg.user_id else None
            if unit_id is None and msg.type != "group" and member is not None:
                unit_id = member[1]
            rows.append(
                {
                    "org_id": org_id,
                    "event_time": msg.event_time,
                    "event_id": msg.event_id,
                    "message_id": msg.message_id,
                    "type": msg.type,
                    "name": msg.name,
                    "member_id": member[0] if member else None,
                    "unit_id": unit_id,
                    "anonymous_id": msg.anonymous_id,
                    "properties": (
                        msg.traits if msg.type in ("identify", "group") else msg.properties
                    ),
                    "context": msg.context,
                }
            )
        self.conn.execute(
            q.LOCK_PROJECTIONS_SHARED,
            {"cls": q.PROJECTION_LOCK_CLASS, "orgs": sorted({r["org_id"] for r in rows})},
        )
        # One JSON document per batch: PostgreSQL parses it in C, far cheaper than text arrays.
        inserted = self.conn.execute(
            q.INSERT_EVENTS,
            {
                "rows": orjson.dumps(rows).decode(),
                "received": received_at,
                "pairs": self.projections.pairs,
                "funnels": self.projections.funnels,
            },
        )
        return int(inserted.one().events)

    def hold(self, held: list[tuple[Message, str]], received_at: datetime) -> int:
        if not held:
            return 0
        rows = self.conn.execute(
            q.HOLD_MESSAGES,
            {
                "ids": [m.event_id for m, _ in held],
                "recv": [received_at] * len(held),
                "users": [m.user_id for m, _ in held],
                "groups": [m.group_id for m, _ in held],
                "mids": [m.message_id for m, _ in held],
                "reasons": [r for _, r in held],
                "msgs": [orjson.dumps(m.to_json()).decode() for m, _ in held],
            },
        )
        return len(rows.fetchall())

    def claim_held(self) -> list[Message]:
        """Take held messages whose group or user became known in this batch."""
        groups, users = sorted(self.new_group_ids), sorted(self.new_user_ids)
        self.new_group_ids, self.new_user_ids = set(), set()
        if not groups and not users:
            return []
        rows = self.conn.execute(
            q.CLAIM_HELD,
            {"groups": groups, "users": users},
        )
        return [Message.from_json(r[0], index=-1) for r in rows]


def write_messages(
    conn: Connection,
    *,
    messages: list[Message],
    received_at: datetime,
    source: str,
    result: IngestResult | None = None,
    projections: Projections = NO_PROJECTIONS,
) -> IngestResult:
    """Store validated messages in the caller's transaction; return what happened to each."""
    result = result or IngestResult()
    batch = _Batch(conn, result, projections)
    pending = messages
    rounds = 0
    held_here: set[str] = set()
    while pending:
        batch.load_directory(pending)
        pending = batch.apply_groups(pending)
        placed, held = batch.attribute(pending)
        org_ids = batch.scope_orgs(placed)
        apply_scope(conn, TenantScope.of(org_ids))
        batch.write_profiles()
        placed, held = batch.attribute(pending)
        members = batch.upsert_members(placed)
        inserted = batch.insert_events(placed, members, received_at)
        fresh_held = batch.hold(held, received_at)
        if rounds == 0:
            result.accepted += inserted
            result.duplicates += len(placed) - inserted + (len(held) - fresh_held)
            result.unattributed += fresh_held
            held_here = {m.message_id for m, _ in held}
        else:
            # A message this request held and then placed counts as accepted, not held; older
            # held messages that land now are "reattributed". Re-held ones stay held.
            own = min(inserted, sum(1 for m, _, _ in placed if m.message_id in held_here))
            result.accepted += own
            result.unattributed -= own
            result.reattributed += inserted - own
        result.org_ids |= {org_id for _, org_id, _ in placed}
        rounds += 1
        if rounds >= MAX_REATTRIBUTION_ROUNDS:
            break
        pending = batch.claim_held()
    conn.execute(
        q.LOG_BATCH,
        {
            "r": received_at,
            "s": source,
            "a": result.accepted + result.reattributed,
            "d": result.duplicates,
            "j": len(result.rejections),
            "u": result.unattributed,
        },
    )
    return result


def reproject_org(conn: Connection, *, org_id: int, projections: Projections) -> ProjectedRows:
    """Replace one org's rollups and projections with those of all its stored events.

    Runs in the caller's transaction (which must have the org in scope), so the org is either
    fully re-projected or untouched. It first takes the org's projection lock exclusively and
    so waits for batches of the org in flight; batches arriving meanwhile wait for the commit.
    """
    require_org(conn, org_id)
    conn.execute(q.LOCK_PROJECTIONS_EXCLUSIVE, {"cls": q.PROJECTION_LOCK_CLASS, "org": org_id})
    conn.execute(q.DELETE_ORG_PROJECTIONS, {"org": org_id})
    row = conn.execute(
        q.PROJECT_ORG_EVENTS,
        {"org": org_id, "pairs": projections.pairs, "funnels": projections.funnels},
    ).one()
    written = {table: int(count) for table, count in row._mapping.items()}
    return ProjectedRows(events=int(written.pop("events")), rows=written)
