"""Cross-tenant matrix: every route of the app × every role × own org / foreign org / no org.

How a route is covered
----------------------
The routes come from the running app (``app.routes``, expanded through FastAPI's included
routers), so a route added later is in the matrix without touching this file. Every path
parameter is filled by ``PATH_FILLERS`` (by parameter name); a parameter nobody knows how to fill
fails ``test_every_route_is_classified`` loudly, and so does a writing route (POST/PUT/PATCH/
DELETE) without an entry in ``BODIES``. The only routes not requested are listed in ``EXCLUDED``
with the reason.

How parameters are filled
-------------------------
Two orgs, Kestrel (A) and Marmot (B), hold the same kinds of data; every name, id, unit, member,
event name, email domain, course, follow-up, support request and alert of each is a marker
string unique to that org. For a target org, ``{org}`` is its slug and every other object
parameter (``{course}``, ``{tracking_id}``, ``{item_id}``, ``{alert_id}``, ``{subscription_id}``)
is that org's own object, so a foreign request aims at real foreign rows. Targets:

* ``own``: org A (the org of every membership role, and the one org of an account manager of
  both orgs calling with an API token limited to A); for all-org staff, org A as well;
* ``foreign``: org B; for all-org staff (who reach both orgs) the request is allowed, and the
  check becomes "a page about B shows nothing of A";
* ``none``: an org that does not exist (``no-such-org-zz``, object ids that do not exist);
* ``own+foreign-ids``: org A in the path with B's objects (courses, follow-ups, support
  requests) in the other parameters, for routes that take them.

Routes without ``{org}`` get the foreign org as ``?org=`` when they take that query parameter,
and B's objects in their id parameters and bodies; a route with nothing to aim at another org
runs once (``own``).

What is asserted
----------------
No response is a 5xx. Anonymous requests are refused (401, 403 or a redirect to ``/login``)
except on the public routes in ``PUBLIC``. A signed-in read follows its redirects (``/?org=``
leads to the org's page) and is judged where it ends. A target outside the role's reach answers
401, 403 or 404, whether it is in the path, in an object id or in ``?org=``.
No response body (HTML, JSON, CSV, or the text of a PDF) contains a marker of an org outside the
role's reach, and a response about one org contains no marker of the other, whoever asks — apart
from a marker the request itself carried (an echoed reference). Writing routes are sent only
where they must be refused (a target outside the role's reach, foreign ids, anonymous): they must
answer 4xx (or the login redirect) and leave the database unchanged (a digest of every table
except the audit trail, sessions and tokens, before and after each route's writes). A write that
only ever touches the caller's own rows (``NO_OP_WRITES``) may answer as it does for an unknown
id, but is held to the same digest. A write the role may make is not sent.

Cost: one data set for the module, about 3,000 requests (principals × routes × targets).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, text
from starlette.routing import Mount, Route

from dbreset import truncate_all
from factories import Factory
from orgpulse.alerts import evaluate_alerts
from orgpulse.auth import Role, create_api_token, find_user_id, grant_membership
from orgpulse.auth.roles import ALL_ORG_ROLES
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.ops.checklist import ITEM_KEYS
from orgpulse.ops.wizard import STEP_KEYS
from reports.helpers import pdf_text

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANONYMOUS = "anonymous"
# An account manager of both orgs calling with an API token limited to org A: the token, not
# the user's memberships, bounds the reach.
LIMITED_TOKEN = "account_manager_token_limited_to_a"
ROLES: tuple[str, ...] = (*(r.value for r in Role), LIMITED_TOKEN, ANONYMOUS)

# Routes that answer without signing in, and carry no org data.
PUBLIC = frozenset({
    ("GET", "/login"), ("GET", "/api/health"), ("GET", "/api/docs"), ("GET", "/openapi.json"),
    ("GET", "/docs/runbooks"), ("GET", "/docs/runbooks/{name}"),
    ("GET", "/dashboard"),  # the org switcher's redirect to /orgs/<org>, which checks access
})
EXCLUDED = {
    "/static": "static files (a mount, no handler of ours, no org data)",
    "/static/swagger": "the Swagger UI bundle's files (a mount, no org data)",
    "POST /login": "signing in itself, no org in it; rate limits and failures: tests/auth",
    "POST /logout": "would end the session the matrix signs in with; writes no tenant data",
}


# ---------------------------------------------------------------------------------- the world
@dataclass(frozen=True)
class OrgData:
    """One target's values for every parameter, and the org's marker strings."""

    key: str  # "a", "b" or "none"
    slug: str
    external_id: str
    org_id: int | None
    course: str
    tracking_id: str
    follow_up_id: int
    alert_id: int
    subscription_id: int
    unit_id: int
    identity: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()


@dataclass
class World:
    a: OrgData
    b: OrgData
    none: OrgData
    endpoint_id: int
    delivery_id: int
    security_alert_id: int
    owner: Engine
    clients: dict[str, TestClient] = field(default_factory=dict)
    pdf_dir: Path = Path()

    @property
    def org_ids(self) -> list[int]:
        return [o for o in (self.a.org_id, self.b.org_id) if o is not None]

    def org(self, key: str) -> OrgData:
        data: OrgData = getattr(self, key)
        return data


@dataclass(frozen=True)
class Spec:
    ext: str
    name: str
    word: str  # capitalised marker word, e.g. "Kestrel"


SPECS = {"a": Spec("ext-kestrel-301", "Kestrel Schools", "Kestrel"),
         "b": Spec("ext-marmot-702", "Marmot District", "Marmot")}


def _identity(spec: Spec, slug: str) -> tuple[str, ...]:
    """What names the org itself: shown wherever a user who may open it picks an org."""
    return (spec.name, slug)


def _markers(spec: Spec) -> tuple[str, ...]:
    """What is inside the org: never shown on another org's page, nor to anyone without reach."""
    w, lw = spec.word, spec.word.lower()
    return (spec.ext, f"{w}Hill School", f"{lw}-teacher-1", f"{lw}-student-1",
            f"{w} Drill Completed", f"crs-{lw}-9", f"{lw}-mail.test", f"Call the {w} principal",
            f"{w} gradebook export is blank", f"{lw} upload quota reached")


def _build_org(factory: Factory, spec: Spec) -> tuple[int, int]:
    """Events through the real ingestion path; returns (org id, unit id)."""
    w, lw = spec.word, spec.word.lower()
    org = factory.org(spec.ext, spec.name, units=(f"{w}Hill School",))
    unit_ext = f"{spec.ext}-{w}Hill School"
    people = [(f"{lw}-teacher-1", "teacher"), (f"{lw}-student-1", "student")]
    result = factory.send([
        {"type": "identify", "userId": u, "traits": {"role": r, "unit": unit_ext},
         "context": {"groupId": spec.ext}} for u, r in people
    ])
    assert result.rejections == [] and result.unattributed == 0
    teacher, student = people[0][0], people[1][0]
    events = [
        (teacher, "Login", {}), (teacher, f"{w} Drill Completed", {}),
        (student, "Submission Created", {"submission_id": f"sub-{lw}"}),
        (teacher, "Submission Scored", {"submission_id": f"sub-{lw}"}),
        (student, "Course Enrolled", {"course_id": f"crs-{lw}-9", "lessons": 2}),
        (student, "Lesson Completed", {"course_id": f"crs-{lw}-9", "lesson": 1}),
        (student, "Risk Flagged", {"flag_id": f"flag-{lw}", "level": "high", "confidence": 0.9}),
        (student, "Upload Started", {"upload_id": f"up-{lw}"}),
        (student, "Upload Failed",
         {"upload_id": f"up-{lw}", "error": f"{lw} upload quota reached"}),
    ]
    result = factory.send([
        {"type": "track", "userId": u, "event": e, "properties": p,
         "context": {"groupId": spec.ext}} for u, e, p in events
    ])
    assert (result.accepted, result.rejections) == (len(events), [])
    with unscoped(factory.engine) as conn:
        unit = conn.execute(
            text("SELECT unit_id FROM directory_groups WHERE external_id = :e"), {"e": unit_ext}
        ).scalar_one()
    return org, unit


def _ok(response: Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _org_objects(factory: Factory, client: TestClient, *, spec: Spec, slug: str,
                 admin_token: str, owner_id: int) -> tuple[str, int]:
    """A support request and a follow-up in the org, made through the API by its org admin."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    support = _ok(client.post(
        f"/api/v1/orgs/{slug}/support-requests", headers=headers,
        data={"category": "reporting", "severity": "normal",
              "description": f"{spec.word} gradebook export is blank"},
    ))
    due = (clock.now() + timedelta(days=7)).date().isoformat()
    follow_up = _ok(client.post(
        f"/api/v1/orgs/{slug}/follow-ups", headers=headers,
        json={"title": f"Call the {spec.word} principal", "owner_user_id": owner_id,
              "due_date": due},
    ))
    return str(support["tracking_id"]), int(follow_up["item_id"])


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    """One data set for the whole module: ``world`` truncates once, at its end (instead of the
    suite's truncation after every test), so the matrix builds its orgs a single time."""
    yield


@pytest.fixture(scope="module")
def world(engine: Engine, owner: Engine, settings: Settings, app: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    factory = Factory(engine=engine, settings=settings, app=app)
    clients: dict[str, TestClient] = {}
    try:
        yield _build_world(factory, owner, clients, tmp_path_factory.mktemp("pdf"))
    finally:
        for c in clients.values():
            c.close()
        truncate_all(owner)


def _build_world(factory: Factory, owner: Engine, clients: dict[str, TestClient],
                 pdf_dir: Path) -> World:
    orgs = {k: _build_org(factory, s) for k, s in SPECS.items()}
    a, a_unit = orgs["a"]
    emails: dict[str, str] = {}
    for role in Role:
        lw = SPECS["a"].word.lower()
        email = f"{role.value}@{lw}-mail.test" if role not in ALL_ORG_ROLES else (
            f"{role.value}@staff.example.test")
        emails[role.value] = factory.user(
            role, org_id=None if role in ALL_ORG_ROLES else a, email=email,
            unit_ids=(a_unit,) if role == Role.UNIT_ADMIN else ())
    b_admin = factory.user(Role.ORG_ADMIN, org_id=orgs["b"][0], email="org_admin@marmot-mail.test")
    with scoped(factory.engine, TenantScope.of([o for o, _ in orgs.values()])) as conn:
        slugs: dict[int, str] = dict(conn.execute(text("SELECT org_id, slug FROM orgs")).all())
    plain = TestClient(factory.app, base_url="http://testserver")
    clients["_setup"] = plain
    admins = {"a": emails[Role.ORG_ADMIN.value], "b": b_admin}
    objects: dict[str, tuple[str, int]] = {}
    for key, spec in SPECS.items():
        with unscoped(factory.engine) as conn:
            owner_id = find_user_id(conn, email=admins[key])
        objects[key] = _org_objects(factory, plain, spec=spec, slug=slugs[orgs[key][0]],
                                    admin_token=factory.token(admins[key]), owner_id=owner_id)
    # A webhook endpoint (platform object), then an alert per org: a low health score, evaluated;
    # the alert message names the org and a delivery to the webhook carries it.
    root = {"Authorization": f"Bearer {factory.token(emails[Role.PLATFORM_ADMIN.value])}"}
    endpoint = _ok(plain.post("/api/v1/admin/webhooks", headers=root,
                              json={"name": "ops hook", "url": "https://hooks.example.test/x"}))
    for org_id, _ in orgs.values():
        with scoped(factory.engine, TenantScope.of([org_id])) as conn:
            conn.execute(text(
                "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
                " components) VALUES (:o, current_date, 0, 10, 'scored', 'default', '[]')"),
                {"o": org_id})
    with factory.engine.begin() as conn:
        evaluate_alerts(conn, settings=factory.settings, now=clock.now())
    with unscoped(factory.engine) as conn:
        alert_ids = dict(conn.execute(text(
            "SELECT org_id, min(alert_id) FROM alerts WHERE org_id IS NOT NULL GROUP BY org_id"
        )).all())
        delivery_id = conn.execute(text("SELECT min(delivery_id) FROM deliveries")).scalar_one()
    assert set(alert_ids) == {orgs["a"][0], orgs["b"][0]}
    assert delivery_id is not None
    # A business-review subscription of each org's admin (a foreign user's row for the other).
    subscriptions = {}
    for key in SPECS:
        headers = {"Authorization": f"Bearer {factory.token(admins[key])}"}
        body = _ok(plain.post("/api/v1/reports/subscriptions", headers=headers,
                              json={"report": "business_review", "org": slugs[orgs[key][0]],
                                    "cadence": "monthly"}))
        subscriptions[key] = int(body["subscription_id"])
    with unscoped(factory.engine) as conn:
        security_alert_id = conn.execute(
            text("SELECT COALESCE(min(alert_id), 999999) FROM security_alerts")).scalar_one()

    def data(key: str) -> OrgData:
        org_id = orgs[key][0]
        return OrgData(
            key=key, slug=slugs[org_id], external_id=SPECS[key].ext, org_id=org_id,
            course=f"crs-{SPECS[key].word.lower()}-9", tracking_id=objects[key][0],
            follow_up_id=objects[key][1], alert_id=int(alert_ids[org_id]),
            subscription_id=subscriptions[key], unit_id=orgs[key][1],
            identity=_identity(SPECS[key], slugs[org_id]),
            markers=_markers(SPECS[key]))

    # A server error is an answer to assert on (a 500), not an exception that ends the test.
    for role, email in emails.items():
        client = TestClient(factory.app, base_url="http://testserver",
                            raise_server_exceptions=False)
        factory.login(client, email)
        clients[role] = client
    both = factory.user(Role.ACCOUNT_MANAGER, org_id=a, email="am-both@staff.example.test")
    with unscoped(factory.engine) as conn:
        user_id = find_user_id(conn, email=both)
        grant_membership(conn, user_id=user_id, org_id=orgs["b"][0], role=Role.ACCOUNT_MANAGER)
        token = create_api_token(conn, user_id=user_id, name="limited", org_id=a)
    clients[LIMITED_TOKEN] = TestClient(factory.app, base_url="http://testserver",
                                        raise_server_exceptions=False,
                                        headers={"Authorization": f"Bearer {token}"})
    clients[ANONYMOUS] = TestClient(factory.app, base_url="http://testserver",
                                    raise_server_exceptions=False)
    clients[ANONYMOUS].get("/login")  # a CSRF cookie, like a browser that opened a page
    none = OrgData(key="none", slug="no-such-org-zz", external_id="no-such-org-zz", org_id=None,
                   course="crs-nobody", tracking_id="SR-1999-99999", follow_up_id=999999,
                   alert_id=999999, subscription_id=999999, unit_id=999999)
    return World(a=data("a"), b=data("b"), none=none,
                 endpoint_id=int(endpoint["endpoint"]["endpoint_id"]),
                 delivery_id=int(delivery_id), security_alert_id=int(security_alert_id),
                 owner=owner, clients=clients, pdf_dir=pdf_dir)


# ---------------------------------------------------------------------------------- the routes
@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    query_params: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)(?::\w+)?}", self.path))

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def org_scoped(self) -> bool:
        return "org" in self.params


def _query_params(dependant: Dependant) -> Iterator[str]:
    """The query parameters of a route, its dependencies' included (e.g. the audit filters)."""
    yield from (p.name for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_params(sub)


def app_routes(app: Any) -> tuple[list[RouteCase], list[str]]:
    """Every (method, path) the app serves, and the paths of what is not an endpoint (mounts)."""
    cases, others = [], []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        assert isinstance(path, str), route
        if isinstance(route, APIRoute):  # query parameters of the route and its dependencies
            queries = frozenset(_query_params(route.dependant))
        elif isinstance(route, Route):
            queries = frozenset()
        else:
            assert isinstance(route, Mount), f"{path}: a route kind the matrix does not know"
            others.append(path)
            continue
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                cases.append(RouteCase(method, path, queries))
    return cases, others


# Values for path parameters, by name: (world, target org) -> value.
Filler = Callable[[World, OrgData], str]
PATH_FILLERS: dict[str, Filler] = {
    "org": lambda w, o: o.slug,
    "course": lambda w, o: o.course,
    "tracking_id": lambda w, o: o.tracking_id,
    "item_id": lambda w, o: str(o.follow_up_id),
    "alert_id": lambda w, o: str(o.alert_id),
    "subscription_id": lambda w, o: str(o.subscription_id),
    # Not per org: the same catalog keys, runbook and platform objects for every target.
    "key": lambda w, o: "teacher_activation",
    "item": lambda w, o: ITEM_KEYS[0],
    "step": lambda w, o: STEP_KEYS[0],
    "banner": lambda w, o: "stale_data",
    "name": lambda w, o: "lms",
    "rule_key": lambda w, o: "health_below",
    "endpoint_id": lambda w, o: str(w.endpoint_id),
    "delivery_id": lambda w, o: str(w.delivery_id),
}
# A parameter whose meaning depends on the route: security alerts are not operational alerts.
PATH_OVERRIDES: dict[tuple[str, str], Filler] = {
    ("/admin/security-alerts/", "alert_id"): lambda w, o: str(w.security_alert_id),
    ("/api/v1/security-alerts/", "alert_id"): lambda w, o: str(w.security_alert_id),
}
# Parameters that name a specific org's object (used for the own+foreign-ids target).
OBJECT_PARAMS = frozenset({"course", "tracking_id", "item_id", "alert_id", "subscription_id"})
# Query parameters that name an org's object: filled with the foreign org's object in the
# own+foreign-ids target (a unit filter, a follow-up prefilled from an alert, a course filter).
OBJECT_QUERIES: dict[str, Callable[[OrgData], str]] = {
    "unit": lambda o: str(o.unit_id),
    "alert": lambda o: str(o.alert_id),
    "course": lambda o: o.course,
}


@dataclass(frozen=True)
class Body:
    json: Any = None
    form: dict[str, str] | None = None


def _due(days: int) -> str:
    return (clock.now() + timedelta(days=days)).date().isoformat()


# A syntactically valid request body for every writing route, aimed at the target org: a
# request that is refused for access must be refused for access, not for a malformed body.
BodyMaker = Callable[[World, OrgData], Body]
_SEGMENT: BodyMaker = lambda w, o: Body(json={  # noqa: E731
    "type": "track", "userId": "intruder-1", "event": "Login", "context": {"groupId": o.external_id}
})
BODIES: dict[str, BodyMaker] = {
    "POST /v1/batch": lambda w, o: Body(json={"batch": [_SEGMENT(w, o).json]}),
    "POST /v1/track": _SEGMENT,
    "POST /v1/identify": lambda w, o: Body(json={"type": "identify", "userId": "intruder-1",
                                                 "context": {"groupId": o.external_id}}),
    "POST /v1/group": lambda w, o: Body(json={"type": "group", "groupId": o.external_id,
                                              "traits": {"name": "Renamed"}}),
    "POST /v1/page": lambda w, o: Body(json={"type": "page", "userId": "intruder-1",
                                             "name": "Home",
                                             "context": {"groupId": o.external_id}}),
    "POST /api/v1/orgs/{org}/hr-metrics": lambda w, o: Body(json={
        "org_id": o.external_id, "submission_date": _due(0), "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "metrics": {"retention": {"cohort_size": 45, "retained_count": 42,
                                  "retention_rate": 93.3}},
    }),
    "POST /admin/security-alerts/{alert_id}/acknowledge": lambda w, o: Body(form={}),
    "POST /api/v1/security-alerts/{alert_id}/acknowledge": lambda w, o: Body(),
    "PUT /api/v1/orgs/{org}/privacy": lambda w, o: Body(json={"min_cohort_size": 12}),
    "POST /orgs/{org}/baa": lambda w, o: Body(form={}),
    "POST /api/v1/orgs/{org}/baa": lambda w, o: Body(),
    "PUT /api/v1/orgs/{org}/rollout": lambda w, o: Body(json={"mode": "pilot"}),
    "PUT /api/v1/orgs/{org}/checklist/{item}": lambda w, o: Body(json={"status": "in_progress"}),
    "POST /api/v1/orgs/{org}/wizard/{step}": lambda w, o: Body(json={"action": "start"}),
    "POST /orgs/{org}/onboarding/rollout": lambda w, o: Body(form={"mode": "pilot"}),
    "POST /orgs/{org}/onboarding/checklist/{item}": lambda w, o: Body(
        form={"status": "in_progress"}),
    "POST /orgs/{org}/onboarding/wizard/{step}": lambda w, o: Body(form={"action": "start"}),
    "POST /orgs/{org}/banners/{banner}/dismiss": lambda w, o: Body(form={"next": "/"}),
    "POST /orgs/{org}/support": lambda w, o: Body(form={
        "category": "other", "severity": "low", "description": "intruder request"}),
    "POST /api/v1/orgs/{org}/support-requests": lambda w, o: Body(form={
        "category": "other", "severity": "low", "description": "intruder request"}),
    "POST /orgs/{org}/support/{tracking_id}/status": lambda w, o: Body(
        form={"status": "in_progress"}),
    "POST /admin/deliveries/{delivery_id}/retry": lambda w, o: Body(form={"back": "/"}),
    "POST /api/v1/admin/deliveries/{delivery_id}/retry": lambda w, o: Body(),
    "POST /admin/webhooks": lambda w, o: Body(form={"name": "intruder",
                                                    "url": "https://evil.example.test/"}),
    "POST /admin/webhooks/{endpoint_id}/enabled": lambda w, o: Body(form={"enabled": "false"}),
    "POST /admin/webhooks/{endpoint_id}/delete": lambda w, o: Body(form={}),
    "POST /api/v1/admin/webhooks": lambda w, o: Body(json={
        "name": "intruder", "url": "https://evil.example.test/"}),
    "PATCH /api/v1/admin/webhooks/{endpoint_id}": lambda w, o: Body(json={"enabled": False}),
    "DELETE /api/v1/admin/webhooks/{endpoint_id}": lambda w, o: Body(),
    "POST /alerts/{alert_id}/read": lambda w, o: Body(form={}),
    "POST /alerts/read-all": lambda w, o: Body(form={}),
    "POST /admin/alert-rules/{rule_key}": lambda w, o: Body(form={
        "enabled": "on", "channels": "in_app", "cooldown_minutes": "60", "threshold": "40"}),
    "PUT /api/v1/alert-rules/{rule_key}": lambda w, o: Body(json={
        "enabled": False, "channels": ["in_app"], "notify_org_admins": False,
        "cooldown_minutes": 60, "params": {"threshold": 40}}),
    "POST /reports/subscriptions": lambda w, o: Body(form={
        "report": "business_review", "org": o.slug, "cadence": "weekly"}),
    "POST /reports/subscriptions/{subscription_id}/delete": lambda w, o: Body(form={}),
    "POST /api/v1/reports/subscriptions": lambda w, o: Body(json={
        "report": "business_review", "org": o.slug, "cadence": "weekly"}),
    "DELETE /api/v1/reports/subscriptions/{subscription_id}": lambda w, o: Body(),
    "POST /orgs/{org}/follow-ups": lambda w, o: Body(form={
        "title": "intruder item", "note": "", "owner_user_id": "", "due_date": _due(3)}),
    "POST /api/v1/orgs/{org}/follow-ups": lambda w, o: Body(json={
        "title": "intruder item", "due_date": _due(3)}),
    "POST /orgs/{org}/follow-ups/{item_id}": lambda w, o: Body(form={
        "title": "renamed by intruder", "note": "", "owner_user_id": "", "due_date": _due(3),
        "status": "open"}),
    "PATCH /api/v1/orgs/{org}/follow-ups/{item_id}": lambda w, o: Body(json={
        "title": "renamed by intruder"}),
}


# ---------------------------------------------------------------------------------- the checks
# Writes keyed on the caller's own rows: another org's id matches nothing, so the answer is the
# same as for an id that does not exist (nothing revealed) and the database stays unchanged
# (asserted like every refused write).
# The audit trail records what was asked: the matrix's own requests about org A that carried
# org B's course id (the own+foreign-ids target) are A's records, readable by A's auditors.
AUDIT_TRAIL = ("/admin/audit", "/api/v1/audit")
NO_OP_WRITES = {
    "POST /alerts/{alert_id}/read": "marks read only the caller's own inbox row, then redirects",
}
# Tables a refused request may still write: the audit trail (a refusal is audited, which can
# raise a security alert), sessions and tokens (last seen), sign-in failures, job runs.
UNTRACKED = frozenset({"audit_records", "security_alerts", "web_sessions", "api_tokens",
                       "login_failures", "job_runs"})


def database_digest(owner: Engine, org_ids: list[int]) -> dict[str, str]:
    """A hash of every row of every table (tenant and platform) but ``UNTRACKED``."""
    with scoped(owner, TenantScope.all_orgs(org_ids, user_id=None)) as conn:
        tables = sorted(set(conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            "  AND c.relname <> 'alembic_version'")).scalars()) - UNTRACKED)
        sql = " UNION ALL ".join(
            f"SELECT '{t}', md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), ''))"  # noqa: S608
            f" FROM {t} x" for t in tables)
        return {str(r[0]): str(r[1]) for r in conn.execute(text(sql))}


@dataclass(frozen=True)
class Target:
    name: str  # own, foreign, none, own+foreign-ids
    path_org: OrgData  # the org in {org} / ?org= / bodies
    objects: OrgData  # whose objects fill the other parameters


def targets(world: World, case: RouteCase) -> list[Target]:
    own = Target("own", world.a, world.a)
    if case.org_scoped:
        found = [own, Target("foreign", world.b, world.b), Target("none", world.none, world.none)]
        if OBJECT_PARAMS & set(case.params) or set(OBJECT_QUERIES) & case.query_params:
            found.append(Target("own+foreign-ids", world.a, world.b))
        return found
    aims = (OBJECT_PARAMS & set(case.params)) or "org" in case.query_params or (
        case.writes and any(m in str(BODIES[case.label](world, world.b))
                            for m in (world.b.slug, world.b.external_id)))
    if not aims:
        return [own]
    return [own, Target("foreign", world.b, world.b), Target("none", world.none, world.none)]


def reach(world: World, role: str) -> set[str]:
    if role == ANONYMOUS:
        return set()
    if role == LIMITED_TOKEN:
        return {"a"}
    return {"a", "b"} if Role(role) in ALL_ORG_ROLES else {"a"}


def fill_path(world: World, case: RouteCase, target: Target) -> str:
    path = case.path
    for param in case.params:
        override = next((f for (prefix, p), f in PATH_OVERRIDES.items()
                         if p == param and case.path.startswith(prefix)), None)
        filler = override or PATH_FILLERS[param]
        source = target.path_org if param == "org" or param not in OBJECT_PARAMS else (
            target.objects)
        path = re.sub(r"\{" + param + r"(?::\w+)?\}", filler(world, source), path)
    return path


def body_text(response: Response, pdf_dir: Path) -> str:
    if response.headers.get("content-type", "").startswith("application/pdf"):
        return pdf_text(response.content, pdf_dir)
    return response.text


def send(world: World, role: str, case: RouteCase, target: Target) -> tuple[Response, str]:
    """Make the request; return the response and the request's own text (for echoes)."""
    client = world.clients[role]
    url = fill_path(world, case, target)
    params = {"org": target.path_org.slug} if "org" in case.query_params else {}
    if target.path_org.key != target.objects.key:
        params |= {q: fill(target.objects) for q, fill in OBJECT_QUERIES.items()
                   if q in case.query_params}
    csrf = client.cookies.get("orgpulse_csrf") or ""
    headers = {"x-csrf-token": csrf}
    body = BODIES[case.label](world, target.path_org) if case.writes else Body()
    form = None if body.form is None else {**body.form, "csrf_token": csrf}
    response = client.request(case.method, url, params=params or None, json=body.json, data=form,
                              headers=headers, follow_redirects=False)
    return response, f"{url} {params} {body.json} {form}"


def _login_redirect(response: Response) -> bool:
    return response.status_code in (302, 303, 307) and response.headers.get(
        "location", "").startswith("/login")


def in_reach(world: World, role: str, target: Target) -> bool:
    reachable = reach(world, role)
    return target.path_org.key in reachable and target.objects.key in reachable


def sent_cases(world: World, role: str, case: RouteCase) -> list[Target]:
    """The targets a role's requests go to: a write only where it must be refused."""
    found = targets(world, case)
    if case.writes:  # a write the role may make is not sent: it would change the data
        found = [t for t in found if not in_reach(world, role, t)]
    return found


def check(world: World, role: str, case: RouteCase, target: Target) -> list[str]:
    """Send one case; return what is wrong with the answer (empty: nothing)."""
    reachable = reach(world, role)
    reached = in_reach(world, role, target)
    response, sent = send(world, role, case, target)
    if role != ANONYMOUS and not case.writes:  # a signed-in read ends where its redirects lead
        for _ in range(3):
            if not response.is_redirect:
                break
            response = world.clients[role].get(response.headers["location"],
                                                follow_redirects=False)
    status = response.status_code
    where = f"{case.label} as {role}, {target.name}: {status}"
    problems = []
    if status >= 500:
        problems.append(f"{where}: server error")
    if role == ANONYMOUS:
        if (case.method, case.path) not in PUBLIC and not (
            status in (401, 403) or _login_redirect(response)
        ):
            problems.append(f"{where}: anonymous request not refused")
    elif case.label in NO_OP_WRITES:
        pass  # same answer for any id; the digest proves nothing changed
    elif not reached and (
        case.org_scoped or OBJECT_PARAMS & set(case.params) or "org" in case.query_params
    ) and (
        target.name != "own+foreign-ids"
    ) and status not in (401, 403, 404) and not (
        # A filter naming an org that does not exist is bad input, for a reader of every org.
        status == 422 and target.name == "none" and not case.org_scoped and reachable == {"a", "b"}
    ):
        problems.append(f"{where}: not refused (expected 401, 403 or 404)")
    if case.writes and case.label not in NO_OP_WRITES and not (
        400 <= status < 500 or _login_redirect(response)
    ):
        problems.append(f"{where}: write not refused")
    # Markers of every org outside the role's reach and, in a response about one org, of the
    # other; a marker the request itself carried is an echo, not a leak.
    forbidden = {k: world.org(k).identity + world.org(k).markers
                 for k in ("a", "b") if k not in reachable}
    if case.org_scoped and target.path_org.key in ("a", "b"):
        for k in {"a", "b"} - {target.path_org.key} - set(forbidden):
            forbidden[k] = world.org(k).markers  # its name may be in the org switcher
    body = body_text(response, world.pdf_dir) if response.content else ""
    echoes = {world.b.course} if case.path.startswith(AUDIT_TRAIL) else set()
    for key, markers in sorted(forbidden.items()):
        leaked = [m for m in markers if m in body and m not in sent and m not in echoes]
        if leaked:
            problems.append(f"{where}: shows {key.upper()}'s {leaked}")
    return problems


# ---------------------------------------------------------------------------------- the tests
def matrix(app: Any) -> list[RouteCase]:
    cases, _ = app_routes(app)
    return [c for c in cases if c.label not in EXCLUDED]


def test_every_route_is_classified(app: Any) -> None:
    """A new route needs nothing here unless it has a new path parameter or writes: then the
    matrix must learn how to fill it (``PATH_FILLERS``) or what to send (``BODIES``)."""
    cases, mounts = app_routes(app)
    assert sorted(mounts) == sorted(p for p in EXCLUDED if p.startswith("/"))
    unknown = sorted({f"{c.label}: {{{p}}}" for c in cases for p in c.params
                      if p not in PATH_FILLERS})
    assert unknown == [], "path parameters the matrix cannot fill"
    unsent = sorted(c.label for c in cases if c.writes and c.label not in BODIES
                    and c.label not in EXCLUDED)
    assert unsent == [], "writing routes without a request body in BODIES"
    assert sorted(set(BODIES) - {c.label for c in cases}) == [], "BODIES for routes now gone"
    assert {c.label for c in cases} >= {k for k in EXCLUDED if " " in k}
    assert len(cases) >= 125  # the app's size when this was written: routes are not lost


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reaches_another_org(role: str, world: World, app: Any) -> None:
    problems: list[str] = []
    runs = 0
    # Reads first, then the writes, each write route between two digests: the digest after one
    # route is the one before the next (a refused write changes nothing, a read is not between).
    cases = sorted(matrix(app), key=lambda c: c.writes)
    digest: dict[str, str] | None = None
    for case in cases:
        sent = sent_cases(world, role, case)
        if case.writes and sent and digest is None:
            digest = database_digest(world.owner, world.org_ids)
        for target in sent:
            problems += check(world, role, case, target)
            runs += 1
        if case.writes and sent and digest is not None:
            after = database_digest(world.owner, world.org_ids)
            changed = sorted(t for t in after if after[t] != digest.get(t))
            if changed:
                problems.append(f"{case.label} as {role}: refused writes changed {changed}")
            digest = after
    assert runs > 0
    assert problems == []
