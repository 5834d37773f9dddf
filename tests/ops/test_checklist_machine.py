"""The checklist status machine, every (from, to) pair, and how signals combine with statuses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import product

import pytest

from orgpulse.core.errors import Conflict, InvalidInput
from orgpulse.ops.checklist import (
    ITEM_KEYS,
    Signal,
    Status,
    StoredItem,
    check_transition,
    effective_items,
)
from orgpulse.ops.rollout import RolloutMode

S = Status
# Written out by hand (not derived from TRANSITIONS): the 16 pairs and whether each is allowed.
EXPECTED = {
    (S.NOT_STARTED, S.NOT_STARTED): False,
    (S.NOT_STARTED, S.IN_PROGRESS): True,
    (S.NOT_STARTED, S.COMPLETE): True,
    (S.NOT_STARTED, S.BLOCKED): True,
    (S.IN_PROGRESS, S.NOT_STARTED): True,
    (S.IN_PROGRESS, S.IN_PROGRESS): False,
    (S.IN_PROGRESS, S.COMPLETE): True,
    (S.IN_PROGRESS, S.BLOCKED): True,
    (S.COMPLETE, S.NOT_STARTED): False,
    (S.COMPLETE, S.IN_PROGRESS): True,
    (S.COMPLETE, S.COMPLETE): False,
    (S.COMPLETE, S.BLOCKED): False,
    (S.BLOCKED, S.NOT_STARTED): True,
    (S.BLOCKED, S.IN_PROGRESS): True,
    (S.BLOCKED, S.COMPLETE): False,
    (S.BLOCKED, S.BLOCKED): True,  # a new reason
}


def test_expectation_table_covers_every_pair() -> None:
    assert set(EXPECTED) == set(product(Status, Status))
    assert len(EXPECTED) == 16


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED, key=str))
def test_every_transition_with_a_reason(current: Status, target: Status) -> None:
    if EXPECTED[(current, target)]:
        stored = check_transition(current, target, "  waiting for the SIS vendor  ")
        # The reason is kept (trimmed) only for a blocked item; any other status clears it.
        assert stored == ("waiting for the SIS vendor" if target == S.BLOCKED else None)
    else:
        with pytest.raises(Conflict) as refused:
            check_transition(current, target, "a reason")
        assert refused.value.details == [
            {"field": "status", "problem": f"{current.value} -> {target.value}"}
        ]


@pytest.mark.parametrize("current", [c for c in Status if EXPECTED[(c, S.BLOCKED)]])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_blocked_needs_a_reason(current: Status, reason: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_transition(current, S.BLOCKED, reason)
    assert refused.value.message == "a blocked item needs a reason"


@pytest.mark.parametrize(
    ("current", "target"), [p for p, ok in EXPECTED.items() if ok and p[1] != S.BLOCKED]
)
def test_other_targets_need_no_reason(current: Status, target: Status) -> None:
    assert check_transition(current, target, None) is None


def test_a_signal_completes_an_item_and_says_why() -> None:
    at = datetime(2026, 6, 1, 9, tzinfo=UTC)
    stored = {
        "rostering": StoredItem(S.BLOCKED, "Clever not purchased", "it@example.test", at),
        "policies": StoredItem(S.COMPLETE, None, "admin@example.test", at),
        "lms_integration": StoredItem(S.IN_PROGRESS, None, "it@example.test", at),
    }
    signals = {
        "rostering": Signal(reason="first 'Roster Sync Completed' event on 2026-06-02",
                            since=date(2026, 6, 2)),
        "policies": Signal(reason="irrelevant: already complete by hand", since=date(2026, 6, 3)),
    }
    checklist = effective_items(stored=stored, signals=signals, mode=RolloutMode.PILOT)
    by_key = {i.key: i for i in checklist.items}
    assert [i.key for i in checklist.items] == list(ITEM_KEYS)
    assert [i.number for i in checklist.items] == list(range(1, 11))
    rostering = by_key["rostering"]
    assert (rostering.status, rostering.stored_status, rostering.auto_completed) == (
        S.COMPLETE, S.BLOCKED, True
    )
    assert rostering.auto_reason == "first 'Roster Sync Completed' event on 2026-06-02"
    assert rostering.blocked_reason is None  # the block no longer applies
    # Completed by hand before the signal: not "automatic".
    assert (by_key["policies"].status, by_key["policies"].auto_completed) == (S.COMPLETE, False)
    assert by_key["lms_integration"].status == S.IN_PROGRESS
    assert by_key["tenant_setup"].status == S.NOT_STARTED
    assert (checklist.complete, checklist.total, checklist.completion) == (2, 10, 0.2)
    # Pilot focus: setup, rostering, first assessment, first review.
    assert [i.key for i in checklist.items if i.focus] == [
        "tenant_setup", "rostering", "first_assessment", "review_results"
    ]


def test_focus_follows_the_mode() -> None:
    def focus(mode: RolloutMode | None) -> list[int]:
        items = effective_items(stored={}, signals={}, mode=mode).items
        return [i.number for i in items if i.focus]

    assert focus(None) == []
    assert focus(RolloutMode.PILOT) == [1, 3, 6, 7]
    assert focus(RolloutMode.PHASED) == [1, 3, 4, 8, 9]
    assert focus(RolloutMode.FULL) == [1, 2, 3, 4, 5, 8, 9, 10]
