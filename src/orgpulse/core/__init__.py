"""Shared kernel: configuration, database, tenancy, errors, clock, ids, logging."""
