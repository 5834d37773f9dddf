"""The attacker's exact rank and determination checks, on matrices worked out by hand."""

from fractions import Fraction

import pytest

from privacy.linear import determined, rank


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], 0),
        ([[0, 0], [0, 0]], 0),
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 3),
        ([[1, 2], [2, 4]], 1),
        ([[0, 1], [1, 0]], 2),  # needs a row swap
        ([[1, 1, 0], [0, 1, 1], [1, 2, 1]], 2),  # third row = first + second
        ([[1, 1, 0], [0, 1, 1], [1, 0, 1]], 3),  # determinant 2
        ([[Fraction(1, 3), Fraction(2, 3)], [1, 2]], 1),
        ([[1, 1, 1, 1]], 1),
        ([[1], [2], [3]], 1),
    ],
)
def test_rank(rows: list[list[int | Fraction]], expected: int) -> None:
    assert rank(rows) == expected


def test_one_hidden_part_of_a_published_sum_is_determined() -> None:
    # org = a + b with org and b published: a = org − b.
    assert determined(unknowns=["a"], equations=[{"org": 1, "a": -1, "b": -1}]) == {"a"}


def test_two_hidden_parts_of_a_published_sum_are_not_determined() -> None:
    equations = [{"org": 1, "a": -1, "b": -1, "c": -1}]
    assert determined(unknowns=["a", "b"], equations=equations) == set()


def test_hidden_cells_determined_by_combining_two_sums() -> None:
    # org = A + B (org, B published) gives A; A = A1 + A2 (A2 published) then gives A1.
    equations = [{"org": 1, "A": -1, "B": -1}, {"A": 1, "A1": -1, "A2": -1}]
    assert determined(unknowns=["A", "A1"], equations=equations) == {"A", "A1"}


def test_sum_of_two_hidden_parts_is_known_but_neither_part() -> None:
    # a + b is known from the org total, a − b from nowhere: neither is determined.
    equations = [{"org": 1, "a": -1, "b": -1}, {"a": 1, "a1": -1}]
    assert determined(unknowns=["a", "b", "a1"], equations=equations) == set()
