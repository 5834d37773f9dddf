"""State University (America/New_York, UTC-4 in June): a hand-built risk dataset.

The clock is frozen at 2026-06-15 12:00 UTC (08:00 local, a Monday). June in the org's timezone
runs from 2026-06-01 04:00 UTC to 2026-07-01 04:00 UTC.

Students (identify traits): s1 "Ada One" cohort 2027, Nursing; s2 "Ben Two" 2027, Biology;
s3 "Cy Three" 2028, Nursing; s4 "=Dee Four" 2028, Biology (a formula-looking name); s5 "Eve Five",
no cohort, no unit. a1 is an advisor; sis is a system account that flags for a student.

Flags (UTC):
  f1 s1 high     conf 0.9 course BIO101  06-02 10:00, resolved 06-04 10:00 (48 h)
  f2 s2 critical conf 0.7 course CHEM1   06-05 10:00, open
  f3 s3 moderate conf 0.5                06-10 10:00, resolved 06-11 10:00 (24 h)
  f4 s3 high     conf 0.8                05-20 10:00 (May), open
  f5 s4 low      conf 0.4                06-12 10:00, open
  f6 s5 critical conf 0.6 (sent by sis)  06-01 02:00 = May 31 22:00 local (May!), open
  f7 s1 high     conf 0.6                06-08 10:00, resolved 06-09 10:00 (24 h)
Interventions (logged by a1):
  i1 flag f1            06-03 10:00, outcome improved
  i2 flag f2            06-06 10:00, outcome pending
  i3 student s4 (no flag) 06-13 10:00, outcome no_change   (f5 was open: it counts for f5)
  i4 flag f4            05-25 10:00 (May), outcome worsened
  i5 flag f2            06-14 10:00, no outcome yet
"""

from __future__ import annotations

from typing import Any

from factories import Factory

ORG = "uni"


def _track(user: str, event: str, when: str, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": when,
            "properties": props, "context": {"groupId": ORG}}


def risk_events() -> list[dict[str, Any]]:
    """The flags, resolutions, interventions and outcomes above, in time order."""
    return [
        _track("s3", "Risk Flagged", "2026-05-20T10:00:00Z", flag_id="f4", level="high",
               confidence=0.8),
        _track("a1", "Intervention Logged", "2026-05-25T10:00:00Z", intervention_id="i4",
               flag_id="f4", type="meeting"),
        _track("a1", "Intervention Outcome", "2026-05-28T10:00:00Z", intervention_id="i4",
               outcome="worsened"),
        _track("sis", "Risk Flagged", "2026-06-01T02:00:00Z", flag_id="f6", level="critical",
               confidence=0.6, student_id="s5"),
        _track("s1", "Risk Flagged", "2026-06-02T10:00:00Z", flag_id="f1", level="high",
               confidence=0.9, course="BIO101"),
        _track("a1", "Intervention Logged", "2026-06-03T10:00:00Z", intervention_id="i1",
               flag_id="f1", type="meeting"),
        _track("a1", "Intervention Outcome", "2026-06-04T09:00:00Z", intervention_id="i1",
               outcome="improved"),
        _track("a1", "Risk Resolved", "2026-06-04T10:00:00Z", flag_id="f1"),
        _track("s2", "Risk Flagged", "2026-06-05T10:00:00Z", flag_id="f2", level="critical",
               confidence=0.7, course="CHEM1"),
        _track("a1", "Intervention Logged", "2026-06-06T10:00:00Z", intervention_id="i2",
               flag_id="f2", type="email"),
        _track("a1", "Intervention Outcome", "2026-06-07T10:00:00Z", intervention_id="i2",
               outcome="pending"),
        _track("s1", "Risk Flagged", "2026-06-08T10:00:00Z", flag_id="f7", level="high",
               confidence=0.6),
        _track("a1", "Risk Resolved", "2026-06-09T10:00:00Z", flag_id="f7"),
        _track("s3", "Risk Flagged", "2026-06-10T10:00:00Z", flag_id="f3", level="moderate",
               confidence=0.5),
        _track("a1", "Risk Resolved", "2026-06-11T10:00:00Z", flag_id="f3"),
        _track("s4", "Risk Flagged", "2026-06-12T10:00:00Z", flag_id="f5", level="low",
               confidence=0.4),
        _track("a1", "Intervention Logged", "2026-06-13T10:00:00Z", intervention_id="i3",
               student_id="s4", type="phone call"),
        _track("a1", "Intervention Outcome", "2026-06-14T09:00:00Z", intervention_id="i3",
               outcome="no_change"),
        _track("a1", "Intervention Logged", "2026-06-14T10:00:00Z", intervention_id="i5",
               flag_id="f2", type="tutoring"),
    ]


def build_university(factory: Factory, *, events: list[dict[str, Any]] | None = None) -> int:
    """Create State University with its programs and people, then send ``events``."""
    result = factory.send([
        {"type": "group", "groupId": ORG, "timestamp": "2026-01-01T00:00:00Z",
         "traits": {"name": "State University", "timezone": "America/New_York"}},
        *[{"type": "group", "groupId": f"{ORG}-{key}", "timestamp": "2026-01-01T00:00:00Z",
           "traits": {"name": name, "kind": "program", "parent_group_id": ORG}}
          for key, name in (("nur", "Nursing"), ("bio", "Biology"))],
    ])
    assert not result.rejections, result.rejections
    people = [
        ("s1", {"name": "Ada One", "cohort": "2027", "unit": f"{ORG}-nur"}),
        ("s2", {"name": "Ben Two", "cohort": "2027", "unit": f"{ORG}-bio"}),
        ("s3", {"name": "Cy Three", "cohort": "2028", "unit": f"{ORG}-nur"}),
        ("s4", {"name": "=Dee Four", "cohort": "2028", "unit": f"{ORG}-bio"}),
        ("s5", {"name": "Eve Five"}),
        ("a1", {"name": "Advisor", "role": "advisor"}),
        ("sis", {"name": "SIS"}),
    ]
    result = factory.send([
        {"type": "identify", "userId": u, "traits": {"role": "student", **traits},
         "timestamp": "2026-01-02T00:00:00Z", "context": {"groupId": ORG}}
        for u, traits in people
    ])
    assert not result.rejections, result.rejections
    sent = risk_events() if events is None else events
    result = factory.send(sent)
    assert (result.accepted, result.rejections) == (len(sent), [])
    from orgpulse.auth import resolve_org_ref
    from orgpulse.core.tenancy import unscoped

    with unscoped(factory.engine) as conn:
        org_id = resolve_org_ref(conn, ORG)
    assert org_id is not None
    return org_id
