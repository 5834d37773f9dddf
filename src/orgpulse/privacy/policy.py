"""The privacy policy: the minimum number of distinct people any published number may describe."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

MIN_COHORT_SIZE = 10


class PrivacyPolicy(BaseModel):
    """Minimum cohort size ``k``: a policy may raise it above the floor, never lower it."""

    model_config = ConfigDict(frozen=True)

    k: int = MIN_COHORT_SIZE

    @field_validator("k")
    @classmethod
    def _at_least_the_floor(cls, k: int) -> int:
        # The floor is a product guarantee, not a default: no configuration may go below it.
        if k < MIN_COHORT_SIZE:
            raise ValueError(
                f"minimum cohort size k={k} is below the floor of {MIN_COHORT_SIZE}; "
                f"a policy may raise k, never lower it"
            )
        return k


class PrivacyMode(StrEnum):
    """How an org's analytics are shown: in full, or only as suppressed aggregates."""

    STANDARD = "standard"
    AGGREGATE_ONLY = "aggregate_only"


@dataclass(frozen=True)
class ViewerPrivacy:
    """What one viewer may see of one org: aggregates only or not, and the org's ``k``.

    Why per viewer, not per org: an employer viewer is aggregate-only in every org, whatever the
    org's mode; every other viewer is aggregate-only exactly when the org is.
    """

    aggregate_only: bool
    mode: PrivacyMode
    policy: PrivacyPolicy

    @classmethod
    def of(cls, *, role: str | None, mode: str, min_cohort_size: int) -> ViewerPrivacy:
        org_mode = PrivacyMode(mode)
        return cls(
            aggregate_only=role == "employer_viewer" or org_mode == PrivacyMode.AGGREGATE_ONLY,
            mode=org_mode,
            policy=PrivacyPolicy(k=min_cohort_size),
        )
