"""Suppression by hand: k boundaries, whole results, cells, complementary cells, time series."""

import pytest
from pydantic import ValidationError

from orgpulse.privacy import (
    Cell,
    PrivacyPolicy,
    PublishedSum,
    complete_suppression,
    suppress_series,
    suppress_tree,
)
from privacy.helpers import by_key, hidden, leaf, parent

DEFAULT = PrivacyPolicy()


def week(n: int, people: int, value: float | None = None) -> Cell:
    return Cell(key=(f"2026-W{n:02d}",), people=people, value=value)


def test_policy_defaults_to_ten_and_may_raise_it() -> None:
    assert PrivacyPolicy().k == 10
    assert PrivacyPolicy(k=10).k == 10
    assert PrivacyPolicy(k=12).k == 12


@pytest.mark.parametrize("k", [9, 1, 0, -5])
def test_policy_refuses_k_below_ten_naming_the_value(k: int) -> None:
    with pytest.raises(ValidationError, match=f"k={k} is below the floor of 10"):
        PrivacyPolicy(k=k)


def test_policy_cannot_be_lowered_after_construction() -> None:
    policy = PrivacyPolicy(k=12)
    with pytest.raises(ValidationError):
        policy.k = 5  # type: ignore[misc]


def test_nine_people_are_suppressed_and_ten_shown() -> None:
    result = suppress_series(periods=[week(1, 9), week(2, 10)], total=None, cohort=19,
                             policy=DEFAULT)
    assert result.status == "ok"
    assert [(c.people, c.suppressed, c.reason) for c in result.periods] == [
        (None, True, "below_k"),
        (10, False, None),
    ]


def test_a_raised_k_suppresses_eleven_and_shows_twelve() -> None:
    result = suppress_series(periods=[week(1, 11), week(2, 12)], total=None, cohort=23,
                             policy=PrivacyPolicy(k=12))
    assert result.k == 12
    assert [(c.people, c.reason) for c in result.periods] == [(None, "below_k"), (12, None)]


def test_whole_result_below_k_is_insufficient_data_not_an_error() -> None:
    org = parent("org", children=[leaf("org", "a", people=5, value=0.4),
                                  leaf("org", "b", people=4, value=0.5)], value=0.44)
    result = suppress_tree(root=org, policy=DEFAULT)
    assert result.status == "insufficient_data"
    assert hidden(result.root) == {
        ("org",): "insufficient_data",
        ("org", "a"): "insufficient_data",
        ("org", "b"): "insufficient_data",
    }
    assert all(c.people is None and c.value is None for c in by_key(result.root).values())


def test_whole_result_of_exactly_k_is_shown_and_its_small_cells_suppressed() -> None:
    org = parent("org", children=[leaf("org", "a", people=5), leaf("org", "b", people=5)])
    result = suppress_tree(root=org, policy=DEFAULT)
    assert result.status == "ok"
    cells = by_key(result.root)
    assert cells[("org",)].people == 10
    # Both parts are below k: two suppressed members, so the total gives neither away.
    assert hidden(result.root) == {("org", "a"): "below_k", ("org", "b"): "below_k"}


def test_cells_at_or_above_k_keep_their_people_and_value() -> None:
    org = parent("org", value=0.5, children=[
        leaf("org", "a", people=25, value=0.6),
        leaf("org", "b", people=20, value=0.45),
        leaf("org", "c", people=15, value=0.4),
    ])
    cells = by_key(suppress_tree(root=org, policy=DEFAULT).root)
    assert {key: (c.people, c.value, c.suppressed) for key, c in cells.items()} == {
        ("org",): (60, 0.5, False),
        ("org", "a"): (25, 0.6, False),
        ("org", "b"): (20, 0.45, False),
        ("org", "c"): (15, 0.4, False),
    }


def test_a_cell_below_k_withholds_its_value_and_its_count() -> None:
    org = parent("org", children=[leaf("org", "a", people=8, value=0.75),
                                  leaf("org", "b", people=9, value=0.2),
                                  leaf("org", "c", people=30, value=0.5)])
    cells = by_key(suppress_tree(root=org, policy=DEFAULT).root)
    assert (cells[("org", "a")].people, cells[("org", "a")].value) == (None, None)
    assert (cells[("org", "c")].people, cells[("org", "c")].value) == (30, 0.5)


def test_one_suppressed_part_of_a_published_total_takes_the_next_smallest_with_it() -> None:
    # 65 = 5 + 12 + 20 + 28: with only a hidden, a = 65 − 12 − 20 − 28.
    org = parent("org", children=[leaf("org", "a", people=5), leaf("org", "b", people=12),
                                  leaf("org", "c", people=20), leaf("org", "d", people=28)])
    result = suppress_tree(root=org, policy=DEFAULT)
    assert hidden(result.root) == {("org", "a"): "below_k", ("org", "b"): "complementary"}
    cells = by_key(result.root)
    assert [cells[("org", k)].people for k in "cd"] == [20, 28]
    assert cells[("org",)].people == 65


def test_two_suppressed_parts_need_nothing_more() -> None:
    org = parent("org", children=[leaf("org", "a", people=5), leaf("org", "b", people=8),
                                  leaf("org", "c", people=20), leaf("org", "d", people=27)])
    result = suppress_tree(root=org, policy=DEFAULT)
    assert hidden(result.root) == {("org", "a"): "below_k", ("org", "b"): "below_k"}


def test_ties_for_next_smallest_go_to_the_smaller_key_whatever_the_order() -> None:
    a, b, c, d = (leaf("org", "a", people=4), leaf("org", "b", people=15),
                  leaf("org", "c", people=15), leaf("org", "d", people=16))
    for children in ([a, b, c, d], [d, c, b, a], [c, a, d, b]):
        result = suppress_tree(root=parent("org", children=children), policy=DEFAULT)
        assert hidden(result.root) == {("org", "a"): "below_k", ("org", "b"): "complementary"}


def test_complementary_suppression_cascades_from_units_to_sub_units() -> None:
    # Org level: C (8) is below k, so A (30, next-smallest) is suppressed with it. A's own total
    # is then the one hidden member of A = A1 + A2, recoverable as 14 + 16, so A1 (smaller) goes
    # too. C's sub-units are both below k. B and its sub-units stay.
    org = parent("org", children=[
        parent("org", "A", children=[leaf("org", "A", "1", people=14),
                                     leaf("org", "A", "2", people=16)]),
        parent("org", "B", children=[leaf("org", "B", "1", people=20),
                                     leaf("org", "B", "2", people=20)]),
        parent("org", "C", children=[leaf("org", "C", "1", people=3),
                                     leaf("org", "C", "2", people=5)]),
    ])
    result = suppress_tree(root=org, policy=DEFAULT)
    assert hidden(result.root) == {
        ("org", "C"): "below_k",
        ("org", "C", "1"): "below_k",
        ("org", "C", "2"): "below_k",
        ("org", "A"): "complementary",
        ("org", "A", "1"): "complementary",
    }
    cells = by_key(result.root)
    assert [cells[k].people for k in [("org",), ("org", "B"), ("org", "A", "2")]] == [78, 40, 16]


def test_complementary_suppression_cascades_down_three_levels() -> None:
    # C (8) hides A (55 < 60) at the org level; A's sum then hides A1 (25 < 30); A1's sum then
    # hides A1a (10 < 15). Each step leaves the next sum with exactly one hidden member.
    org = parent("org", children=[
        parent("org", "A", children=[
            parent("org", "A", "1", children=[leaf("org", "A", "1", "a", people=10),
                                              leaf("org", "A", "1", "b", people=15)]),
            leaf("org", "A", "2", people=30),
        ]),
        leaf("org", "B", people=60),
        leaf("org", "C", people=8),
    ])
    result = suppress_tree(root=org, policy=DEFAULT)
    assert hidden(result.root) == {
        ("org", "C"): "below_k",
        ("org", "A"): "complementary",
        ("org", "A", "1"): "complementary",
        ("org", "A", "1", "a"): "complementary",
    }
    assert by_key(result.root)[("org",)].people == 123


def test_a_series_with_a_published_total_hides_a_second_period() -> None:
    # 47 = 12 + 9 + 15 + 11: W02 is below k; W04 (11) is the smallest published period.
    periods = [week(1, 12), week(2, 9), week(3, 15), week(4, 11)]
    result = suppress_series(periods=periods, total=Cell(key=("total",), people=47), cohort=20,
                             policy=DEFAULT)
    assert result.status == "ok"
    assert [(c.key[0], c.reason) for c in result.periods if c.suppressed] == [
        ("2026-W02", "below_k"), ("2026-W04", "complementary"),
    ]
    assert result.total is not None and result.total.people == 47


def test_a_series_without_a_total_hides_only_its_small_periods() -> None:
    periods = [week(1, 12), week(2, 9), week(3, 15), week(4, 11)]
    result = suppress_series(periods=periods, total=None, cohort=20, policy=DEFAULT)
    assert [c.key[0] for c in result.periods if c.suppressed] == ["2026-W02"]
    assert result.total is None


def test_a_series_whose_cohort_is_below_k_is_insufficient_data() -> None:
    # Nine distinct people over the range, each active in several weeks.
    periods = [week(1, 9), week(2, 8)]
    result = suppress_series(periods=periods, total=Cell(key=("total",), people=17), cohort=9,
                             policy=DEFAULT)
    assert result.status == "insufficient_data"
    assert result.total is not None and result.total.reason == "insufficient_data"
    assert all(c.reason == "insufficient_data" and c.people is None for c in result.periods)


def test_a_single_part_total_is_hidden_with_its_part() -> None:
    people = {("t",): 30, ("t", "a"): 30}
    sums = [PublishedSum(total=("t",), parts=(("t", "a"),))]
    assert complete_suppression(people=people, sums=sums, suppressed={("t", "a"): "below_k"}) == {
        ("t", "a"): "below_k", ("t",): "complementary",
    }


def test_a_total_that_is_not_the_sum_of_its_parts_is_refused() -> None:
    bad = parent("org", children=[leaf("org", "a", people=12)]).model_copy(
        update={"cell": Cell(key=("org",), people=13)}
    )
    with pytest.raises(ValueError, match=r"has 13 people but its parts add up to 12"):
        suppress_tree(root=bad, policy=DEFAULT)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        suppress_series(periods=[week(1, 12), week(1, 13)], total=None, cohort=20,
                        policy=DEFAULT)
