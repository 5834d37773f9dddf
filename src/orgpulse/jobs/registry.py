"""The scheduled jobs: one registry that the scheduler, `orgpulse worker` and the health panel read.

A slice adds its job by calling ``register`` at import time in a module listed in
``JOB_MODULES`` (e.g. alert evaluation, report delivery), so the list of what runs lives in one
place and nothing is discovered by accident.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine, owner_engine

# Modules whose import registers jobs; a slice with a scheduled job appends its module here.
JOB_MODULES: list[str] = ["orgpulse.jobs.builtin"]
JOB_MODULES.append("orgpulse.notify.jobs")
JOB_MODULES.append("orgpulse.alerts.jobs")
JOB_MODULES.append("orgpulse.reports.jobs")

JobWork = Callable[[Connection, Settings, datetime], str]


@dataclass(frozen=True)
class Job:
    """A named unit of scheduled work: body, interval, and which database role runs it."""

    name: str
    every_seconds: int
    work: JobWork
    description: str
    as_owner: bool = False
    # A setting whose value overrides ``every_seconds`` (e.g. "alerts_interval_seconds").
    interval_setting: str | None = None
    # Asked each scheduler tick once ``min_gap_seconds`` have passed: True runs the job early.
    run_early: Callable[[Settings], bool] | None = None
    min_gap_seconds: int = 30


_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
    """Add ``job`` to the schedule; a second job with the same name is a programming error."""
    existing = _REGISTRY.get(job.name)
    if existing is not None and existing != job:
        raise ValueError(f"a job named {job.name!r} is already registered")
    _REGISTRY[job.name] = job
    return job


def registered_jobs() -> list[Job]:
    """Every job of every module in ``JOB_MODULES``, in registration order."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    # In JOB_MODULES order whichever module happened to be imported first.
    rank = {module: i for i, module in enumerate(JOB_MODULES)}
    return sorted(_REGISTRY.values(), key=lambda job: rank.get(job.work.__module__, len(rank)))


def job_named(name: str) -> Job:
    for job in registered_jobs():
        if job.name == name:
            return job
    raise KeyError(name)


def run_registered(job: Job, settings: Settings) -> str:
    """Run one registered job once (recorded, under its advisory lock); return its status."""
    from orgpulse.jobs.runner import run_job

    engine = owner_engine(settings) if job.as_owner else app_engine(settings)
    return run_job(engine, job.name, lambda conn: job.work(conn, settings, clock.now()))


def interval_of(job: Job, settings: Settings) -> int:
    """The job's interval: its setting's value when it names one, else ``every_seconds``."""
    if job.interval_setting is None:
        return job.every_seconds
    return int(getattr(settings, job.interval_setting))


def is_due(job: Job, settings: Settings, *, since_last_run: float) -> bool:
    """Whether the scheduler should run ``job`` now, ``since_last_run`` seconds after its last
    start: its interval has passed, or its early trigger fires after the minimum gap."""
    if since_last_run >= interval_of(job, settings):
        return True
    return (
        job.run_early is not None
        and since_last_run >= job.min_gap_seconds
        and job.run_early(settings)
    )
