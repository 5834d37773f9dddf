"""Which catalog blockers stop an org's rollout (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from orgpulse.catalog import Blocker
from orgpulse.metrics import MetricValue


class ActiveBlocker(BaseModel):
    """A blocker that applies now, with why and what to do about it."""

    key: str
    label: str
    reason: str
    action: str
    runbook: str | None
    org_level: bool  # decided for the whole org, whatever unit is selected


def blocker_events(blockers: Mapping[str, Blocker]) -> list[str]:
    """Every event name a ``missing_events`` blocker needs the all-time totals of."""
    return sorted({name for b in blockers.values() for name in b.missing_events})


def blocker_metrics(blockers: Mapping[str, Blocker]) -> list[str]:
    """Every metric key a ``metric`` blocker reads, in catalog order."""
    return list(dict.fromkeys(b.metric for b in blockers.values() if b.metric is not None))


def _past_bad(value: MetricValue) -> tuple[float, float] | None:
    """(value, bad threshold) when an ok metric is at or past its ``bad`` threshold."""
    if value.status != "ok" or value.value is None or value.bad is None:
        return None
    past = value.value >= value.bad if value.direction == "lower" else value.value <= value.bad
    return (value.value, value.bad) if past else None


def _shown(value: MetricValue, number: float) -> str:
    return f"{number * 100:.0f}%" if value.format == "percent" else f"{number:,.0f}"


def active_blockers(
    blockers: Mapping[str, Blocker],
    *,
    metrics: Sequence[MetricValue],
    event_totals: Mapping[str, int],
) -> list[ActiveBlocker]:
    """The blockers that apply, in catalog order.

    ``event_totals`` are the org's all-time counts per event name (a name never sent may be
    absent). A metric blocker needs its metric computed with status ``ok``: a metric without
    enough data raises no blocker.
    """
    by_key = {m.key: m for m in metrics}
    active = []
    for key, blocker in blockers.items():
        if blocker.metric is None:
            if any(event_totals.get(name, 0) for name in blocker.missing_events):
                continue
            names = ", ".join(f"“{n}”" for n in blocker.missing_events)
            reason = f"No {names} event has ever been received from this organization."
        else:
            value = by_key.get(blocker.metric)
            past = _past_bad(value) if value is not None else None
            if value is None or past is None:
                continue
            worse = "more" if value.direction == "lower" else "less"
            reason = (
                f"{value.label} is {_shown(value, past[0])}"
                f" ({value.window_start} – {value.window_end});"
                f" {_shown(value, past[1])} or {worse} needs attention."
            )
        active.append(
            ActiveBlocker(
                key=key,
                label=blocker.label,
                reason=reason,
                action=blocker.action,
                runbook=blocker.runbook,
                org_level=blocker.metric is None,
            )
        )
    return active
