"""Scheduled jobs: recorded in job_runs, single-run across nodes via advisory locks."""

from orgpulse.jobs.runner import run_job, start_scheduler

__all__ = ["run_job", "start_scheduler"]
