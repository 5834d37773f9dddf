"""Deterministic synthetic Segment traffic for demos and load tests."""

from orgpulse.demo.generator import DEMO_DAYS_MAX, DEMO_ORG_COUNT_MIN, generate

__all__ = ["DEMO_DAYS_MAX", "DEMO_ORG_COUNT_MIN", "generate"]
