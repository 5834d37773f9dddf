"""``generate``: argument checks, then the directory and the day-by-day activity in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from orgpulse.demo.generator.activity import (
    _Activity,
)
from orgpulse.demo.generator.population import (
    Msg,
)

DEMO_ORG_COUNT_MIN = 1
DEMO_DAYS_MIN = 1
# Below the default 400-day retention with room for the time between generating and ingesting.
DEMO_DAYS_MAX = 390
BATCH_SIZE = 500


class _Generator(_Activity):
    def run(self) -> Iterator[list[Msg]]:
        rng = self.rng
        # Exactly half (rounded down) of the orgs send context.groupId with their activity.
        for org in rng.sample(self.orgs, len(self.orgs) // 2):
            org.with_group_context = True
        directory: list[Msg] = [msg for org in self.orgs for msg in self._directory(org)]
        for i in range(0, len(directory), BATCH_SIZE):
            yield directory[i : i + BATCH_SIZE]
        last_minute = self.now - timedelta(minutes=1)
        for d in range(self.days):
            day = self.first_midnight + timedelta(days=d)
            prefix = day.strftime("%Y-%m-%dT")
            # Latest whole minute that still ends before now - 1 minute.
            maxmin = min(1439, int((last_minute - day).total_seconds()) // 60 - 1)
            if maxmin < 0:
                continue
            for org in self.orgs:
                if org.start <= d < org.end:
                    self._org_day(org, d, prefix, maxmin)
                if len(self.out) >= BATCH_SIZE:
                    cut = len(self.out) - len(self.out) % BATCH_SIZE
                    for i in range(0, cut, BATCH_SIZE):
                        yield self.out[i : i + BATCH_SIZE]
                    self.out = self.out[cut:]
        if self.out:
            yield self.out
            self.out = []


def generate(
    *, orgs: int = 60, days: int = 390, seed: int = 1, now: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Yield batches (lists of at most ``BATCH_SIZE``) of Segment messages for a demo tenant set.

    Deterministic for a given ``orgs``, ``days``, ``seed`` and ``now`` (which must be
    timezone-aware). Directory messages (``group``/``identify``) for every org come first, then
    activity day by day. Raises ``ValueError`` for out-of-range arguments.
    """
    if isinstance(orgs, bool) or not isinstance(orgs, int) or orgs < DEMO_ORG_COUNT_MIN:
        raise ValueError(f"orgs must be an integer >= {DEMO_ORG_COUNT_MIN}, got {orgs!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < DEMO_DAYS_MIN:
        raise ValueError(f"days must be an integer >= {DEMO_DAYS_MIN}, got {days!r}")
    if days > DEMO_DAYS_MAX:
        raise ValueError(
            f"days must be at most {DEMO_DAYS_MAX} (older events fall outside the retention "
            f"horizon and would be rejected), got {days}"
        )
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return _Generator(orgs=orgs, days=days, seed=seed, now=now.astimezone(UTC)).run()
