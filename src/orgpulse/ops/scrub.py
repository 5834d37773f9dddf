"""Scrub free-text error messages before anyone outside the org sees them (pure, no I/O).

Why: error strings sent by a vendor's backend ("sync failed for Jane Doe <jane@school.org>,
student 482913") routinely carry the personal data the diagnostics panel and support requests
must never show. The scrubber errs on the side of masking: a masked word costs a support agent
a little context; an unmasked student name is a privacy incident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SNIPPET = 200
MASKS = ("[email]", "[token]", "[id]", "[name]", "[value]")

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)
_BEARER = re.compile(
    r"(?i)\b(bearer|basic|token|apikey|api_key|secret|password)(\s*[=:]\s*|\s+)(?!\[)\S+"
)
_JWT = re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*")
_UUID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# A long run of letters and digits mixing both (API keys, hashes, session ids).
_TOKENISH = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{16,}\b")
# Labelled values: "user=abc", "student: Jo", or "student u17" (after a space: with a digit).
_LABEL = (
    r"(?i)\b(user(?:_?id|name)?|student(?:_?id)?|teacher(?:_?id)?|member(?:_?id)?|"
    r"name|email|id|sourced_id|login)"
)
_LABELLED = re.compile(_LABEL + r"(\s*[=:]\s*)(?!\[)([^\s,;)\]]+)")
_LABELLED_ID = re.compile(_LABEL + r"(\s+)(?!\[)([^\s,;)\]]*\d[^\s,;)\]]*)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|‘[^’]*’|“[^”]*”")
_DIGITS = re.compile(r"\d{4,}")
# Two or more capitalised words in a row read as a person's name ("Jane Doe", "Mary-Ann O'Neil").
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*(?:\s+[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*)+\b")
_SPACE = re.compile(r"\s+")


def scrub(text: str, *, known: Iterable[str] = ()) -> str:
    """Return ``text`` with emails, tokens, ids, names and quoted values masked, on one line.

    ``known``: extra strings (e.g. the requester's own email) to mask wherever they appear.
    """
    out = _SPACE.sub(" ", text).strip()
    for value in sorted({k for k in known if len(k) >= 3}, key=len, reverse=True):
        out = re.sub(re.escape(value), "[value]", out, flags=re.IGNORECASE)
    out = _EMAIL.sub("[email]", out)
    out = _JWT.sub("[token]", out)
    out = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}[token]", out)
    out = _UUID.sub("[id]", out)
    out = _TOKENISH.sub("[token]", out)
    out = _QUOTED.sub("[value]", out)
    out = _LABELLED.sub(lambda m: f"{m.group(1)}{m.group(2)}[value]", out)
    out = _LABELLED_ID.sub(lambda m: f"{m.group(1)}{m.group(2)}[id]", out)
    out = _DIGITS.sub("[id]", out)
    out = _NAME.sub("[name]", out)
    if len(out) > MAX_SNIPPET:
        out = out[: MAX_SNIPPET - 1] + "…"
    return out
