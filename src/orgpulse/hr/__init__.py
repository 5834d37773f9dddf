"""HR aggregates: submission (validated, versioned) and the current submission per quarter."""

from orgpulse.hr.service import HrSubmission, current_submission

__all__ = ["HrSubmission", "current_submission"]
