"""Deterministic synthetic Segment traffic for demos, screenshots and load tests.

``generate`` plays a B2B SaaS vendor whose customers are school districts, universities and
employers. It yields batches (at most ``BATCH_SIZE`` messages each) ready to POST to
``/v1/batch``:

1. the directory first: per organization one ``group`` call (with an admin ``userId``), one
   ``group`` call per unit (``traits.parent_group_id`` names the org) and one ``identify`` per
   member (``context.groupId`` names the org, ``traits.unit`` the unit);
2. then the activity (``track`` and ``page``), day by day, over ``days`` days ending at ``now``.

Every organization follows a trajectory (steady, growing, declining, churned, new): a member's
daily chance of being active moves smoothly along it, weekends and the late-December holidays are
quieter. Half of the organizations send ``context.groupId`` with their activity, the other half
leave it out so that OrgPulse attributes it through the member's organization.

The output depends only on the arguments: one ``random.Random(seed)`` drives everything, nothing
reads the wall clock or iterates a hash-ordered set. Activity timestamps lie in
``[now - days, now - 1 minute)``; directory timestamps in ``[now - days, now - 61 seconds]``.
"""

from orgpulse.demo.generator.core import (
    BATCH_SIZE,
    DEMO_DAYS_MAX,
    DEMO_DAYS_MIN,
    DEMO_ORG_COUNT_MIN,
    generate,
)
from orgpulse.demo.generator.vocabulary import KINDS, TRAJECTORIES

__all__ = [
    "BATCH_SIZE",
    "DEMO_DAYS_MAX",
    "DEMO_DAYS_MIN",
    "DEMO_ORG_COUNT_MIN",
    "KINDS",
    "TRAJECTORIES",
    "generate",
]
