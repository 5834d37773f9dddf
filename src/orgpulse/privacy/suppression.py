"""Cell suppression for published breakdowns. Pure functions, no I/O.

* A result whose cohort (distinct people) is below ``k`` is withheld whole: "insufficient data".
* Every cell with fewer than ``k`` people is suppressed ("below_k"): its people count and its
  value are withheld.
* Complementary suppression: in every published sum (a total and the parts it adds up), the number
  of suppressed members is 0 or at least 2, so no suppressed member equals "total minus the rest".
  Where exactly one is suppressed, the smallest published part is suppressed too (the total only
  when no part is left); ties go to the smaller key. This repeats over all sums until none changes.

The input is additive: a total's people equal the sum of its parts' people. The service adds a
remainder part (e.g. "no sub-unit") where a parent has people of its own, so the equation holds.
See docs/privacy.md for why these rules keep every suppressed count undetermined.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orgpulse.privacy.policy import PrivacyPolicy

Key = tuple[str, ...]
Reason = Literal["insufficient_data", "below_k", "complementary"]
Status = Literal["ok", "insufficient_data"]


class Cell(BaseModel):
    """One breakdown cell before suppression: who it describes and what it would show."""

    model_config = ConfigDict(frozen=True)

    key: Key
    people: int = Field(ge=0)
    value: float | None = None


class Node(BaseModel):
    """A cell of a hierarchy whose published total is the sum of its children."""

    model_config = ConfigDict(frozen=True)

    cell: Cell
    children: tuple[Node, ...] = ()


class PublishedSum(BaseModel):
    """One published equation: ``total`` = sum of ``parts`` (people counts)."""

    model_config = ConfigDict(frozen=True)

    total: Key
    parts: tuple[Key, ...] = Field(min_length=1)


class ShownCell(BaseModel):
    """A cell as it may be published; ``people`` and ``value`` are None when suppressed."""

    key: Key
    people: int | None
    value: float | None
    suppressed: bool
    reason: Reason | None


class ShownNode(BaseModel):
    cell: ShownCell
    children: list[ShownNode]


class SuppressedTree(BaseModel):
    status: Status
    k: int
    root: ShownNode


class SuppressedSeries(BaseModel):
    status: Status
    k: int
    periods: list[ShownCell]
    total: ShownCell | None


def below_k(*, cells: Sequence[Cell], policy: PrivacyPolicy) -> dict[Key, Reason]:
    """Return the reason "below_k" for every cell with fewer than ``k`` people."""
    return {cell.key: "below_k" for cell in cells if cell.people < policy.k}


def complete_suppression(
    *, people: Mapping[Key, int], sums: Sequence[PublishedSum], suppressed: Mapping[Key, Reason]
) -> dict[Key, Reason]:
    """Add complementary suppressions until no published sum has exactly one suppressed member.

    Why iterate: suppressing a part of one sum adds a suppressed member to the sum it is the total
    of (and vice versa), which may leave that sum with exactly one; a single pass misses it.
    Each round suppresses one more cell, so the loop ends after at most ``len(people)`` rounds.
    """
    reasons = dict(suppressed)
    while (exposed := _first_exposed(sums, reasons)) is not None:
        reasons[_complement(exposed, people, reasons)] = "complementary"
    return reasons


def suppress_tree(*, root: Node, policy: PrivacyPolicy) -> SuppressedTree:
    """Suppress a hierarchy (org → units → sub-units) whose every total is published."""
    nodes = list(_walk(root))
    cells = [node.cell for node in nodes]
    _check_unique(cells)
    sums = [_sum_of(node) for node in nodes if node.children]
    people = {cell.key: cell.people for cell in cells}
    _check_additive(sums, people)
    reasons = _reasons(cells, sums, people, cohort=root.cell.people, policy=policy)
    return SuppressedTree(
        status=_status(reasons, cells),
        k=policy.k,
        root=_shown_node(root, reasons),
    )


def suppress_series(
    *, periods: Sequence[Cell], total: Cell | None, cohort: int, policy: PrivacyPolicy
) -> SuppressedSeries:
    """Suppress a time series; ``total`` (if published) is the sum of the periods' people.

    ``cohort`` is the distinct people over the whole range, which decides whole-result
    suppression; it is not a sum of the periods (one person may be active in several).
    """
    cells = [*periods, *([total] if total is not None else [])]
    _check_unique(cells)
    people = {cell.key: cell.people for cell in cells}
    sums = (
        [PublishedSum(total=total.key, parts=tuple(p.key for p in periods))]
        if total is not None and periods
        else []
    )
    _check_additive(sums, people)
    reasons = _reasons(cells, sums, people, cohort=cohort, policy=policy)
    return SuppressedSeries(
        status=_status(reasons, cells),
        k=policy.k,
        periods=[_shown(cell, reasons) for cell in periods],
        total=_shown(total, reasons) if total is not None else None,
    )


def _reasons(
    cells: Sequence[Cell],
    sums: Sequence[PublishedSum],
    people: Mapping[Key, int],
    *,
    cohort: int,
    policy: PrivacyPolicy,
) -> dict[Key, Reason]:
    if cohort < policy.k:
        return {cell.key: "insufficient_data" for cell in cells}
    return complete_suppression(
        people=people, sums=sums, suppressed=below_k(cells=cells, policy=policy)
    )


def _status(reasons: Mapping[Key, Reason], cells: Sequence[Cell]) -> Status:
    whole = bool(cells) and all(reasons.get(c.key) == "insufficient_data" for c in cells)
    return "insufficient_data" if whole else "ok"


def _first_exposed(
    sums: Sequence[PublishedSum], reasons: Mapping[Key, Reason]
) -> PublishedSum | None:
    for published in sums:
        members = (published.total, *published.parts)
        if sum(1 for key in members if key in reasons) == 1:
            return published
    return None


def _complement(
    published: PublishedSum, people: Mapping[Key, int], reasons: Mapping[Key, Reason]
) -> Key:
    # The smallest part costs the least information; the total is never smaller than a part
    # (counts are non-negative), so it is taken only when no published part is left.
    shown_parts = [key for key in published.parts if key not in reasons]
    if not shown_parts:
        return published.total
    return min(shown_parts, key=lambda key: (people[key], key))


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _sum_of(node: Node) -> PublishedSum:
    return PublishedSum(total=node.cell.key, parts=tuple(c.cell.key for c in node.children))


def _check_unique(cells: Sequence[Cell]) -> None:
    keys = [cell.key for cell in cells]
    if len(set(keys)) != len(keys):
        raise ValueError("cell keys must be unique")


def _check_additive(sums: Sequence[PublishedSum], people: Mapping[Key, int]) -> None:
    # Suppression reasons about totals as sums; a non-additive input would make that reasoning
    # (and the protection it gives) wrong, so it is a programming error, not a client's.
    for published in sums:
        parts = sum(people[key] for key in published.parts)
        if people[published.total] != parts:
            raise ValueError(
                f"total {published.total} has {people[published.total]} people but its parts "
                f"add up to {parts}"
            )


def _shown(cell: Cell, reasons: Mapping[Key, Reason]) -> ShownCell:
    reason = reasons.get(cell.key)
    if reason is None:
        return ShownCell(
            key=cell.key, people=cell.people, value=cell.value, suppressed=False, reason=None
        )
    return ShownCell(key=cell.key, people=None, value=None, suppressed=True, reason=reason)


def _shown_node(node: Node, reasons: Mapping[Key, Reason]) -> ShownNode:
    return ShownNode(
        cell=_shown(node.cell, reasons),
        children=[_shown_node(child, reasons) for child in node.children],
    )
