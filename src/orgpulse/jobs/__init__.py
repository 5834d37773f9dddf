"""Scheduled jobs: a registry, recorded in job_runs, single-run across nodes via advisory locks."""

from orgpulse.jobs.registry import Job, register, registered_jobs, run_registered
from orgpulse.jobs.runner import (
    JobRun,
    recorded_run,
    run_all_once,
    run_job,
    scheduler_loop,
    start_scheduler,
)

__all__ = [
    "Job",
    "JobRun",
    "recorded_run",
    "register",
    "registered_jobs",
    "run_all_once",
    "run_job",
    "run_registered",
    "scheduler_loop",
    "start_scheduler",
]
