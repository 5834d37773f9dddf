"""HR aggregates: submission (validated, versioned) and the current submission per quarter."""

from orgpulse.hr.service import (
    HrReceipt,
    HrSubmission,
    HrVersion,
    current_submission,
    list_hr_submissions,
    record_hr_rejection,
    submit_hr_metrics,
)
from orgpulse.hr.validation import (
    HrPayload,
    Problem,
    Validation,
    last_complete_quarter,
    quarter_of,
    validate_submission,
)

__all__ = [
    "HrPayload",
    "HrReceipt",
    "HrSubmission",
    "HrVersion",
    "Problem",
    "Validation",
    "current_submission",
    "last_complete_quarter",
    "list_hr_submissions",
    "quarter_of",
    "record_hr_rejection",
    "submit_hr_metrics",
    "validate_submission",
]
