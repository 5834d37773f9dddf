"""Deterministic synthetic Segment traffic for demos, screenshots and load tests.

``generate`` plays a B2B SaaS vendor whose customers are school districts, universities and
employers. It yields batches (at most ``BATCH_SIZE`` messages each) ready to POST to
``/v1/batch``:

1. the directory first: per organization one ``group`` call (with an admin ``userId``), one
   ``group`` call per unit (``traits.parent_group_id`` names the org) and one ``identify`` per
   member (``context.groupId`` names the org, ``traits.unit`` the unit);
2. then the activity (``track`` and ``page``), day by day, over ``days`` days ending at ``now``.

Every organization follows a trajectory (steady, growing, declining, churned, new): a member's
daily chance of being active moves smoothly along it, weekends and the late-December holidays are
quieter. Half of the organizations send ``context.groupId`` with their activity, the other half
leave it out so that OrgPulse attributes it through the member's organization.

The output depends only on the arguments: one ``random.Random(seed)`` drives everything, nothing
reads the wall clock or iterates a hash-ordered set. Activity timestamps lie in
``[now - days, now - 1 minute)``; directory timestamps in ``[now - days, now - 61 seconds]``.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "BATCH_SIZE",
    "DEMO_DAYS_MAX",
    "DEMO_DAYS_MIN",
    "DEMO_ORG_COUNT_MIN",
    "KINDS",
    "TRAJECTORIES",
    "generate",
]

DEMO_ORG_COUNT_MIN = 1
DEMO_DAYS_MIN = 1
# Below the default 730-day retention with room for the time between generating and ingesting.
DEMO_DAYS_MAX = 720
BATCH_SIZE = 500

TRAJECTORIES = ("steady", "growing", "declining", "churned", "new")
_TRAJECTORY_SHARES = (0.35, 0.25, 0.20, 0.10, 0.10)
KINDS = ("district", "university", "employer")
_KIND_SHARES = (0.45, 0.25, 0.30)

Msg = dict[str, Any]

# ---------------------------------------------------------------------------- vocabulary
_PLACES = (
    "Riverside", "Lakewood", "Cedar Falls", "Maple Grove", "Fairview", "Oak Ridge",
    "Springfield", "Greenville", "Brookhaven", "Pine Bluff", "Westfield", "Clearwater",
    "Harmony", "Silver Lake", "Franklin", "Madison", "Jefferson", "Granite City",
    "Willow Creek", "Bayside", "Highland Park", "Elmwood", "Stonebridge", "Mesa Verde",
    "Red Rock", "Prairie View", "Northfield", "Eastport", "Hillsboro", "Kingsport", "Marion",
    "Clayton", "Sierra Vista", "Coral Springs", "Blue Ridge", "Ashland", "Fox River",
    "Rolling Hills", "Santa Rosa", "Lake Charles",
)  # fmt: skip
_DISTRICT_FORMS = (
    "{} Unified School District", "{} Independent School District", "{} Public Schools",
    "{} County Schools", "{} Area School District", "{} Community Schools",
)  # fmt: skip
_UNIVERSITY_FORMS = (
    "{} State University", "University of {}", "{} Community College", "{} College",
    "{} Technical College",
)  # fmt: skip
_EMPLOYER_FIRST = (
    "Northwind", "Bluebird", "Summit", "Ironwood", "Brightpath", "Harbor", "Keystone",
    "Evergreen", "Redwood", "Lumen", "Cascade", "Pioneer", "Sterling", "Atlas", "Meridian",
    "Crescent", "Beacon", "Silverline", "Tidewater", "Contoso",
)  # fmt: skip
_EMPLOYER_SECOND = (
    "Logistics", "Health", "Manufacturing", "Foods", "Retail", "Energy", "Financial",
    "Hospitality", "Construction", "Staffing", "Analytics", "Telecom",
)  # fmt: skip
_SCHOOL_NAMES = (
    "Washington", "Roosevelt", "Lincoln", "Kennedy", "Garfield", "Hawthorne", "Emerson",
    "Whitman", "Sequoia", "Valley View", "Hillcrest", "Sunset", "Meadowbrook", "Parkside",
    "Lakeside", "Cesar Chavez", "Sojourner Truth", "Rosa Parks", "Mountain View", "Ridgecrest",
)  # fmt: skip
_SCHOOL_LEVELS = ("Elementary School", "Middle School", "High School", "Academy")
_PROGRAMS = (
    "School of Nursing", "College of Engineering", "Business Administration",
    "Computer Science", "Teacher Education", "Biology", "Psychology", "Liberal Arts",
    "Criminal Justice", "Health Sciences",
)  # fmt: skip
_SITE_CITIES = (
    "Dallas", "Memphis", "Columbus", "Reno", "Tacoma", "Omaha", "Tulsa", "Raleigh", "Boise",
    "Albany", "Fresno", "Toledo",
)  # fmt: skip
_SITE_KINDS = ("Warehouse", "Office", "Distribution Center", "Plant", "Service Center")
_FIRST_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Sofia", "Liam", "Olivia", "Noah", "Emma", "Mateo",
    "Ava", "Ethan", "Priya", "Lucas", "Mia", "Jamal", "Chloe", "Diego", "Hannah", "Kenji",
    "Grace", "Omar", "Isabella", "Daniel", "Fatima", "Samuel", "Zoë", "Andre", "Lily",
    "Carlos", "Nora", "Elijah", "Leah", "José", "Harper", "Tariq", "Ruby", "Minh", "Elena",
    "Marcus", "Ingrid", "Kwame", "Yuki", "Gabriel", "Amara", "Owen", "Lucía", "Henry",
    "Nadia", "Caleb",
)  # fmt: skip
_LAST_NAMES = (
    "Garcia", "Smith", "Nguyen", "Johnson", "Patel", "Williams", "Kim", "Brown", "Martinez",
    "Jones", "Chen", "Davis", "Rodriguez", "Miller", "Okafor", "Wilson", "Hernández",
    "Anderson", "Singh", "Thomas", "Lopez", "Taylor", "O'Brien", "Moore", "Ali", "Jackson",
    "Müller", "White", "Tanaka", "Harris", "Rossi", "Clark", "Kowalski", "Lewis", "Haddad",
    "Walker", "Mensah", "Young", "Ivanova", "King",
)  # fmt: skip
_TIMEZONES = (  # (zone, standard UTC offset in minutes, weight)
    ("America/New_York", -300, 30), ("America/Chicago", -360, 25),
    ("America/Denver", -420, 10), ("America/Phoenix", -420, 5),
    ("America/Los_Angeles", -480, 20), ("America/Detroit", -300, 4),
    ("America/Indiana/Indianapolis", -300, 3), ("America/Anchorage", -540, 2),
    ("Pacific/Honolulu", -600, 1),
)  # fmt: skip
_LOCAL_HOURS = {  # local hour → relative weight of sessions starting in it
    "district": {6: 1, 7: 4, 8: 9, 9: 10, 10: 10, 11: 9, 12: 8, 13: 9, 14: 9, 15: 7, 16: 5,
                 17: 3, 18: 3, 19: 4, 20: 4, 21: 2, 22: 1},
    "university": {0: 2, 1: 1, 8: 2, 9: 5, 10: 8, 11: 9, 12: 8, 13: 9, 14: 9, 15: 8, 16: 7,
                   17: 6, 18: 5, 19: 6, 20: 7, 21: 7, 22: 5, 23: 3},
    "employer": {7: 3, 8: 8, 9: 10, 10: 10, 11: 9, 12: 6, 13: 9, 14: 9, 15: 8, 16: 6, 17: 3,
                 18: 1},
}  # fmt: skip
_WEEKEND = {"district": 0.12, "university": 0.45, "employer": 0.08}
_HOLIDAY = {"district": 0.08, "university": 0.18, "employer": 0.45}
_SIS = {
    "district": ("PowerSchool", "Infinite Campus", "Skyward", "Clever", "ClassLink"),
    "university": ("Banner", "PeopleSoft", "Workday Student", "Colleague"),
    "employer": ("Workday", "BambooHR", "ADP", "UKG"),
}
_SSO_PROVIDERS = ("Google Workspace", "Microsoft Entra ID", "Okta", "Clever", "ClassLink")
_SYNC_ERRORS = (
    "SIS timeout", "duplicate student id", "invalid credentials", "rate limited by SIS",
    "missing required field: grade",
)  # fmt: skip
_UPLOAD_ERRORS = ("network timeout", "file too large", "unsupported file type", "virus scan")
_FILE_TYPES = ("pdf", "docx", "png", "jpg", "mp4", "pptx")
_LOGIN_FAILURES = ("invalid password", "account locked", "sso assertion failed", "expired link")
_RISK_LEVELS = ("low", "moderate", "high", "critical")
_RISK_WEIGHTS = (40, 30, 20, 10)
_RISK_REASONS = ("low engagement", "missed deadlines", "grade drop", "attendance")
_INTERVENTION_TYPES = ("meeting", "email", "phone call", "referral", "tutoring")
# Per risk level: chance an advisor intervenes, and the longest delay in days before it.
_INTERVENE = {"low": (0.35, 10), "moderate": (0.6, 7), "high": (0.8, 4), "critical": (0.95, 2)}
_ROLE_FACTOR = {"teacher": 1.15, "student": 0.95, "advisor": 1.1, "employee": 0.8, "admin": 0.6}

_MINUTE = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECOND = tuple(f"{s:02d}Z" for s in range(60))
_TABLE_SIZE = 1024


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


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- generator
class _Generator:
    def __init__(self, *, orgs: int, days: int, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.now = now
        self.id_prefix = f"demo-{seed}-"
        self.counter = 0
        self.out: list[Msg] = []
        self.first_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=days - 1
        )
        self.window_start = now - timedelta(days=days)
        self.latest_directory = now - timedelta(seconds=61)
        self.names_taken: set[str] = set()
        self.emails_taken: dict[str, int] = {}
        self.orgs = [self._org(n, t, k) for n, (t, k) in enumerate(self._plan(orgs), start=1)]

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
        return org

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
            yield {
                "type": "identify",
                "messageId": self._mid(),
                "timestamp": self._directory_time(m.join, 30 + i if m.join == org.start else i),
                "userId": m.user_id,
                "traits": traits,
                "context": dict(ctx),
            }

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

    def run(self) -> Iterator[list[Msg]]:
        rng = self.rng
        # Exactly half (rounded down) of the orgs send context.groupId with their activity.
        for org in rng.sample(self.orgs, len(self.orgs) // 2):
            org.with_group_context = True
        directory: list[Msg] = [msg for org in self.orgs for msg in self._directory(org)]
        for i in range(0, len(directory), BATCH_SIZE):
            yield directory[i : i + BATCH_SIZE]
        last_minute = self.now - timedelta(minutes=1)
        for d in range(self.days):
            day = self.first_midnight + timedelta(days=d)
            prefix = day.strftime("%Y-%m-%dT")
            # Latest whole minute that still ends before now - 1 minute.
            maxmin = min(1439, int((last_minute - day).total_seconds()) // 60 - 1)
            if maxmin < 0:
                continue
            for org in self.orgs:
                if org.start <= d < org.end:
                    self._org_day(org, d, prefix, maxmin)
                if len(self.out) >= BATCH_SIZE:
                    cut = len(self.out) - len(self.out) % BATCH_SIZE
                    for i in range(0, cut, BATCH_SIZE):
                        yield self.out[i : i + BATCH_SIZE]
                    self.out = self.out[cut:]
        if self.out:
            yield self.out
            self.out = []

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
        if not (weekend and org.kind == "employer"):
            sync_minute = (120 + int(r() * 60) - org.offset) % 1440
            if sync_minute <= maxmin:
                u = (d - org.start) / max(1, org.end - org.start)
                sync_id = org.next_id("sync")
                if r() < org.sync_fail + org.sync_fail_drift * u:
                    track(
                        org,
                        admin,
                        at(sync_minute),
                        "Roster Sync Failed",
                        {"sync_id": sync_id, "source": org.sis, "error": rng.choice(_SYNC_ERRORS)},
                    )
                else:
                    track(
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
                track(
                    org,
                    teacher.user_id,
                    at(session_start()),
                    "Submission Scored",
                    {
                        "assignment_id": assignment_id,
                        "submission_id": submission_id,
                        "score": 50 + int(r() * 51),
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
                    track(org, uid, at(t), "Course Enrolled", {"course_id": course_id})
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
                track(
                    org,
                    uid,
                    at(t),
                    "Assignment Created",
                    {"assignment_id": assignment_id, "due_in_days": 2 + int(r() * 12)},
                )
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


def generate(
    *, orgs: int = 60, days: int = 400, seed: int = 1, now: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Yield batches (lists of at most ``BATCH_SIZE``) of Segment messages for a demo tenant set.

    Deterministic for a given ``orgs``, ``days``, ``seed`` and ``now`` (which must be
    timezone-aware). Directory messages (``group``/``identify``) for every org come first, then
    activity day by day. Raises ``ValueError`` for out-of-range arguments.
    """
    if isinstance(orgs, bool) or not isinstance(orgs, int) or orgs < DEMO_ORG_COUNT_MIN:
        raise ValueError(f"orgs must be an integer >= {DEMO_ORG_COUNT_MIN}, got {orgs!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < DEMO_DAYS_MIN:
        raise ValueError(f"days must be an integer >= {DEMO_DAYS_MIN}, got {days!r}")
    if days > DEMO_DAYS_MAX:
        raise ValueError(
            f"days must be at most {DEMO_DAYS_MAX} (older events fall outside the retention "
            f"horizon and would be rejected), got {days}"
        )
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return _Generator(orgs=orgs, days=days, seed=seed, now=now.astimezone(UTC)).run()
