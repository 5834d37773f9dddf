"""Two orgs for the export tests: Acme (units north/south, members with formula-like names) and
Globex, whose rows must never show up in an Acme export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from datasets import at, frozen_clock, track
from factories import Factory
from orgpulse.core.tenancy import TenantScope, scoped

EVIL = '=HYPERLINK("http://evil.example/x","click")'


@dataclass(frozen=True)
class Orgs:
    acme: int
    globex: int
    north: int
    south: int


def unit_id(engine: Engine, org: int, external_id: str) -> int:
    with scoped(engine, TenantScope.of([org])) as conn:
        return int(
            conn.execute(
                text("SELECT unit_id FROM units WHERE org_id = :o AND external_id = :e"),
                {"o": org, "e": external_id},
            ).scalar_one()
        )


@pytest.fixture
def orgs(factory: Factory, engine: Engine) -> Iterator[Orgs]:
    clock = frozen_clock()
    next(clock)
    try:
        acme = factory.org("acme", "Acme Schools", units=("north", "south"))
        globex = factory.org("globex", "Globex")
        factory.send([
            {"type": "identify", "userId": u, "traits": {"role": "teacher", "name": n,
             "unit": f"acme-{unit}"}, "context": {"groupId": "acme"}, "timestamp": at(60)}
            for u, n, unit in [("a", EVIL, "north"), ("b", "+1", "south"), ("c", "@x", "north")]
        ])
        factory.send([{"type": "identify", "userId": "g", "traits": {"name": "Gus"},
                       "context": {"groupId": "globex"}, "timestamp": at(60)}])
        acme_events = [track("a", "Login", 3), track("a", "Login", 1), track("a", "Login", 1),
                       track("b", "Login", 1), track("c", "-2", 2)]
        for e in acme_events:
            e["context"] = {"groupId": "acme"}
        globex_events = [track("g", "Login", 1)]
        globex_events[0]["context"] = {"groupId": "globex"}
        result = factory.send(acme_events + globex_events)
        assert (result.accepted, result.rejections) == (6, [])
        yield Orgs(acme, globex, unit_id(engine, acme, "acme-north"),
                   unit_id(engine, acme, "acme-south"))
    finally:
        clock.close()
