from __future__ import annotations

from collections.abc import Iterator

import pytest

from datasets import frozen_clock
from factories import Factory

from .dataset import build_university


@pytest.fixture
def uni(factory: Factory) -> Iterator[int]:
    clock = frozen_clock()
    next(clock)
    try:
        yield build_university(factory)
    finally:
        clock.close()
