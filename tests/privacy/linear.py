"""Exact linear algebra for the attacker tests: which unknowns a system of sums pins down."""

from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def rank(rows: Sequence[Sequence[int | Fraction]]) -> int:
    """Return the rank of a matrix by Gaussian elimination over the rationals."""
    matrix = [[Fraction(x) for x in row] for row in rows]
    width = len(matrix[0]) if matrix else 0
    found = 0
    for column in range(width):
        pivot = next((r for r in range(found, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[found], matrix[pivot] = matrix[pivot], matrix[found]
        for r in range(len(matrix)):
            if r != found and matrix[r][column] != 0:
                factor = matrix[r][column] / matrix[found][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[found], strict=True)]
        found += 1
    return found


def determined(
    *, unknowns: Sequence[K], equations: Iterable[Mapping[K, int]]
) -> set[K]:
    """Return the unknowns whose value follows from the equations (coefficients per variable).

    Known variables only move into the right-hand side, so only the unknowns' coefficients
    matter: x_i is determined iff the unit vector e_i lies in the row space of that matrix.
    """
    rows = [[equation.get(u, 0) for u in unknowns] for equation in equations]
    rows = [row for row in rows if any(row)]
    base = rank(rows)
    found: set[K] = set()
    for i, unknown in enumerate(unknowns):
        unit = [1 if j == i else 0 for j in range(len(unknowns))]
        if rank([*rows, unit]) == base:
            found.add(unknown)
    return found
