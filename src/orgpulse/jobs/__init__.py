"""Scheduled jobs: recorded in job_runs, single-run across nodes via advisory locks."""

from orgpulse.jobs.runner import JobRun, recorded_run, run_job, start_scheduler

__all__ = ["JobRun", "recorded_run", "run_job", "start_scheduler"]
