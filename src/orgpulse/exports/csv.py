"""Streaming CSV responses that spreadsheets open safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from starlette.responses import StreamingResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas: a text cell starting with = + - @ gets a leading quote.

    Why: a customer-controlled name like ``=HYPERLINK(...)`` would otherwise run as a formula
    in whoever opens the export (OWASP "CSV injection"). Numbers are left as numbers.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for i, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_filename(slug: str, report: str, day: date) -> str:
    return f"{slug}_{report}_{day.isoformat()}.csv"


class CsvResponse(StreamingResponse):
    """A streamed CSV file; as a route's ``response_class`` it documents ``text/csv``."""

    media_type = "text/csv"


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, filename: str
) -> StreamingResponse:
    """Stream rows as ``text/csv`` with an attachment file name."""
    return StreamingResponse(
        _lines(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_stream_response(
    chunks: Iterable[str] | Iterable[bytes], *, filename: str
) -> StreamingResponse:
    """Stream already-encoded CSV chunks (``stream_csv`` / ``copy_csv``) as an attachment."""
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
