"""Daily activity simulation: logins, courses, assignments, uploads, risk flags and follow-ups.

``_Activity._org_day`` plays one org through one day; work that happens later (scoring,
interventions, outcomes, resolutions) is scheduled on the org and picked up on its day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orgpulse.demo.generator.population import (
    Msg,
    _Member,
    _Org,
    _Population,
)
from orgpulse.demo.generator.vocabulary import (
    _FILE_TYPES,
    _INTERVENE,
    _INTERVENTION_TYPES,
    _LOGIN_FAILURES,
    _MINUTE,
    _RESUBMIT_REASONS,
    _RISK_LEVELS,
    _RISK_REASONS,
    _RISK_WEIGHTS,
    _SECOND,
    _SSO_PROVIDERS,
    _SYNC_ERRORS,
    _TABLE_SIZE,
    _UPLOAD_ERRORS,
)


def _unsent(*_: object) -> None:
    """Stands in for ``_track`` for messages an org does not send."""


class _Activity(_Population):
    """Daily activity (``track``/``page``) per org, buffered in ``out`` until ``run`` yields it."""

    def __init__(self, *, orgs: int, days: int, seed: int, now: datetime) -> None:
        super().__init__(orgs=orgs, days=days, seed=seed, now=now)
        self.out: list[Msg] = []

    def _track(self, org: _Org, user_id: str, ts: str, event: str, props: Msg) -> None:
        self.counter += 1
        msg: Msg = {
            "type": "track",
            "messageId": self.id_prefix + str(self.counter),
            "timestamp": ts,
            "userId": user_id,
            "event": event,
            "properties": props,
        }
        if org.with_group_context:
            msg["context"] = {"groupId": org.group_id}
        self.out.append(msg)

    def _page(self, org: _Org, user_id: str, ts: str) -> None:
        self.counter += 1
        msg: Msg = {
            "type": "page",
            "messageId": self.id_prefix + str(self.counter),
            "timestamp": ts,
            "userId": user_id,
            "name": "Dashboard",
            "properties": {"path": "/dashboard"},
        }
        if org.with_group_context:
            msg["context"] = {"groupId": org.group_id}
        self.out.append(msg)

    # ------------------------------------------------------------------ one org, one day
    def _org_day(self, org: _Org, d: int, prefix: str, maxmin: int) -> None:
        rng = self.rng
        r = rng.random
        minutes = org.minutes
        track = self._track
        second = _SECOND
        minute_s = _MINUTE

        def at(m: int) -> str:
            if m > maxmin:
                m = int(r() * (maxmin + 1))
            return prefix + minute_s[m] + second[int(r() * 60)]

        def session_start() -> int:
            return minutes[int(r() * _TABLE_SIZE)]

        admin = org.admins[0].user_id
        weekend = (self.first_midnight + timedelta(days=d)).weekday() >= 5
        # ---- org-level: SSO setup, nightly roster sync
        if d == org.sso_day:
            org.sso = True
            track(
                org,
                admin,
                at(session_start()),
                "SSO Configured",
                {"provider": rng.choice(_SSO_PROVIDERS)},
            )
        if d == org.lms_day:
            side = self.side
            ts = prefix + minute_s[side.randint(0, maxmin)] + second[side.randrange(60)]
            track(org, admin, ts, "LMS Connected", {"provider": org.lms})
        # An org without rostering sends no sync, but its draws are made all the same so that
        # the rest of its traffic does not depend on it.
        sync = track if org.rostered else _unsent
        if not (weekend and org.kind == "employer"):
            sync_minute = (120 + int(r() * 60) - org.offset) % 1440
            if sync_minute <= maxmin:
                u = (d - org.start) / max(1, org.end - org.start)
                sync_id = org.next_id("sync")
                if r() < org.sync_fail + org.sync_fail_drift * u:
                    sync(
                        org,
                        admin,
                        at(sync_minute),
                        "Roster Sync Failed",
                        {"sync_id": sync_id, "source": org.sis, "error": rng.choice(_SYNC_ERRORS)},
                    )
                else:
                    sync(
                        org,
                        admin,
                        at(sync_minute),
                        "Roster Sync Completed",
                        {
                            "sync_id": sync_id,
                            "source": org.sis,
                            "records": len(org.members) + int(r() * 5),
                            "duration_ms": 800 + int(r() * 30_000),
                        },
                    )
        # ---- scheduled work: scoring, interventions, outcomes, resolutions
        for unit, assignment_id, submission_id in org.scores.pop(d, ()):
            if weekend and r() < 0.7:
                org.scores.setdefault(d + 1, []).append((unit, assignment_id, submission_id))
                continue
            teachers = unit.teachers or [m for u in org.units for m in u.teachers]
            if teachers:
                teacher = teachers[int(r() * len(teachers))]
                ts = at(session_start())
                track(
                    org,
                    teacher.user_id,
                    ts,
                    "Submission Scored",
                    {
                        "assignment_id": assignment_id,
                        "submission_id": submission_id,
                        "score": 50 + int(r() * 51),
                    },
                )
                if self.side.random() < org.resubmit_rate:
                    track(
                        org,
                        teacher.user_id,
                        ts,
                        "Resubmission Requested",
                        {
                            "assignment_id": assignment_id,
                            "submission_id": submission_id,
                            "reason": self.side.choice(_RESUBMIT_REASONS),
                        },
                    )
        for unit, flag_id, _risk in org.interventions.pop(d, ()):
            advisors = unit.advisors or [m for u in org.units for m in u.advisors]
            if not advisors:
                continue
            advisor = advisors[int(r() * len(advisors))].user_id
            intervention_id = org.next_id("int")
            track(
                org,
                advisor,
                at(session_start()),
                "Intervention Logged",
                {
                    "intervention_id": intervention_id,
                    "flag_id": flag_id,
                    "type": rng.choice(_INTERVENTION_TYPES),
                },
            )
            if r() < 0.12:  # followed up once, never closed
                outcome, after = "pending", rng.randint(3, 10)
            else:
                x = r()
                outcome = "improved" if x < 0.55 else "no_change" if x < 0.85 else "worsened"
                after = rng.randint(7, 28)
            org.outcomes.setdefault(d + after, []).append(
                (advisor, intervention_id, flag_id, outcome)
            )
        for advisor, intervention_id, flag_id, outcome in org.outcomes.pop(d, ()):
            track(
                org,
                advisor,
                at(session_start()),
                "Intervention Outcome",
                {"intervention_id": intervention_id, "flag_id": flag_id, "outcome": outcome},
            )
            if outcome == "improved":
                org.resolutions.setdefault(d + rng.randint(1, 3), []).append(
                    (advisor, flag_id, "intervention")
                )
        for user_id, flag_id, resolution in org.resolutions.pop(d, ()):
            track(
                org,
                user_id,
                at(session_start()),
                "Risk Resolved",
                {"flag_id": flag_id, "resolution": resolution},
            )
        # ---- members
        level = org.levels[d]
        university = org.kind == "university"
        upload_fail = org.upload_fail
        sso = org.sso
        for m in org.members:
            if d < m.join or d >= m.leave:
                continue
            x = r()
            p = level * m.engagement
            role = m.role
            if x >= p:
                # Early-warning flags fire for disengaged students too.
                if university and role == "student" and x > 0.9975 - 0.003 * (m.engagement < 0.5):
                    self._flag(org, m, d, at(session_start()))
                continue
            uid = m.user_id
            t = session_start()
            if t > maxmin:
                t = int(r() * (maxmin + 1))
            if r() < (0.01 if sso else 0.03):
                track(org, uid, at(t), "Login Failed", {"reason": rng.choice(_LOGIN_FAILURES)})
                t = min(t + 1, maxmin)
            method = "sso" if sso and r() < 0.85 else "password"
            track(org, uid, at(t), "Login", {"method": method})
            if r() < 0.4:
                self._page(org, uid, at(t))
            t = min(t + 1 + int(r() * 15), maxmin)
            if role == "student" or role == "employee":
                if m.course is None or (m.lesson >= m.course_len and r() < 0.3):
                    course_id, m.course_len = org.courses[int(r() * len(org.courses))]
                    m.course, m.lesson = course_id, 0
                    track(
                        org,
                        uid,
                        at(t),
                        "Course Enrolled",
                        {"course_id": course_id, "lessons": m.course_len},
                    )
                    t = min(t + 1 + int(r() * 5), maxmin)
                if m.lesson < m.course_len and r() < (0.5 if university else 0.35):
                    m.lesson += 1
                    track(
                        org,
                        uid,
                        at(t),
                        "Lesson Completed",
                        {"course_id": m.course, "lesson": m.lesson},
                    )
                    t = min(t + 1 + int(r() * 15), maxmin)
                if role == "student" and not university and m.unit is not None and r() < 0.6:
                    self._submit(org, m, d, at(t))
                    t = min(t + 1 + int(r() * 10), maxmin)
                if university and r() < 0.004:
                    self._flag(org, m, d, at(t))
            elif role == "teacher" and not weekend and m.unit is not None and r() < 0.22:
                assignment_id = org.next_id("asg")
                m.unit.assignments.append((assignment_id, d))
                ts = at(t)
                props: Msg = {"assignment_id": assignment_id, "due_in_days": 2 + int(r() * 12)}
                if org.taught_standards and self.side.random() < 0.85:
                    tags = self.side.sample(org.taught_standards, self.side.randint(1, 3))
                    props["standards"] = tags[0] if len(tags) == 1 else tags
                track(org, uid, ts, "Assignment Created", props)
                t = min(t + 1 + int(r() * 10), maxmin)
            if role != "admin" and role != "advisor" and r() < 0.12:
                upload_id = org.next_id("upl")
                file_type = _FILE_TYPES[int(r() * len(_FILE_TYPES))]
                size_kb = int(50 + r() * (250_000 if file_type == "mp4" else 8_000))
                track(
                    org,
                    uid,
                    at(t),
                    "Upload Started",
                    {"upload_id": upload_id, "file_type": file_type, "size_kb": size_kb},
                )
                if r() < upload_fail * (3 if size_kb > 100_000 else 1):
                    error = "file too large" if size_kb > 100_000 else rng.choice(_UPLOAD_ERRORS)
                    track(
                        org,
                        uid,
                        at(min(t + 1, maxmin)),
                        "Upload Failed",
                        {"upload_id": upload_id, "error": error},
                    )

    def _submit(self, org: _Org, student: _Member, d: int, ts: str) -> None:
        unit = student.unit
        if unit is None:
            return
        assignments = unit.assignments
        i = student.next_assignment
        while i < len(assignments) and assignments[i][1] < d - 14:
            i += 1  # too old to hand in
        student.next_assignment = i
        if i >= len(assignments) or assignments[i][1] >= d:
            return  # nothing open that was assigned before today
        assignment_id = assignments[i][0]
        student.next_assignment = i + 1
        submission_id = org.next_id("sub")
        self._track(
            org,
            student.user_id,
            ts,
            "Submission Created",
            {"assignment_id": assignment_id, "submission_id": submission_id},
        )
        rng = self.rng
        if rng.random() < org.score_rate:  # the rest is never scored: the grading backlog
            delay = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
            org.scores.setdefault(d + delay, []).append((unit, assignment_id, submission_id))

    def _flag(self, org: _Org, student: _Member, d: int, ts: str) -> None:
        rng = self.rng
        level = rng.choices(_RISK_LEVELS, weights=_RISK_WEIGHTS)[0]
        flag_id = org.next_id("flag")
        self._track(
            org,
            student.user_id,
            ts,
            "Risk Flagged",
            {
                "flag_id": flag_id,
                "level": level,
                "confidence": round(rng.uniform(0.35, 0.99), 2),
                "reason": rng.choice(_RISK_REASONS),
                **({"course": student.course} if student.course else {}),
            },
        )
        chance, longest = _INTERVENE[level]
        unit = student.unit
        if unit is not None and rng.random() < chance * org.intervention_rate:
            org.interventions.setdefault(d + rng.randint(1, longest), []).append(
                (unit, flag_id, level)
            )
        elif level == "low" and rng.random() < 0.5:
            org.resolutions.setdefault(d + rng.randint(5, 20), []).append(
                (student.user_id, flag_id, "auto-cleared")
            )
