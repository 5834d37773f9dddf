"""Course analytics (seed 000): completion and drop-off per course, with a lesson drill-down.

Built on a catalog funnel (default ``courses``: "Course Enrolled" then numbered "Lesson
Completed"). An enrolment counts in the window when it started in it; it is complete when its
furthest lesson reaches the course's last lesson (declared on enrolment, else the highest lesson
anyone in the org reached).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, NotFound
from orgpulse.metrics.engine import Window
from orgpulse.metrics.scope import OrgView, UnitRef, org_view
from orgpulse.metrics.service import resolve_window

DEFAULT_WINDOW_DAYS = 90

COURSES_SQL = text(
    """
    WITH top AS (
        SELECT subject_key, max(max_step) AS top FROM funnel_progress
        WHERE org_id = :org AND funnel = :funnel GROUP BY subject_key
    )
    SELECT f.subject_key,
           count(*) AS enrolled,
           count(*) FILTER (WHERE f.max_step >= COALESCE(f.total_steps, t.top)) AS completed,
           max(COALESCE(f.total_steps, t.top)) AS lessons,
           avg(COALESCE(f.max_step, 0)) AS average_reached
    FROM funnel_progress f JOIN top t USING (subject_key)
    WHERE f.org_id = :org AND f.funnel = :funnel AND f.started_at >= :start AND f.started_at < :end
      AND (CAST(:units AS bigint[]) IS NULL OR f.unit_id = ANY(CAST(:units AS bigint[])))
    GROUP BY f.subject_key
    ORDER BY enrolled DESC, f.subject_key
    """
)

STEPS_SQL = text(
    """
    SELECT COALESCE(max_step, 0) AS reached, count(*) FROM funnel_progress
    WHERE org_id = :org AND funnel = :funnel AND subject_key = :course
      AND started_at >= :start AND started_at < :end
      AND (CAST(:units AS bigint[]) IS NULL OR unit_id = ANY(CAST(:units AS bigint[])))
    GROUP BY 1
    """
)

LESSONS_SQL = text(
    "SELECT COALESCE(max(total_steps), max(max_step)) FROM funnel_progress"
    " WHERE org_id = :org AND funnel = :funnel AND subject_key = :course"
)


class CourseRow(BaseModel):
    course_id: str
    enrolled: int
    completed: int
    completion_rate: float | None
    lessons: int | None
    average_reached: float


class CourseList(BaseModel):
    org_id: int
    slug: str
    name: str
    as_of: datetime
    window_start: date
    window_end: date
    unit: UnitRef | None
    units: list[UnitRef]
    enrolled: int
    completed: int
    completion_rate: float | None
    courses: list[CourseRow]


class LessonStep(BaseModel):
    lesson: int
    reached: int
    share_of_enrolled: float
    dropped_since_previous: int


class CourseDetail(BaseModel):
    org_id: int
    slug: str
    name: str
    course_id: str
    window_start: date
    window_end: date
    unit: UnitRef | None
    enrolled: int
    completed: int
    completion_rate: float | None
    lessons: int | None
    steps: list[LessonStep]
    biggest_drop_lesson: int | None


def _window(view: OrgView, now: datetime, since: date | None, until: date | None) -> Window:
    today = clock.local_date(now, view.timezone)
    window = resolve_window(since=since, until=until, today=today)
    return window or Window.trailing(today, DEFAULT_WINDOW_DAYS)


def _funnel(catalog: Catalog) -> str:
    if "courses" not in catalog.funnels:
        raise InvalidInput("the metric catalog defines no 'courses' funnel")
    return "courses"


def course_list(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    now: datetime,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> CourseList:
    """Completion per course for enrolments started in the window (default: 90 days)."""
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    window = _window(view, now, since, until)
    start, end = window.bounds(ZoneInfo(view.timezone))
    rows = conn.execute(
        COURSES_SQL,
        {
            "org": org_id,
            "funnel": _funnel(catalog),
            "start": start,
            "end": end,
            "units": view.unit_ids,
        },
    ).all()
    courses = [
        CourseRow(
            course_id=r[0],
            enrolled=int(r[1]),
            completed=int(r[2]),
            completion_rate=int(r[2]) / int(r[1]) if r[1] else None,
            lessons=None if r[3] is None else int(r[3]),
            average_reached=round(float(r[4] or 0), 2),
        )
        for r in rows
    ]
    enrolled = sum(c.enrolled for c in courses)
    completed = sum(c.completed for c in courses)
    return CourseList(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        as_of=now,
        window_start=window.since,
        window_end=window.until,
        unit=view.unit,
        units=view.units,
        enrolled=enrolled,
        completed=completed,
        completion_rate=completed / enrolled if enrolled else None,
        courses=courses,
    )


def course_detail(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    course_id: str,
    now: datetime,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> CourseDetail:
    """Lesson-by-lesson drop-off of one course: how many enrolments reached each lesson."""
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    window = _window(view, now, since, until)
    start, end = window.bounds(ZoneInfo(view.timezone))
    funnel = _funnel(catalog)
    params = {
        "org": org_id,
        "funnel": funnel,
        "course": course_id,
        "start": start,
        "end": end,
        "units": view.unit_ids,
    }
    lessons = conn.execute(LESSONS_SQL, params).scalar()
    if lessons is None:
        raise NotFound(f"no course {course_id!r} in this organization")
    reached_counts = {int(r[0]): int(r[1]) for r in conn.execute(STEPS_SQL, params)}
    enrolled = sum(reached_counts.values())
    lessons = int(lessons)
    steps: list[LessonStep] = []
    previous = enrolled
    for k in range(1, lessons + 1):
        at_least = sum(n for step, n in reached_counts.items() if step >= k)
        steps.append(
            LessonStep(
                lesson=k,
                reached=at_least,
                share_of_enrolled=at_least / enrolled if enrolled else 0.0,
                dropped_since_previous=previous - at_least,
            )
        )
        previous = at_least
    completed = steps[-1].reached if steps else 0
    biggest = max(steps, key=lambda s: (s.dropped_since_previous, -s.lesson), default=None)
    return CourseDetail(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        course_id=course_id,
        window_start=window.since,
        window_end=window.until,
        unit=view.unit,
        enrolled=enrolled,
        completed=completed,
        completion_rate=completed / enrolled if enrolled else None,
        lessons=lessons,
        steps=steps,
        biggest_drop_lesson=biggest.lesson if biggest and biggest.dropped_since_previous else None,
    )
