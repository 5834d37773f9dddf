"""Schema-driven fuzzing of every JSON endpoint (/api/…, /v1/…) against the app's own OpenAPI.

Each operation gets a fixed, derandomized number of generated requests (valid and invalid),
sent as a platform admin (API token) or with a Segment write key (/v1/*). Every response must
be a non-5xx that the OpenAPI document declares: status code, content type, body schema.
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from datasets import build_acme, frozen_clock
from dbreset import truncate_all
from factories import Factory
from ingestion.ingest_helpers import basic
from orgpulse.auth import Role
from orgpulse.core.config import Settings
from orgpulse.ops.checklist import ITEM_KEYS
from orgpulse.ops.wizard import STEP_KEYS
from orgpulse.web.app import create_app

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Path parameters naming things that exist: the generated value picks one of them (fixed per value,
# so runs stay reproducible); other ids stay as generated (unknown ones get their 404).
REAL_PATH_VALUES: dict[str, tuple[str, ...]] = {
    "org": (),  # always the dataset's org
    "key": ("teacher_activation", "member_activation", "teacher_usage", "scoring_timeliness",
            "upload_failure_rate", "no_such_metric"),
    "item": (*ITEM_KEYS, "no_such_item"),
    "step": (*STEP_KEYS, "no_such_step"),
    "course": ("c1", "no_such_course"),
}


def real_value(name: str, generated: Any, credentials: Credentials) -> str:
    if name == "org":
        return credentials.org
    choices = REAL_PATH_VALUES[name]
    return choices[zlib.crc32(repr(generated).encode()) % len(choices)]


class Credentials:
    def __init__(self, *, org: str, token: str, write_key: str) -> None:
        self.org = org
        self.token = token
        self.write_key = write_key

    def headers_for(self, path: str) -> dict[str, str]:
        if path.startswith("/v1/"):
            return basic(self.write_key)
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    """The operations share one dataset, built once and dropped after the last one."""
    yield


@pytest.fixture(scope="module")
def credentials(
    app: Any, engine: Engine, settings: Settings, owner: Engine
) -> Iterator[Credentials]:
    """Acme's hand-built dataset at a stopped clock, a platform admin's token and a write key."""
    factory = Factory(engine=engine, settings=settings, app=app)
    clock = frozen_clock()
    next(clock)
    try:
        build_acme(factory)
        admin = factory.user(Role.PLATFORM_ADMIN)
        yield Credentials(org="acme", token=factory.token(admin), write_key=factory.write_key())
    finally:
        next(clock, None)
        truncate_all(owner)


def openapi_document() -> dict[str, Any]:
    """The app's own OpenAPI document, built before any database exists (it needs none)."""
    with tempfile.TemporaryDirectory(prefix="orgpulse-openapi-") as data_dir:
        offline = Settings(
            database_url="postgresql+psycopg://openapi@127.0.0.1:9/openapi",
            data_dir=Path(data_dir),
            environment="test",
            app_db_role="openapi",
            app_db_password="unused",
            secret_key="unused",
            jobs_enabled=False,
        )
        document: dict[str, Any] = create_app(offline).openapi()
    return document


DOCUMENT = openapi_document()
# The coverage phase's boundary cases run to hundreds of requests per operation; the fixed,
# seeded budget of the fuzzing phase keeps the whole file well inside its time bound.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).include(
    path_regex=r"^/(api|v1)/"
)


def test_the_fuzzed_document_is_the_running_apps(app: Any) -> None:
    assert app.openapi() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_json_endpoint_answers_as_documented(
    case: schemathesis.Case, app: Any, credentials: Credentials
) -> None:
    for name, value in (case.path_parameters or {}).items():
        if name in REAL_PATH_VALUES:
            case.path_parameters[name] = real_value(name, value, credentials)
    case.call_and_validate(
        app=app, headers=credentials.headers_for(case.path), checks=CHECKS
    )
