"""Operations: service health, rollout modes, the deployment checklist, the onboarding wizard."""

from orgpulse.ops.checklist import checklist_completion
from orgpulse.ops.rollout import RolloutMode

__all__ = ["RolloutMode", "checklist_completion"]
