"""Import Segment messages from NDJSON or CSV files through the same validation and writer."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson
from sqlalchemy import Engine

from orgpulse.core.config import Settings
from orgpulse.ingestion.service import ingest

CSV_COLUMNS = (
    "type",
    "messageId",
    "timestamp",
    "userId",
    "anonymousId",
    "groupId",
    "event",
    "name",
    "properties",
    "traits",
)
BATCH_SIZE = 500


@dataclass
class ImportSummary:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    unattributed: int = 0  # held when read (some may have been re-attributed since)
    reattributed: int = 0  # held messages (of this file or earlier) placed by a later batch
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def _csv_row_to_message(row: dict[str, str]) -> dict[str, Any]:
    msg: dict[str, Any] = {}
    for key in ("type", "messageId", "timestamp", "userId", "anonymousId", "event", "name"):
        if row.get(key):
            msg[key] = row[key]
    for key in ("properties", "traits"):
        if row.get(key):
            msg[key] = json.loads(row[key])
    if row.get("groupId"):
        if msg.get("type") == "group":
            msg["groupId"] = row["groupId"]
        else:
            msg["context"] = {"groupId": row["groupId"]}
    return msg


def read_messages(path: Path, fh: TextIO) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, message or None, parse error) from an NDJSON or CSV file."""
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(fh)
        missing = {"type"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: CSV header lacks required column(s): {', '.join(missing)}")
        for row in reader:
            try:
                yield reader.line_num, _csv_row_to_message(row), None
            except json.JSONDecodeError as exc:
                yield reader.line_num, None, f"properties/traits column is not JSON: {exc}"
        return
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line), None
        except orjson.JSONDecodeError as exc:
            yield number, None, f"line is not valid JSON: {exc}"


def import_file(
    *,
    engine: Engine,
    settings: Settings,
    path: Path,
    rejects: TextIO,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportSummary:
    """Import a file in batches of 500; write each rejected line with its reason to ``rejects``."""
    summary = ImportSummary()

    def reject(line: int, reason: str, original: Any) -> None:
        summary.rejected += 1
        summary.reasons[reason.split(":")[0]] = summary.reasons.get(reason.split(":")[0], 0) + 1
        rejects.write(orjson.dumps({"line": line, "reason": reason, "message": original}).decode())
        rejects.write("\n")

    def flush(batch: list[tuple[int, Any]]) -> None:
        if not batch:
            return
        result = ingest(
            engine=engine,
            settings=settings,
            body={"batch": [m for _, m in batch]},
            source=f"import:{path.name}",
        )
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        summary.unattributed += result.unattributed
        summary.reattributed += result.reattributed
        for r in result.rejections:
            reject(batch[r.index][0], r.reason, batch[r.index][1])
        progress(len(batch))

    batch: list[tuple[int, Any]] = []
    # utf-8-sig: spreadsheet exports often start with a byte-order mark, which would otherwise
    # become part of the first CSV column's name.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, message, error in read_messages(path, fh):
            summary.read += 1
            if error is not None:
                reject(line, error, None)
                progress(1)
                continue
            batch.append((line, message))
            if len(batch) >= BATCH_SIZE:
                flush(batch)
                batch = []
        flush(batch)
    return summary
