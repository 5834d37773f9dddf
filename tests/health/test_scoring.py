"""Pure scoring: normalization, exclusion and renormalization, drivers, insufficient data."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgpulse.health.scoring import ComponentInput, band_of, normalize, score_components


def comp(key: str, weight: float, value: float | None, good: float = 1.0, bad: float = 0.0,
         **kw: object) -> ComponentInput:
    return ComponentInput(key=key, label=key.title(), weight=weight, value=value, good=good,
                          bad=bad, **kw)


@pytest.mark.parametrize(
    ("value", "good", "bad", "expected"),
    [
        (0.4, 0.8, 0.4, 0.0), (0.8, 0.8, 0.4, 100.0), (0.6, 0.8, 0.4, 50.0),
        (0.1, 0.8, 0.4, 0.0), (0.95, 0.8, 0.4, 100.0),
        # lower is better: good 0.02, bad 0.15
        (0.02, 0.02, 0.15, 100.0), (0.15, 0.02, 0.15, 0.0), (0.085, 0.02, 0.15, 50.0),
    ],
)
def test_normalize(value: float, good: float, bad: float, expected: float) -> None:
    assert normalize(value, good=good, bad=bad) == pytest.approx(expected)


def test_seed_profile_example_by_hand() -> None:
    # activation 25 @ 0.6 (→50), usage 25 @ 0.6 (→100), timeliness 20 @ 0.5 (→0),
    # failure 15 @ 0.085 (→50), checklist 15: no data → excluded; weights renormalized over 85.
    result = score_components([
        comp("activation", 25, 0.6, good=0.8, bad=0.4),
        comp("usage", 25, 0.6, good=0.6, bad=0.2),
        comp("timeliness", 20, 0.5, good=0.85, bad=0.5, action="Help with scoring"),
        comp("failure", 15, 0.085, good=0.02, bad=0.15),
        comp("checklist", 15, None, reason_missing="Available once the checklist is in use."),
    ])
    expected = (25 * 50 + 25 * 100 + 20 * 0 + 15 * 50) / 85
    assert result.score == round(expected, 1) == 52.9
    assert result.band == "watch"
    assert result.coverage == pytest.approx(85 / 100)
    assert result.excluded == ["checklist"]
    checklist = result.components[-1]
    assert (checklist.included, checklist.reason_excluded) == (
        False, "Available once the checklist is in use."
    )
    # Shortfalls: timeliness 20/85*100 = 23.5, activation 25/85*50 = 14.7, failure 15/85*50 = 8.8
    assert [d.key for d in result.drivers] == ["timeliness", "activation", "failure"]
    assert result.drivers[0].shortfall == pytest.approx(2000 / 85, abs=1e-5)
    assert result.drivers[0].action == "Help with scoring"


def test_too_little_data_is_not_a_number() -> None:
    result = score_components([
        comp("a", 25, None), comp("b", 25, None), comp("c", 20, None), comp("d", 15, 0.5),
        comp("e", 15, None),
    ])
    assert (result.score, result.band, result.drivers) == (None, "insufficient_data", [])
    assert result.coverage == pytest.approx(0.15)
    assert result.components[3].reason_excluded == "too little data overall to score"


def test_perfect_components_have_no_drivers() -> None:
    result = score_components([comp("a", 50, 1.0), comp("b", 50, 2.0)])
    assert (result.score, result.band, result.drivers) == (100.0, "healthy", [])


@pytest.mark.parametrize(("score", "band"), [
    (None, "insufficient_data"), (0.0, "at_risk"), (49.9, "at_risk"), (50.0, "watch"),
    (69.9, "watch"), (70.0, "healthy"), (100.0, "healthy"),
])
def test_bands(score: float | None, band: str) -> None:
    assert band_of(score) == band


values = st.one_of(st.none(), st.floats(min_value=-10, max_value=10, allow_nan=False))


@given(st.lists(st.tuples(st.floats(min_value=0.5, max_value=100), values), min_size=1,
                max_size=8))
def test_score_is_bounded_and_explained_by_its_components(
    parts: list[tuple[float, float | None]]
) -> None:
    inputs = [comp(f"c{i}", w, v) for i, (w, v) in enumerate(parts)]
    result = score_components(inputs)
    if result.score is None:
        assert result.band == "insufficient_data"
        assert all(not c.included for c in result.components)
        return
    assert 0.0 <= result.score <= 100.0
    included = [c for c in result.components if c.included]
    # Renormalized weights sum to 1 and the score is exactly the sum of contributions.
    assert sum(c.effective_weight for c in included) == pytest.approx(1.0, abs=1e-5)
    assert result.score == pytest.approx(sum(c.contribution for c in included), abs=0.05)
    # Shortfall + contribution = effective weight × 100 for each component.
    for c in included:
        assert c.contribution + c.shortfall == pytest.approx(c.effective_weight * 100, abs=1e-4)
    # Drivers are the largest shortfalls, at most three, in order.
    shortfalls = sorted((c.shortfall for c in included if c.shortfall > 0), reverse=True)
    assert [d.shortfall for d in result.drivers] == shortfalls[:3]
    assert result.coverage >= 0.5
