"""The privacy policy: the minimum number of distinct people any published number may describe."""

from __future__ import annotations

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
