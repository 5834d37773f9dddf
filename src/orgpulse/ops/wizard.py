"""The admin onboarding wizard: seven steps shared by the org's admins, validated by the system.

A step's "Mark complete" is accepted only when the system can confirm it (a roster sync, an SSO
configuration event, …); a step the system cannot check is confirmed by hand. A validated step
shows complete as soon as its signal exists, whoever clicked. Optional steps (by rollout mode)
may be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.audit import AuditContext, record
from orgpulse.catalog import Catalog
from orgpulse.core.errors import Conflict, NotFound
from orgpulse.core.tenancy import require_org
from orgpulse.ops import queries
from orgpulse.ops.checklist import RUNBOOKS, Signal, checklist_signals
from orgpulse.ops.rollout import RolloutMode, pilot_scope


class StepStatus(StrEnum):
    NOT_STARTED = "not_started"
    STARTED = "started"
    COMPLETE = "complete"
    SKIPPED = "skipped"


class StepAction(StrEnum):
    START = "start"
    COMPLETE = "complete"
    SKIP = "skip"


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str
    link: str
    validation: str | None  # what the system checks; None: confirmed by hand
    optional_in: frozenset[RolloutMode]


STEPS: tuple[StepSpec, ...] = (
    StepSpec("admin_contacts", "Add admin contacts", RUNBOOKS + "deployment-checklist",
             "at least one org admin account exists", frozenset()),
    StepSpec("rollout_mode", "Choose rollout mode", "#rollout", "a rollout mode is chosen",
             frozenset()),
    StepSpec("sso_scim", "Configure SSO/SCIM", RUNBOOKS + "sso-misconfiguration",
             "an 'SSO Configured' event was received",
             frozenset({RolloutMode.PILOT, RolloutMode.PHASED})),
    StepSpec("rostering", "Connect rostering provider", RUNBOOKS + "rostering-sync-failures",
             "a 'Roster Sync Completed' event was received", frozenset()),
    StepSpec("retention_policies", "Configure retention policies",
             RUNBOOKS + "deployment-checklist", None, frozenset()),
    StepSpec("integrations", "Configure integrations (LMS/SIS exports)",
             RUNBOOKS + "deployment-checklist", "an 'LMS Connected' event was received",
             frozenset({RolloutMode.PILOT})),
    StepSpec("teachers", "Invite pilot teachers / activate rostered teachers",
             RUNBOOKS + "activation", "at least one teacher signed in", frozenset()),
)
STEP_KEYS = tuple(s.key for s in STEPS)
TEACHER_TITLES = {
    RolloutMode.PILOT: "Invite pilot teachers",
    RolloutMode.PHASED: "Activate rostered teachers, school by school",
    RolloutMode.FULL: "Activate rostered teachers",
}
TEACHER_VALIDATION = {
    RolloutMode.PILOT: "at least one pilot teacher (in a pilot school, or selected) signed in",
}


class WizardStep(BaseModel):
    key: str
    number: int
    title: str
    link: str
    status: StepStatus
    optional: bool
    validation: str | None
    validated: bool
    signal: str | None
    started_by: str | None
    started_at: datetime | None
    completed_by: str | None
    completed_at: datetime | None


class Wizard(BaseModel):
    steps: list[WizardStep]
    current_step: str | None  # where to resume; None: every step done
    done: int
    total: int


@dataclass(frozen=True)
class StoredStep:
    started_by: str | None
    started_at: datetime | None
    completed_by: str | None
    completed_at: datetime | None
    skipped: bool


def _signals(
    conn: Connection, *, catalog: Catalog, org_id: int, until: date, timezone: str,
    mode: RolloutMode | None, checklist: dict[str, Signal] | None,
) -> dict[str, Signal]:
    if checklist is None:
        checklist = checklist_signals(conn=conn, org_id=org_id, until=until, timezone=timezone)
    found: dict[str, Signal] = {}
    for step, item in (("sso_scim", "sso_scim"), ("rostering", "rostering"),
                       ("integrations", "lms_integration")):
        if item in checklist:
            found[step] = checklist[item]
    admins = conn.execute(queries.setup_counts(), {"org": org_id}).one()[1]
    if admins:
        found["admin_contacts"] = Signal(reason=f"{admins} org admin account(s)", since=until)
    if mode is not None:
        found["rollout_mode"] = Signal(reason=f"rollout mode {mode.value}", since=until)
    pilot_units, pilot_members = pilot_scope(conn=conn, org_id=org_id)
    teachers = conn.execute(
        queries.teachers_signed_in(),
        {"org": org_id, "names": list(catalog.adoption.login_events), "until": until,
         "role": catalog.adoption.role, "units": pilot_units, "members": pilot_members},
    ).scalar_one()
    if teachers:
        who = "pilot teacher(s)" if pilot_units or pilot_members else "teacher(s)"
        found["teachers"] = Signal(reason=f"{teachers} {who} signed in", since=until)
    return found


def _stored(conn: Connection, org_id: int) -> dict[str, StoredStep]:
    return {
        r[0]: StoredStep(r[2], r[3], r[5], r[6], r[7])
        for r in conn.execute(queries.step_rows(), {"org": org_id})
    }


def build_wizard(
    *, stored: dict[str, StoredStep], signals: dict[str, Signal], mode: RolloutMode | None
) -> Wizard:
    """Combine what admins did with what the system sees (pure)."""
    steps = []
    for number, spec in enumerate(STEPS, start=1):
        row = stored.get(spec.key)
        signal = signals.get(spec.key)
        if signal is not None or (row and row.completed_at):
            status = StepStatus.COMPLETE
        elif row and row.skipped:
            status = StepStatus.SKIPPED
        elif row and row.started_at:
            status = StepStatus.STARTED
        else:
            status = StepStatus.NOT_STARTED
        title, validation = spec.title, spec.validation
        if spec.key == "teachers" and mode is not None:
            title = TEACHER_TITLES[mode]
            validation = TEACHER_VALIDATION.get(mode, validation)
        steps.append(
            WizardStep(
                key=spec.key,
                number=number,
                title=title,
                link=spec.link,
                status=status,
                optional=mode is not None and mode in spec.optional_in,
                validation=validation,
                validated=signal is not None,
                signal=signal.reason if signal else None,
                started_by=row.started_by if row else None,
                started_at=row.started_at if row else None,
                completed_by=row.completed_by if row else None,
                completed_at=row.completed_at if row else None,
            )
        )
    open_steps = [s for s in steps if s.status not in (StepStatus.COMPLETE, StepStatus.SKIPPED)]
    return Wizard(
        steps=steps,
        current_step=open_steps[0].key if open_steps else None,
        done=len(steps) - len(open_steps),
        total=len(steps),
    )


def org_wizard(
    *, conn: Connection, catalog: Catalog, org_id: int, until: date, timezone: str,
    mode: RolloutMode | None, checklist: dict[str, Signal] | None = None,
) -> Wizard:
    """Return the org's wizard as of the end of local day ``until``.

    ``checklist``: the checklist's signals when the caller already has them (same day).
    """
    require_org(conn, org_id)
    signals = _signals(conn, catalog=catalog, org_id=org_id, until=until, timezone=timezone,
                       mode=mode, checklist=checklist)
    return build_wizard(stored=_stored(conn, org_id), signals=signals, mode=mode)


class StepChange(BaseModel):
    org_id: int
    step: str
    action: StepAction
    before: StepStatus
    after: StepStatus


def act_on_step(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    step: str,
    action: StepAction,
    actor_user_id: int | None,
    ctx: AuditContext,
    now: datetime,
    until: date,
    timezone: str,
    mode: RolloutMode | None,
) -> StepChange:
    """Start, mark complete or skip one step; refused when the system cannot confirm it."""
    require_org(conn, org_id)
    spec = next((s for s in STEPS if s.key == step), None)
    if spec is None:
        raise NotFound(f"no onboarding step {step!r}; steps: {', '.join(STEP_KEYS)}")
    row = conn.execute(queries.step_row_for_update(), {"org": org_id, "key": step}).first()
    wizard = org_wizard(conn=conn, catalog=catalog, org_id=org_id, until=until,
                        timezone=timezone, mode=mode)
    current = next(s for s in wizard.steps if s.key == step)
    started_by, started_at = (row[0], row[1]) if row else (None, None)
    completed_by, completed_at = (row[2], row[3]) if row else (None, None)
    skipped = bool(row[4]) if row else False
    if action == StepAction.START:
        if current.status in (StepStatus.COMPLETE, StepStatus.SKIPPED):
            raise Conflict(f"step {current.title!r} is already {current.status.value}")
        if started_at is None:
            started_by, started_at = actor_user_id, now
        after = StepStatus.STARTED
    elif action == StepAction.COMPLETE:
        if completed_at is not None:
            raise Conflict(f"step {current.title!r} is already marked complete")
        if current.validation is not None and not current.validated:
            raise Conflict(
                f"step {current.title!r} cannot be marked complete yet: the system checks"
                f" that {current.validation}, and it has not seen that",
                details=[{"field": "step", "problem": f"not validated: {current.validation}"}],
            )
        completed_by, completed_at, skipped = actor_user_id, now, False
        if started_at is None:
            started_by, started_at = actor_user_id, now
        after = StepStatus.COMPLETE
    else:
        if not current.optional:
            raise Conflict(f"step {current.title!r} is not optional in this rollout mode")
        if current.status == StepStatus.COMPLETE:
            raise Conflict(f"step {current.title!r} is already complete")
        skipped = True
        after = StepStatus.SKIPPED
    conn.execute(
        queries.upsert_step(),
        {"org": org_id, "key": step, "sb": started_by, "sa": started_at, "cb": completed_by,
         "ca": completed_at, "skipped": skipped},
    )
    record(
        conn,
        ctx=ctx,
        action="admin.onboarding_step_changed",
        org_id=org_id,
        target=step,
        details={"action": action.value, "before": {"status": current.status.value},
                 "after": {"status": after.value}},
    )
    return StepChange(org_id=org_id, step=step, action=action, before=current.status,
                      after=after)
