"""The simulated customer base: orgs, units and members, and the directory messages.

``_Population`` draws every org (trajectory, kind, size, timezone, daily activity levels) and its
units and members from the shared ``random.Random`` at construction time, then emits the
``group``/``identify`` messages that describe them.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orgpulse.demo.generator.vocabulary import (
    _DISTRICT_FORMS,
    _EMPLOYER_FIRST,
    _EMPLOYER_SECOND,
    _FIRST_NAMES,
    _HOLIDAY,
    _KIND_SHARES,
    _LAST_NAMES,
    _LMS,
    _LOCAL_HOURS,
    _PLACES,
    _PROGRAMS,
    _ROLE_FACTOR,
    _SCHOOL_LEVELS,
    _SCHOOL_NAMES,
    _SIS,
    _SITE_CITIES,
    _SITE_KINDS,
    _STANDARDS,
    _TABLE_SIZE,
    _TIMEZONES,
    _TRAJECTORY_SHARES,
    _UNIVERSITY_FORMS,
    _WEEKEND,
    KINDS,
    TRAJECTORIES,
)

Msg = dict[str, Any]


# ---------------------------------------------------------------------------- model
@dataclass(slots=True, eq=False)
class _Unit:
    group_id: str
    name: str
    kind: str
    teachers: list[_Member] = field(default_factory=list)
    advisors: list[_Member] = field(default_factory=list)
    assignments: list[tuple[str, int]] = field(default_factory=list)  # (id, day created)


@dataclass(slots=True, eq=False)
class _Member:
    user_id: str
    role: str
    unit: _Unit | None
    name: str
    email: str
    join: int  # first day it can be active
    leave: int  # first day it no longer is
    engagement: float
    course: str | None = None
    course_len: int = 0
    lesson: int = 0
    next_assignment: int = 0  # index into unit.assignments


@dataclass(slots=True, eq=False)
class _Org:
    n: int
    group_id: str
    name: str
    kind: str
    timezone: str
    offset: int  # minutes, local - UTC
    plan: str
    trajectory: str
    seats: int
    start: int
    end: int
    with_group_context: bool
    showcase: bool = False  # the aggregate-view showcase employer (see _aggregate_showcase)
    levels: list[float] = field(default_factory=list)
    units: list[_Unit] = field(default_factory=list)
    admins: list[_Member] = field(default_factory=list)
    members: list[_Member] = field(default_factory=list)  # everyone, admins first
    minutes: list[int] = field(default_factory=list)  # UTC minute-of-day of session starts
    courses: list[tuple[str, int]] = field(default_factory=list)  # (course id, lessons)
    sis: str = ""
    sso_day: int = -1
    sso: bool = False
    sync_fail: float = 0.02
    sync_fail_drift: float = 0.0
    upload_fail: float = 0.05
    score_rate: float = 0.9
    intervention_rate: float = 0.8
    rostered: bool = True
    lms: str = ""
    lms_day: int = -1
    resubmit_rate: float = 0.03
    required_standards: list[str] = field(default_factory=list)
    taught_standards: list[str] = field(default_factory=list)
    serial: int = 0
    scores: dict[int, list[tuple[_Unit, str, str]]] = field(default_factory=dict)
    interventions: dict[int, list[tuple[_Unit, str, str]]] = field(default_factory=dict)
    outcomes: dict[int, list[tuple[str, str, str, str]]] = field(default_factory=dict)
    resolutions: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.n}-{self.serial}"


def _apportion(total: int, shares: tuple[float, ...]) -> list[int]:
    """Split ``total`` by ``shares`` (largest remainder; ties go to the earlier share)."""
    raw = [total * s for s in shares]
    counts = [math.floor(x) for x in raw]
    order = sorted(range(len(shares)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _smooth(x: float) -> float:
    x = 0.0 if x < 0 else 1.0 if x > 1 else x
    return x * x * (3 - 2 * x)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _cohort_of(index: int) -> str:
    """A university student's cohort (the ``cohort`` trait that cohort analytics groups by).

    Derived from the member's position, not drawn from the random stream, so adding it left the
    rest of a seed's traffic unchanged.
    """
    return f"Class of {2026 + index % 4}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- population
class _Population:
    """The directory: orgs, their units and members, and the ``group``/``identify`` messages."""

    def __init__(self, *, orgs: int, days: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        # A second stream for the implementation signals (rostering, LMS, resubmissions,
        # standards), so that adding them left every other message of a seed unchanged.
        self.side = random.Random(f"{seed}:implementation")
        self.days = days
        self.now = now
        self.id_prefix = f"demo-{seed}-"
        self.counter = 0
        self.first_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=days - 1
        )
        self.window_start = now - timedelta(days=days)
        self.latest_directory = now - timedelta(seconds=61)
        self.names_taken: set[str] = set()
        self.emails_taken: dict[str, int] = {}
        self.orgs = [self._org(n, t, k) for n, (t, k) in enumerate(self._plan(orgs), start=1)]
        self._aggregate_showcase(seed)

    # ------------------------------------------------------------------ setup
    def _plan(self, orgs: int) -> list[tuple[str, str]]:
        rng = self.rng
        trajectories: list[str] = []
        for trajectory, count in zip(
            TRAJECTORIES, _apportion(orgs, _TRAJECTORY_SHARES), strict=True
        ):
            trajectories += [trajectory] * count
        kinds: list[str] = []
        for kind, count in zip(KINDS, _apportion(orgs, _KIND_SHARES), strict=True):
            kinds += [kind] * count
        rng.shuffle(trajectories)
        rng.shuffle(kinds)
        return list(zip(trajectories, kinds, strict=True))

    def _unique_name(self, make: Callable[[], str]) -> str:
        for _ in range(20):
            name = make()
            if name not in self.names_taken:
                break
        suffix = 2
        base = name
        while name in self.names_taken:
            name, suffix = f"{base} {suffix}", suffix + 1
        self.names_taken.add(name)
        return name

    def _org_name(self, kind: str) -> str:
        rng = self.rng
        if kind == "district":
            return self._unique_name(
                lambda: rng.choice(_DISTRICT_FORMS).format(rng.choice(_PLACES))
            )
        if kind == "university":
            return self._unique_name(
                lambda: rng.choice(_UNIVERSITY_FORMS).format(rng.choice(_PLACES))
            )
        return self._unique_name(
            lambda: f"{rng.choice(_EMPLOYER_FIRST)} {rng.choice(_EMPLOYER_SECOND)}"
        )

    def _org(self, n: int, trajectory: str, kind: str) -> _Org:
        rng, days = self.rng, self.days
        large = rng.random() < 0.15
        seats = rng.randint(200, 400) if large else 15 + int(225 * rng.random() ** 2)
        zone, offset, _ = rng.choices(_TIMEZONES, weights=[w for _, _, w in _TIMEZONES])[0]
        start, end = 0, days
        if trajectory == "new":
            start = max(0, days - rng.randint(7, 59))
        elif trajectory == "churned":
            latest = max(15, min(63, days // 2))
            end = days - rng.randint(min(21, latest), latest)
        org = _Org(
            n=n,
            group_id=f"org-{n}",
            name=self._org_name(kind),
            kind=kind,
            timezone=zone,
            offset=offset,
            plan="starter" if seats < 60 else "growth" if seats < 200 else "enterprise",
            trajectory=trajectory,
            seats=seats,
            start=start,
            end=end,
            with_group_context=False,
        )
        org.sis = rng.choice(_SIS[kind])
        org.sync_fail = rng.uniform(0.08, 0.3) if rng.random() < 0.2 else rng.uniform(0.0, 0.04)
        if trajectory in ("declining", "churned"):
            org.sync_fail_drift = rng.uniform(0.05, 0.25)
        org.upload_fail = rng.uniform(0.02, 0.12)
        org.score_rate = (
            rng.uniform(0.55, 0.8) if trajectory == "declining" else rng.uniform(0.8, 0.98)
        )
        org.intervention_rate = rng.uniform(0.5, 1.0)
        if rng.random() < 0.7:
            org.sso_day = start + rng.randint(0, 13)
        hours = _LOCAL_HOURS[kind]
        local = rng.choices(list(hours), weights=list(hours.values()), k=_TABLE_SIZE)
        org.minutes = [(h * 60 + rng.randrange(60) - offset) % 1440 for h in local]
        org.courses = [(f"course-{n}-{k}", rng.randint(8, 20)) for k in range(rng.randint(3, 10))]
        self._levels(org)
        self._people(org)
        self._implementation(org)
        return org

    def _aggregate_showcase(self, seed: int) -> None:
        """Give one large employer four locations that show what the aggregate view hides.

        Locations of 4 (below the minimum cohort of 10) and 12 people (the smallest other one,
        hidden so the 4 cannot be worked out from the total), and two large ones; admins sit in
        the largest, so there is no "(no unit)" part. Its own random stream leaves every other
        message of a seed unchanged: employees' units are not used by their activity.
        """
        preference = {"steady": 0, "declining": 1, "growing": 2}
        candidates = [
            o
            for o in self.orgs
            if o.kind == "employer" and o.trajectory in preference and len(o.members) >= 50
        ]
        if not candidates:
            return
        org = min(candidates, key=lambda o: (preference[o.trajectory], -len(o.members), o.n))
        side = random.Random(f"{seed}:aggregate")
        names = side.sample([f"{c} {k}" for c in _SITE_CITIES for k in _SITE_KINDS], 4)
        org.units = [
            _Unit(group_id=f"{org.group_id}-u{k}", name=name, kind="location")
            for k, name in enumerate(names, start=1)
        ]
        staff = [m for m in org.members if m.role != "admin"]
        side.shuffle(staff)
        rest = len(staff) - 4 - 12
        second = round(rest * 0.4)
        sizes = [rest - second, second, 12, 4]
        start = 0
        for unit, size in zip(org.units, sizes, strict=True):
            for member in staff[start : start + size]:
                member.unit = unit
            start += size
        for admin in org.admins:
            admin.unit = org.units[0]
        org.showcase = True

    def _implementation(self, org: _Org) -> None:
        """Rostering, LMS connection, resubmission habits and required standards."""
        side = self.side
        org.rostered = side.random() >= 0.12
        if side.random() < 0.8:
            org.lms = side.choice(_LMS)
            org.lms_day = org.start + side.randint(0, 20)
        few = side.random() >= 0.15
        org.resubmit_rate = side.uniform(0.01, 0.06) if few else side.uniform(0.12, 0.3)
        if org.kind == "district" and side.random() < 0.6:
            required = side.sample(_STANDARDS, side.randint(8, 14))
            others = [s for s in _STANDARDS if s not in required]
            # Some required standards no assessment is aligned to: coverage below 100%.
            untaught = side.choice((0, 0, 1, 2, 4))
            org.required_standards = required
            org.taught_standards = required[untaught:] + side.sample(others, 2)

    def _levels(self, org: _Org) -> None:
        """Per day: the org-wide activity level (a member's base chance of being active)."""
        rng, t = self.rng, org.trajectory
        span = max(1, org.end - org.start - 1)
        base = rng.uniform(0.42, 0.6)
        low, high = rng.uniform(0.12, 0.2), rng.uniform(0.55, 0.72)
        p1, p2 = rng.uniform(20, 45), rng.uniform(60, 120)
        f1, f2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
        weekend, holiday = _WEEKEND[org.kind], _HOLIDAY[org.kind]
        levels = [0.0] * self.days
        for d in range(max(0, org.start), min(self.days, org.end)):
            u = (d - org.start) / span
            if t == "growing":
                level = low + (high - low) * _smooth(u)
            elif t == "declining":
                level = high - (high - low) * _smooth(u)
            elif t == "churned":
                level = base * (1 - 0.9 * _smooth((u - 0.55) / 0.45))
            elif t == "new":
                level = base * (0.2 + 0.8 * _smooth((d - org.start) / 21))
            else:
                level = base
            level *= (
                1
                + 0.07 * math.sin(2 * math.pi * d / p1 + f1)
                + 0.05 * math.sin(2 * math.pi * d / p2 + f2)
            )
            day = self.first_midnight + timedelta(days=d)
            if day.weekday() >= 5:
                level *= weekend
            if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 2):
                level *= holiday
            levels[d] = level
        org.levels = levels

    def _person(self) -> tuple[str, str]:
        rng = self.rng
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        local = f"{_ascii(first)}.{_ascii(last)}"
        seen = self.emails_taken.get(local, 0)
        self.emails_taken[local] = seen + 1
        if seen:
            local = f"{local}{seen + 1}"
        domain = rng.choice(("example.com", "example.org"))
        return f"{first} {last}", f"{local}@{domain}"

    def _units(self, org: _Org, count: int) -> None:
        rng = self.rng
        if org.kind == "district":
            kind = "school"
            pool = [f"{s} {lvl}" for s in _SCHOOL_NAMES for lvl in _SCHOOL_LEVELS]
        elif org.kind == "university":
            kind, pool = "program", list(_PROGRAMS)
        else:
            kind = "location"
            pool = [f"{c} {s}" for c in _SITE_CITIES for s in _SITE_KINDS]
        for k, name in enumerate(rng.sample(pool, count), start=1):
            org.units.append(_Unit(group_id=f"{org.group_id}-u{k}", name=name, kind=kind))

    def _people(self, org: _Org) -> None:
        rng, seats = self.rng, org.seats
        admins = 2 if seats >= 150 else 1
        if org.kind == "district":
            staff_role, staff = "teacher", max(2, round(seats * 0.08))
            self._units(org, min(staff, max(2, min(8, seats // 50 + rng.randint(0, 3)))))
            crowd_role = "student"
        elif org.kind == "university":
            staff_role, staff = "advisor", max(2, round(seats * 0.05))
            self._units(org, min(staff, rng.randint(2, 5)))
            crowd_role = "student"
        else:
            staff_role, staff = "employee", 0
            self._units(org, rng.randint(1, 4))
            crowd_role = "employee"
        roles = ["admin"] * admins + [staff_role] * staff
        roles += [crowd_role] * max(1, seats - len(roles))
        joins_late = {"growing": 0.35, "new": 1.0}.get(org.trajectory, 0.0)
        leaves_early = {"declining": 0.3}.get(org.trajectory, 0.0)
        for i, role in enumerate(roles, start=1):
            if role == "admin":
                unit = None
            elif role in ("teacher", "advisor"):  # spread staff over every unit first
                unit = org.units[(i - admins - 1) % len(org.units)]
            else:
                unit = rng.choice(org.units)
            join, leave = org.start, org.end
            if role != "admin" and rng.random() < joins_late:
                if org.trajectory == "new":
                    join = org.start + rng.randint(0, 14)
                else:
                    join = rng.randint(org.start, max(org.start, org.end - 1))
            if role != "admin" and rng.random() < leaves_early:
                first = org.start + (org.end - org.start) // 5
                leave = rng.randint(first, max(first, org.end))
            if role in ("admin", "teacher", "advisor"):
                engagement = rng.uniform(0.8, 1.3)
            elif rng.random() < 0.06:
                engagement = 0.03  # rostered but barely uses the product
            else:
                engagement = rng.uniform(0.45, 1.45)
            name, email = self._person()
            member = _Member(
                user_id=f"u-{org.n}-{i}",
                role=role,
                unit=unit,
                name=name,
                email=email,
                join=join,
                leave=leave,
                engagement=engagement * _ROLE_FACTOR[role],
            )
            org.members.append(member)
            if role == "admin":
                org.admins.append(member)
            elif unit is not None and role == "teacher":
                unit.teachers.append(member)
            elif unit is not None and role == "advisor":
                unit.advisors.append(member)

    # ------------------------------------------------------------------ emitting
    def _mid(self) -> str:
        self.counter += 1
        return self.id_prefix + str(self.counter)

    def _directory_time(self, day: int, seconds: int) -> str:
        moment = self.first_midnight + timedelta(days=min(day, self.days - 1), seconds=seconds)
        return _iso(min(max(moment, self.window_start), self.latest_directory))

    def _directory(self, org: _Org) -> Iterator[Msg]:
        ctx = {"groupId": org.group_id}
        yield {
            "type": "group",
            "messageId": self._mid(),
            "timestamp": self._directory_time(org.start, 0),
            "groupId": org.group_id,
            "userId": org.admins[0].user_id,
            "traits": {
                "name": org.name,
                "kind": org.kind,
                "timezone": org.timezone,
                "plan": org.plan,
                "trajectory": org.trajectory,
                "seats": org.seats,
                **({"showcase": "aggregate"} if org.showcase else {}),
                **(
                    {"required_standards": list(org.required_standards)}
                    if org.required_standards
                    else {}
                ),
                **(
                    {
                        "churned_on": (self.first_midnight + timedelta(days=org.end))
                        .date()
                        .isoformat()
                    }
                    if org.trajectory == "churned"
                    else {}
                ),
            },
        }
        for k, unit in enumerate(org.units, start=1):
            yield {
                "type": "group",
                "messageId": self._mid(),
                "timestamp": self._directory_time(org.start, k),
                "groupId": unit.group_id,
                "traits": {"name": unit.name, "kind": unit.kind, "parent_group_id": org.group_id},
            }
        for i, m in enumerate(org.members):
            traits: dict[str, Any] = {"role": m.role}
            if m.unit is not None:
                traits["unit"] = m.unit.group_id
            traits["name"] = m.name
            traits["email"] = m.email
            if org.kind == "university" and m.role == "student":
                traits["cohort"] = _cohort_of(i)
            yield {
                "type": "identify",
                "messageId": self._mid(),
                "timestamp": self._directory_time(m.join, 30 + i if m.join == org.start else i),
                "userId": m.user_id,
                "traits": traits,
                "context": dict(ctx),
            }
