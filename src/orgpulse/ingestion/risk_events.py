"""The reserved risk and intervention events: their required properties. Pure functions.

``Risk Flagged``, ``Risk Resolved``, ``Intervention Logged`` and ``Intervention Outcome`` feed
the ``risk_flags`` and ``interventions`` projections, so a malformed one is refused at ingest
with a reason rather than stored and silently ignored by the analytics.
"""

from __future__ import annotations

from typing import Any

RISK_FLAGGED = "Risk Flagged"
RISK_RESOLVED = "Risk Resolved"
INTERVENTION_LOGGED = "Intervention Logged"
INTERVENTION_OUTCOME = "Intervention Outcome"
RISK_EVENTS = (RISK_FLAGGED, RISK_RESOLVED, INTERVENTION_LOGGED, INTERVENTION_OUTCOME)

RISK_LEVELS = ("low", "moderate", "high", "critical")
OUTCOMES = ("improved", "no_change", "worsened", "pending")
MAX_KEY_LENGTH = 255
MAX_LABEL_LENGTH = 200


def _key(properties: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = properties.get(name)
    if value is None or value == "":
        if required:
            return f"properties.{name} is required"
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"properties.{name} must be a string"
    if len(str(value)) > MAX_KEY_LENGTH:
        return f"properties.{name} is longer than {MAX_KEY_LENGTH} characters"
    return None


def _label(properties: dict[str, Any], name: str) -> str | None:
    value = properties.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        return f"properties.{name} must be a string"
    if len(value) > MAX_LABEL_LENGTH:
        return f"properties.{name} is longer than {MAX_LABEL_LENGTH} characters"
    return None


def _choice(properties: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = properties.get(name)
    if value is None:
        return f"properties.{name} is required (one of {', '.join(allowed)})"
    if value not in allowed:
        return f"properties.{name} must be one of {', '.join(allowed)}, got {str(value)[:40]!r}"
    return None


def risk_event_problem(name: str, properties: dict[str, Any], *, user_id: str | None) -> str | None:
    """Return why a reserved risk/intervention event is invalid, or None (also for other names)."""
    if name not in RISK_EVENTS:
        return None
    problems: list[str | None]
    if name == RISK_FLAGGED:
        confidence = properties.get("confidence")
        problems = [
            _key(properties, "flag_id", required=True),
            _choice(properties, "level", RISK_LEVELS),
            None
            if confidence is None
            or (
                isinstance(confidence, int | float)
                and not isinstance(confidence, bool)
                and 0 <= confidence <= 1
            )
            else "properties.confidence must be a number from 0 to 1",
            _key(properties, "student_id", required=user_id is None),
            _label(properties, "course"),
            _label(properties, "program"),
        ]
    elif name == RISK_RESOLVED:
        problems = [_key(properties, "flag_id", required=True)]
    elif name == INTERVENTION_LOGGED:
        problems = [
            _key(properties, "intervention_id", required=True),
            _key(properties, "flag_id", required=False),
            _key(properties, "student_id", required=False),
            _label(properties, "type"),
        ]
        if not properties.get("flag_id") and not properties.get("student_id"):
            problems.append("properties.flag_id or properties.student_id is required")
    else:
        problems = [
            _key(properties, "intervention_id", required=True),
            _choice(properties, "outcome", OUTCOMES),
        ]
    found = [p for p in problems if p is not None]
    return f"{name}: {'; '.join(found)}" if found else None
