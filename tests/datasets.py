"""Shared hand-built datasets: every number a test expects is counted by hand from these events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import Factory, iso
from orgpulse.core import clock

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # a Monday; the org's "today" is 2026-06-15


def frozen_clock() -> Iterator[datetime]:
    clock.freeze(NOW)
    try:
        yield NOW
    finally:
        clock.freeze(None)


def at(days_ago: int, hour: int = 10) -> str:
    return iso((NOW - timedelta(days=days_ago)).replace(hour=hour, minute=0))


def track(user: str, event: str, days_ago: int, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at(days_ago),
            "properties": props}


def build_acme(factory: Factory) -> int:
    """Acme Schools (UTC): 2 schools, 3 teachers, 2 students; see the comments for each event."""
    org = factory.org("acme", "Acme Schools", units=("north", "south"))
    people = [("t1", "teacher", "north"), ("t2", "teacher", "north"), ("t3", "teacher", "south"),
              ("s1", "student", "north"), ("s2", "student", "south")]
    factory.send([
        {"type": "identify", "userId": u, "traits": {"role": r, "unit": f"acme-{unit}"},
         "context": {"groupId": "acme"}, "timestamp": at(60)}
        for u, r, unit in people
    ])
    events = [
        # Logins: t1 at -1 and -20, t2 at -15 (outside 14 days), t3 at -13 (first day inside).
        track("t1", "Login", 1), track("t1", "Login", 20), track("t2", "Login", 15),
        track("t3", "Login", 13),
        # Assignments: -2 and -10 (t1), -29 (t3, last day of 30), -30 (t3, outside 30 days).
        track("t1", "Assignment Created", 2), track("t1", "Assignment Created", 10),
        track("t3", "Assignment Created", 29), track("t3", "Assignment Created", 30),
        # Submissions and scoring (pair "scoring" on submission_id):
        track("s1", "Submission Created", 20, submission_id="sub1"),
        track("t1", "Submission Scored", 18, submission_id="sub1"),  # within 7 days
        track("s1", "Submission Created", 12, submission_id="sub2"),
        track("t1", "Submission Scored", 2, submission_id="sub2"),  # after 10 days
        track("s1", "Submission Created", 9, submission_id="sub3"),  # never scored
        track("s2", "Submission Created", 3, submission_id="sub4"),  # too recent to judge
        track("s2", "Submission Created", 40, submission_id="sub5"),  # never scored, old
        # Course funnel: s1 finishes c1 (3 lessons declared); s2 stops after lesson 1.
        track("s1", "Course Enrolled", 5, course_id="c1", lessons=3),
        track("s1", "Lesson Completed", 5, course_id="c1", lesson=1),
        track("s1", "Lesson Completed", 4, course_id="c1", lesson=2),
        track("s1", "Lesson Completed", 3, course_id="c1", lesson=3),
        track("s2", "Course Enrolled", 4, course_id="c1"),
        track("s2", "Lesson Completed", 4, course_id="c1", lesson=1),
    ]
    # Uploads yesterday: 20 started by s1, 3 of them failed.
    events += [track("s1", "Upload Started", 1, upload_id=f"u{i}") for i in range(20)]
    events += [track("s1", "Upload Failed", 1, upload_id=f"u{i}") for i in range(3)]
    result = factory.send(events)
    assert (result.accepted, result.rejections) == (len(events), [])
    return org


def in_org(org: str, message: dict[str, Any]) -> dict[str, Any]:
    """The message attributed to ``org`` through ``context.groupId``."""
    return {**message, "context": {"groupId": org}}


def build_lakeside(factory: Factory) -> int:
    """Lakeside District (UTC): 2 schools, required standards S1–S4; see the comments below."""
    org = factory.org("lakeside", "Lakeside District", units=("north", "south"))
    factory.send([
        # S1 is listed twice: the district requires 4 distinct standards.
        {"type": "group", "groupId": "lakeside", "timestamp": at(0, hour=12),
         "traits": {"required_standards": ["S1", "S2", "S3", "S4", "S1"]}},
        *[{"type": "identify", "userId": u, "traits": {"role": r, "unit": f"lakeside-{unit}"},
           "context": {"groupId": "lakeside"}, "timestamp": at(200)}
          for u, r, unit in (("t1", "teacher", "north"), ("t2", "teacher", "south"),
                             ("s1", "student", "north"), ("s2", "student", "south"))],
    ])
    events = [
        # Standards (90-day window 2026-03-18 .. 2026-06-15):
        track("t1", "Assignment Created", 2, assignment_id="a1", standards="S1"),  # a string
        track("t1", "Assignment Created", 10, assignment_id="a2", standards=["S2", "X9"]),  # X9
        track("t2", "Assignment Created", 5, assignment_id="a3", standards=["S3"]),  # south
        track("t1", "Assignment Created", 89, assignment_id="a4", standards=["S2"]),  # in window
        # S4 is never tagged inside the window on an assignment:
        track("t1", "Assignment Created", 95, assignment_id="a5", standards="S4"),  # too old
        track("t1", "Login", 3, standards="S4"),  # not an assignment
        track("t1", "Assignment Created", 1, assignment_id="a6", standards={"code": "S4"}),
        # Submissions in 30 days: s1 24 (north), one more 35 days ago (outside).
        *[track("s1", "Submission Created", d, submission_id=f"sub{d}") for d in range(1, 25)],
        track("s1", "Submission Created", 35, submission_id="sub35"),
        # Resubmission requests: 3 within 30 days, one 40 days ago (outside).
        *[track("t1", "Resubmission Requested", d, submission_id=f"sub{d}") for d in (2, 7, 20)],
        track("t1", "Resubmission Requested", 40, submission_id="sub-old"),
        # Rostering synced once, long ago (blockers read all-time totals); no LMS connected.
        track("t1", "Roster Sync Completed", 300),
        # Uploads in 7 days: 20 started, 2 failed (10%, under the 15% "bad" threshold).
        *[track("s2", "Upload Started", 1, upload_id=f"u{i}") for i in range(20)],
        *[track("s2", "Upload Failed", 1, upload_id=f"u{i}") for i in range(2)],
    ]
    result = factory.send([in_org("lakeside", e) for e in events])
    assert (result.accepted, result.rejections) == (len(events), [])
    return org
