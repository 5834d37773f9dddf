"""The error scrubber: exact masks on known strings, and invariants over generated ones."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orgpulse.ops.scrub import MAX_SNIPPET, scrub


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The demo's own error strings carry nothing personal and pass unchanged.
        ("SIS timeout", "SIS timeout"),
        ("duplicate student id", "duplicate student id"),
        ("missing required field: grade", "missing required field: grade"),
        ("invalid password", "invalid password"),
        ("sync failed for Jane Doe <jane.doe@school.org>",
         "sync failed for [name] <[email]>"),
        ("student 48213 rejected", "student [id] rejected"),
        ("student u17 not found", "student [id] not found"),
        ("user=jdoe locked", "user=[value] locked"),
        ("name 'Zoë' invalid", "name [value] invalid"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer [token]"),
        ("got eyJhbGciOiJI.eyJzdWIiOjF9.c2ln back", "got [token] back"),
        ("key sk_live_abcdef1234567890 refused", "key [token] refused"),
        ("row 3f2b1c4e-0a1b-4c2d-9e8f-001122334455 bad", "row [id] bad"),
        ("  spread\nover\tlines ", "spread over lines"),
    ],
)
def test_masks_known_patterns(raw: str, expected: str) -> None:
    assert scrub(raw) == expected


def test_known_values_are_masked_anywhere() -> None:
    assert scrub("ticket from pat@x.io about amelia", known=("amelia",)) == (
        "ticket from [email] about [value]"
    )


def test_long_messages_are_cut() -> None:
    out = scrub("timeout " * 100)
    assert len(out) == MAX_SNIPPET and out.endswith("…")


_local = st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True)
_domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(org|com|edu|io)", fullmatch=True)
emails = st.builds(lambda a, b: f"{a}@{b}", _local, _domain)
first = st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True)
names = st.builds(lambda a, b: f"{a} {b}", first, first)
ids = st.integers(min_value=1000, max_value=10**12).map(str)
noise = st.text(alphabet="abcdefghij klmnop:;,.()", max_size=40)


@given(prefix=noise, email=emails, name=names, number=ids, suffix=noise)
def test_no_email_name_or_id_survives(
    prefix: str, email: str, name: str, number: str, suffix: str
) -> None:
    out = scrub(f"{prefix} {email} {name} {number} {suffix}")
    assert email not in out
    assert name not in out
    assert number not in out
    assert not re.search(r"\d{4,}", out)
    assert "@" not in out


@given(st.text(max_size=300))
def test_idempotent_single_line_and_bounded(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once or len(once) == MAX_SNIPPET
    assert "\n" not in once
    assert len(once) <= MAX_SNIPPET
