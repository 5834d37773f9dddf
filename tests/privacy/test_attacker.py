"""Properties of suppression, checked against an attacker who solves every published equation.

The attacker knows every published people count and that each published total is the sum of its
parts. With those substituted, the suppressed counts x satisfy A x = b; a count x_i is recovered
exactly iff the unit vector e_i lies in the row space of A (computed exactly, over fractions).
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from orgpulse.privacy import (
    Cell,
    Node,
    PrivacyPolicy,
    PublishedSum,
    Reason,
    ShownCell,
    complete_suppression,
    suppress_series,
    suppress_tree,
)
from privacy.helpers import by_key
from privacy.linear import determined

Key = tuple[str, ...]
PROPERTIES = settings(max_examples=200, deadline=None)
policies = st.builds(PrivacyPolicy, k=st.integers(min_value=10, max_value=40))


@st.composite
def hierarchies(draw: st.DrawFn) -> Node:
    """Draw an org of 1–6 units with 0–4 sub-units each; leaves hold 0–40 people."""
    units = []
    for u in range(draw(st.integers(1, 6))):
        key = ("org", f"u{u}")
        subs = tuple(
            Node(cell=Cell(key=(*key, f"s{s}"), people=draw(st.integers(0, 40))))
            for s in range(draw(st.integers(0, 4)))
        )
        people = sum(sub.cell.people for sub in subs) if subs else draw(st.integers(0, 40))
        units.append(Node(cell=Cell(key=key, people=people), children=subs))
    return Node(cell=Cell(key=("org",), people=sum(u.cell.people for u in units)),
                children=tuple(units))


def cells_of(node: Node) -> list[Cell]:
    return [node.cell, *(cell for child in node.children for cell in cells_of(child))]


def sums_of(node: Node) -> list[PublishedSum]:
    parts = tuple(child.cell.key for child in node.children)
    own = [PublishedSum(total=node.cell.key, parts=parts)] if parts else []
    return [*own, *(s for child in node.children for s in sums_of(child))]


def recovered(sums: list[PublishedSum], shown: dict[Key, ShownCell]) -> set[Key]:
    """Return the suppressed cells whose people count the published equations determine."""
    unknowns = sorted(key for key, cell in shown.items() if cell.suppressed)
    equations = [{s.total: 1, **{part: -1 for part in s.parts}} for s in sums]
    return determined(unknowns=unknowns, equations=equations)


def check_published(cells: list[Cell], shown: dict[Key, ShownCell], k: int) -> None:
    for cell in cells:
        out = shown[cell.key]
        if cell.people < k:
            assert out.suppressed
        if out.suppressed:
            assert (out.people, out.value, out.reason is not None) == (None, None, True)
        else:
            assert (out.people, out.value, out.reason) == (cell.people, cell.value, None)


@PROPERTIES
@given(root=hierarchies(), policy=policies)
def test_no_suppressed_count_in_a_hierarchy_can_be_recovered(
    root: Node, policy: PrivacyPolicy
) -> None:
    result = suppress_tree(root=root, policy=policy)
    shown = by_key(result.root)
    check_published(cells_of(root), shown, policy.k)
    assert recovered(sums_of(root), shown) == set()
    assert (result.status == "insufficient_data") == (root.cell.people < policy.k)


@st.composite
def series(draw: st.DrawFn) -> tuple[list[Cell], Cell | None, int]:
    """Draw 1–12 periods of 0–40 people, maybe a published total, and a consistent cohort."""
    periods = [Cell(key=(f"p{i:02d}",), people=draw(st.integers(0, 40)))
               for i in range(draw(st.integers(1, 12)))]
    counts = [p.people for p in periods]
    # Distinct people over the range: at least the busiest period, at most everyone counted.
    cohort = draw(st.integers(max(counts), sum(counts)))
    total = Cell(key=("total",), people=sum(counts)) if draw(st.booleans()) else None
    return periods, total, cohort


@PROPERTIES
@given(drawn=series(), policy=policies)
def test_no_suppressed_period_of_a_series_with_a_total_can_be_recovered(
    drawn: tuple[list[Cell], Cell | None, int], policy: PrivacyPolicy
) -> None:
    periods, total, cohort = drawn
    result = suppress_series(periods=periods, total=total, cohort=cohort, policy=policy)
    shown = {cell.key: cell for cell in result.periods}
    if result.total is not None:
        shown[result.total.key] = result.total
    check_published([*periods, *([total] if total else [])], shown, policy.k)
    sums = [PublishedSum(total=total.key, parts=tuple(p.key for p in periods))] if total else []
    assert recovered(sums, shown) == set()
    assert (result.status == "insufficient_data") == (cohort < policy.k)


@PROPERTIES
@given(root=hierarchies(), policy=policies)
def test_completing_a_suppression_keeps_what_was_hidden_and_is_idempotent(
    root: Node, policy: PrivacyPolicy
) -> None:
    people = {cell.key: cell.people for cell in cells_of(root)}
    sums = sums_of(root)
    small: dict[Key, Reason] = {k: "below_k" for k, n in people.items() if n < policy.k}
    once = complete_suppression(people=people, sums=sums, suppressed=small)
    assert once.items() >= small.items()
    assert complete_suppression(people=people, sums=sums, suppressed=once) == once
    assert suppress_tree(root=root, policy=policy) == suppress_tree(root=root, policy=policy)
