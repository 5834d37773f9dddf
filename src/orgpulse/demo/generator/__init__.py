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

Implementation signals vary by org too: most orgs roster nightly and connect an LMS once, not
all; teachers ask for a resubmission of a small share of the submissions they score; some
districts require standards (``traits.required_standards``) and tag assignments with them
(``properties.standards``), leaving some uncovered.

The output depends only on the arguments: ``random.Random(seed)`` drives everything but those
implementation signals, which draw from a second stream seeded from ``seed`` (so adding them
left the rest of a seed's traffic unchanged); nothing reads the wall clock or iterates a
hash-ordered set. Activity timestamps lie in
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
