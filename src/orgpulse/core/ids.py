"""Time-ordered identifiers (UUIDv7 layout, RFC 9562).

Why: random UUID keys scatter every insert across the B-tree; v7 keys are monotonic in time, so
the events index grows at its right edge. Python 3.11 has no ``uuid.uuid7``.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

# The largest PostgreSQL bigint (every serial id): a larger number names no row and cannot even
# be bound as a query parameter, so it is invalid input, not a database error.
BIGINT_MAX = 2**63 - 1

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7(at_ms: int | None = None) -> uuid.UUID:
    """Return a UUIDv7; ids made in one process are strictly increasing."""
    global _last_ms, _seq
    with _lock:
        ms = at_ms if at_ms is not None else time.time_ns() // 1_000_000
        if at_ms is None:
            if ms <= _last_ms:
                ms = _last_ms
                _seq += 1
                if _seq > 0xFFF:
                    ms += 1
                    _seq = 0
            else:
                _seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
            _last_ms = ms
            seq = _seq
        else:
            seq = int.from_bytes(os.urandom(2), "big") & 0xFFF
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
