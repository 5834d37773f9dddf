"""Operations: service health panel (rollout, checklist, diagnostics and support arrive later)."""

from orgpulse.ops.health import Health, JobStatus, health, job_statuses

__all__ = ["Health", "JobStatus", "health", "job_statuses"]
