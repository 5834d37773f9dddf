"""Pure parts of support requests: screenshot sniffing, client parsing, status rules."""

from __future__ import annotations

import itertools

import pytest

from orgpulse.core.errors import InvalidInput, PayloadTooLarge
from orgpulse.ops.support import TRANSITIONS, client_of, screenshot_of


def test_screenshot_type_comes_from_magic_bytes_only() -> None:
    assert screenshot_of(b"", max_bytes=10) is None
    png = screenshot_of(b"\x89PNG\r\n\x1a\n", max_bytes=10)
    assert png is not None and png.content_type == "image/png"
    jpeg = screenshot_of(b"\xff\xd8\xff\xdb", max_bytes=10)
    assert jpeg is not None and jpeg.content_type == "image/jpeg"
    for data in (b"GIF89a", b"<svg>", b"%PDF-1.7", b"\x89PNG\r\n"):
        with pytest.raises(InvalidInput, match="PNG or JPEG"):
            screenshot_of(data, max_bytes=100)
    with pytest.raises(PayloadTooLarge, match="11 bytes; the limit is 10 bytes"):
        screenshot_of(b"\x89PNG\r\n\x1a\n\x00\x00\x00", max_bytes=10)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
         " Chrome/120.0 Safari/537.36 Edg/120.0", ("Edge", "Windows", "desktop")),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1; rv:121.0) Gecko/20100101 Firefox/121.0",
         ("Firefox", "macOS", "desktop")),
        ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
         ("Chrome", "Android", "mobile")),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/120.0",
         ("Chrome", "ChromeOS", "desktop")),
        ("", ("other", "other", "desktop")),
    ],
)
def test_client_of(agent: str, expected: tuple[str, str, str]) -> None:
    c = client_of(agent)
    assert (c["browser"], c["os"], c["device"]) == expected


def test_status_rules_exhaustively() -> None:
    allowed = {
        ("open", "in_progress"), ("open", "resolved"), ("open", "closed"),
        ("in_progress", "open"), ("in_progress", "resolved"), ("in_progress", "closed"),
        ("resolved", "in_progress"), ("resolved", "closed"),
    }
    statuses = list(TRANSITIONS)
    assert statuses == ["open", "in_progress", "resolved", "closed"]
    for before, after in itertools.product(statuses, statuses):
        assert (after in TRANSITIONS[before]) == ((before, after) in allowed), (before, after)
