"""Cohort risk analytics: risk flags and interventions per cohort, for institutional admins."""

from orgpulse.cohorts.service import (
    CohortAnalytics,
    CohortComparison,
    CohortExport,
    Filters,
    GroupBy,
    cohort_analytics,
    cohort_comparison,
    cohort_export,
    pseudonym,
)

__all__ = [
    "CohortAnalytics",
    "CohortComparison",
    "CohortExport",
    "Filters",
    "GroupBy",
    "cohort_analytics",
    "cohort_comparison",
    "cohort_export",
    "pseudonym",
]
