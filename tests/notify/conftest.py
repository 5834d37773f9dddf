"""Fixtures of the notify tests: a loopback HTTP receiver for webhooks."""

from webhooksink import webhook_sink  # noqa: F401 (fixture)
