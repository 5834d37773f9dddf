"""The demo generator: deterministic, valid Segment traffic whose orgs follow their trajectories."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orgpulse.demo import DEMO_ORG_COUNT_MIN, generate
from orgpulse.demo.generator import BATCH_SIZE, DEMO_DAYS_MAX, TRAJECTORIES
from orgpulse.ingestion.validation import parse_timestamp, validate_batch

NOW = datetime(2025, 5, 15, 14, 30, 12, 345678, tzinfo=UTC)
CATALOG = {
    "Login", "Login Failed", "Roster Sync Completed", "Roster Sync Failed", "Assignment Created",
    "Submission Created", "Submission Scored", "Upload Started", "Upload Failed",
    "Course Enrolled", "Lesson Completed", "Risk Flagged", "Risk Resolved", "Intervention Logged",
    "Intervention Outcome", "SSO Configured", "LMS Connected", "Resubmission Requested",
}  # fmt: skip


def _batches(**kwargs: Any) -> list[list[dict[str, Any]]]:
    return list(generate(**{"now": NOW, **kwargs}))


@pytest.fixture(scope="module")
def small() -> list[list[dict[str, Any]]]:
    return _batches(orgs=6, days=30, seed=7)


@pytest.fixture(scope="module")
def trajectories() -> list[list[dict[str, Any]]]:
    return _batches(orgs=10, days=120, seed=3)


def _org_of(messages: list[dict[str, Any]]) -> dict[str, str]:
    """userId → org groupId, learned from identify calls (as OrgPulse attributes them)."""
    users: dict[str, str] = {}
    for m in messages:
        if m["type"] == "identify":
            users[m["userId"]] = m["context"]["groupId"]
        elif m["type"] == "group" and "userId" in m:
            users[m["userId"]] = m["groupId"]
    return users


def test_same_seed_same_output_other_seed_differs() -> None:
    first = _batches(orgs=4, days=20, seed=11)
    assert first == _batches(orgs=4, days=20, seed=11)
    assert first != _batches(orgs=4, days=20, seed=12)
    assert first != list(generate(orgs=4, days=20, seed=11, now=NOW + timedelta(days=1)))


def test_every_message_is_valid_and_unique(small: list[list[dict[str, Any]]]) -> None:
    seen: set[str] = set()
    total = 0
    for batch in small:
        assert 0 < len(batch) <= BATCH_SIZE
        messages, rejections, duplicates = validate_batch({"batch": batch}, received_at=NOW)
        assert rejections == []
        assert duplicates == 0
        assert len(messages) == len(batch)
        ids = [m["messageId"] for m in batch]
        assert seen.isdisjoint(ids)
        seen.update(ids)
        total += len(batch)
    assert len(seen) == total > 1000


def test_batches_are_full_except_the_directory_tail_and_the_last(
    trajectories: list[list[dict[str, Any]]],
) -> None:
    sizes = [len(b) for b in trajectories]
    assert max(sizes) == BATCH_SIZE
    assert sum(1 for s in sizes if s < BATCH_SIZE) <= 2


def test_timestamps_lie_in_the_window(small: list[list[dict[str, Any]]]) -> None:
    earliest, latest = NOW - timedelta(days=30), NOW - timedelta(minutes=1)
    for batch in small:
        for m in batch:
            assert m["timestamp"].endswith("Z")
            at = parse_timestamp(m["timestamp"], "timestamp")
            assert earliest <= at <= latest, m


def test_shape_of_the_directory(small: list[list[dict[str, Any]]]) -> None:
    messages = [m for b in small for m in b]
    orgs = {m["groupId"]: m for m in messages if m["type"] == "group" and "userId" in m}
    units = {m["groupId"]: m for m in messages if m["type"] == "group" and "userId" not in m}
    members = {m["userId"]: m for m in messages if m["type"] == "identify"}
    assert len(orgs) == 6
    assert {o["traits"]["kind"] for o in orgs.values()} == {"district", "university", "employer"}
    for org in orgs.values():
        traits = org["traits"]
        assert traits["name"] and traits["timezone"].count("/") >= 1
        assert traits["trajectory"] in TRAJECTORIES
        assert members[org["userId"]]["traits"]["role"] == "admin"
        assert members[org["userId"]]["context"]["groupId"] == org["groupId"]
    unit_kind = {"district": "school", "university": "program", "employer": "location"}
    for unit in units.values():
        parent = orgs[unit["traits"]["parent_group_id"]]
        assert unit["groupId"].startswith(parent["groupId"] + "-u")
        assert unit["traits"]["kind"] == unit_kind[parent["traits"]["kind"]]
    roles = {"district": {"admin", "teacher", "student"},
             "university": {"admin", "advisor", "student"},
             "employer": {"admin", "employee"}}  # fmt: skip
    for member in members.values():
        org = orgs[member["context"]["groupId"]]
        assert member["traits"]["role"] in roles[org["traits"]["kind"]]
        assert member["traits"]["email"].endswith(("@example.com", "@example.org"))
        if member["traits"]["role"] != "admin":
            assert units[member["traits"]["unit"]]["traits"]["parent_group_id"] == org["groupId"]
    emails = [m["traits"]["email"] for m in members.values()]
    assert len(set(emails)) == len(emails)


def test_activity_uses_the_catalog_and_both_attribution_paths(
    trajectories: list[list[dict[str, Any]]],
) -> None:
    messages = [m for b in trajectories for m in b]
    users = _org_of(messages)
    activity = [m for m in messages if m["type"] in ("track", "page")]
    names = Counter(m.get("event", "page") for m in activity)
    assert set(names) - {"page"} <= CATALOG
    assert {"Login", "Submission Created", "Submission Scored", "Lesson Completed"} <= set(names)
    assert names["Login"] > names["Login Failed"] > 0
    with_group = {m["context"]["groupId"] for m in activity if "context" in m}
    without_group = {users[m["userId"]] for m in activity if "context" not in m}
    assert len(with_group) == 5 and len(without_group) == 5
    assert with_group.isdisjoint(without_group)
    for m in activity:
        if "context" in m:
            assert users[m["userId"]] == m["context"]["groupId"]
    scored = {
        m["properties"]["submission_id"] for m in activity if m.get("event") == "Submission Scored"
    }
    submitted = {
        m["properties"]["submission_id"] for m in activity if m.get("event") == "Submission Created"
    }
    assert scored < submitted  # every score has its submission; some are never scored


def test_implementation_signals_vary_between_orgs() -> None:
    messages = [m for b in _batches(orgs=20, days=45, seed=4) for m in b]
    users = _org_of(messages)
    orgs = {m["groupId"]: m["traits"] for m in messages if m["type"] == "group" and "userId" in m}
    senders: dict[str, set[str]] = {}
    for m in messages:
        if m["type"] == "track":
            senders.setdefault(m["event"], set()).add(users[m["userId"]])
    # Most orgs roster and connect an LMS, not all: the blockers have something to show.
    for event in ("Roster Sync Completed", "LMS Connected"):
        assert len(orgs) // 2 < len(senders[event]) < len(orgs), event
    lms = Counter(users[m["userId"]] for m in messages if m.get("event") == "LMS Connected")
    assert set(lms.values()) == {1}
    # Resubmissions are requested for scored submissions, a small share of all.
    track = [m for m in messages if m["type"] == "track"]
    scored = {m["properties"]["submission_id"] for m in track if m["event"] == "Submission Scored"}
    resubmits = [m for m in track if m["event"] == "Resubmission Requested"]
    submitted = sum(1 for m in track if m["event"] == "Submission Created")
    assert {m["properties"]["submission_id"] for m in resubmits} <= scored
    assert 0.005 < len(resubmits) / submitted < 0.15
    # Some districts require standards; only their assignments are tagged, as a string or list.
    required = {g: t["required_standards"] for g, t in orgs.items() if "required_standards" in t}
    assert required and all(orgs[g]["kind"] == "district" for g in required)
    assert any(t["kind"] == "district" and g not in required for g, t in orgs.items())
    tags: dict[str, set[str]] = {}
    for m in track:
        if m["event"] == "Assignment Created" and "standards" in m["properties"]:
            value = m["properties"]["standards"]
            tags.setdefault(users[m["userId"]], set()).update(
                [value] if isinstance(value, str) else value
            )
    assert set(tags) == set(required)
    assert any(not set(required[g]) <= tags[g] for g in required)  # coverage below 100%


def test_orgs_follow_their_trajectories(trajectories: list[list[dict[str, Any]]]) -> None:
    messages = [m for b in trajectories for m in b]
    users = _org_of(messages)
    trajectory = {
        m["groupId"]: m["traits"]["trajectory"]
        for m in messages
        if m["type"] == "group" and "userId" in m
    }
    assert sorted(set(trajectory.values())) == sorted(TRAJECTORIES)
    first_cut, last_cut = NOW - timedelta(days=90), NOW - timedelta(days=30)
    quiet_since = NOW - timedelta(days=14)
    first: Counter[str] = Counter()
    last: Counter[str] = Counter()
    recent: Counter[str] = Counter()
    for m in messages:
        if m["type"] not in ("track", "page"):
            continue
        org = users[m["userId"]]
        at = parse_timestamp(m["timestamp"], "timestamp")
        if at >= quiet_since:
            recent[org] += 1
        if m.get("event") == "Login":
            if at < first_cut:
                first[org] += 1
            elif at >= last_cut:
                last[org] += 1
    for org, kind in trajectory.items():
        if kind == "declining":
            assert last[org] < first[org], (org, first[org], last[org])
        elif kind == "growing":
            assert last[org] > first[org], (org, first[org], last[org])
        elif kind == "churned":
            assert first[org] > 0 and recent[org] == 0, org
        elif kind == "new":
            assert first[org] == 0 and last[org] > 0, org
        else:
            assert first[org] > 0 and last[org] > 0, org


def test_directory_precedes_each_orgs_activity(
    trajectories: list[list[dict[str, Any]]],
) -> None:
    users: dict[str, str] = {}
    known: set[str] = set()
    for batch_index, batch in enumerate(trajectories):
        for m in batch:
            if m["type"] == "group":
                known.add(m["groupId"])
                if "userId" in m:
                    users[m["userId"]] = m["groupId"]
            elif m["type"] == "identify":
                assert m["context"]["groupId"] in known
                users[m["userId"]] = m["context"]["groupId"]
                unit = m["traits"].get("unit")
                assert unit is None or unit in known
            else:
                # An activity message never shares a batch with (or precedes) its directory.
                assert m["userId"] in users, (batch_index, m)
                org = users[m["userId"]]
                assert org in known
                assert m.get("context", {}).get("groupId", org) == org
    last_directory = max(
        i for i, b in enumerate(trajectories) if any(m["type"] in ("group", "identify") for m in b)
    )
    first_activity = min(
        i for i, b in enumerate(trajectories) if any(m["type"] in ("track", "page") for m in b)
    )
    assert last_directory < first_activity


def test_tiny_windows_and_early_now_stay_valid() -> None:
    just_after_midnight = datetime(2025, 3, 2, 0, 0, 30, tzinfo=UTC)
    for days in (1, 2, 15):
        for batch in generate(orgs=10, days=days, seed=5, now=just_after_midnight):
            _, rejections, duplicates = validate_batch(
                {"batch": batch}, received_at=just_after_midnight
            )
            assert rejections == [] and duplicates == 0
            for m in batch:
                at = parse_timestamp(m["timestamp"], "timestamp")
                assert just_after_midnight - timedelta(days=days) <= at
                assert at <= just_after_midnight - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"orgs": 0}, "orgs must be"),
        ({"orgs": -3}, "orgs must be"),
        ({"days": 0}, "days must be"),
        ({"days": DEMO_DAYS_MAX + 1}, "at most"),
        ({"now": datetime(2025, 1, 1)}, "timezone-aware"),  # noqa: DTZ001 - the point of it
    ],
)
def test_bad_arguments_raise_at_call_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(**{"now": NOW, **kwargs})
    assert DEMO_ORG_COUNT_MIN == 1
