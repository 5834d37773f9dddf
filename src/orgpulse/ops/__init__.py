"""Operations: service health, rollout modes, the deployment checklist, the onboarding wizard."""

from orgpulse.ops.checklist import checklist_completion
from orgpulse.ops.health import Health, JobStatus, health, job_statuses
from orgpulse.ops.rollout import RolloutMode

__all__ = ["Health", "JobStatus", "RolloutMode", "checklist_completion", "health", "job_statuses"]
