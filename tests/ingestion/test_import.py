"""File import (NDJSON and CSV): exact summaries, one reject line per refused line, and the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ingest_helpers import at, basic, days_ago, iso, org_id, platform_rows, scoped_rows
from sqlalchemy import Engine
from typer.testing import CliRunner

from orgpulse.cli.main import app as cli_app
from orgpulse.core.config import Settings
from orgpulse.ingestion import importer
from orgpulse.ingestion.importer import ImportSummary, import_file


def ndjson(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def run_import(engine: Engine, settings: Settings, path: Path) -> tuple[ImportSummary, list[Any]]:
    out = io.StringIO()
    summary = import_file(engine=engine, settings=settings, path=path, rejects=out)
    return summary, [json.loads(line) for line in out.getvalue().splitlines()]


def messages() -> list[Any]:
    t = iso(at(days_ago(1), 9))
    return [
        {"type": "group", "messageId": "g1", "groupId": "acme", "traits": {"name": "Acme"},
         "timestamp": t},                                                               # line 1
        {"type": "track", "messageId": "t1", "userId": "u1", "event": "Login",
         "context": {"groupId": "acme"}, "timestamp": t},                               # line 2
        '{"type": "track", "messageId": "broken"',                                      # line 3
        "",                                                                             # line 4
        {"type": "track", "messageId": "t2", "userId": "u1", "event": "", "timestamp": t},  # 5
        {"type": "identify", "messageId": "i1", "userId": "u1", "traits": {"role": "admin"},
         "timestamp": t},                                                               # line 6
        {"type": "track", "messageId": "t1", "userId": "u1", "event": "Login",
         "context": {"groupId": "acme"}, "timestamp": t},                               # line 7
        {"type": "track", "messageId": "t3", "userId": "ghost", "event": "Login",
         "timestamp": t},                                                               # line 8
        "   ",                                                                          # line 9
        ["not", "an", "object"],                                                        # line 10
    ]


@pytest.mark.parametrize("batch_size", [500, 2])
def test_ndjson_import_summary_and_rejects(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", batch_size)
    summary, rejects = run_import(engine, settings, ndjson(tmp_path / "events.ndjson", messages()))
    assert (summary.read, summary.accepted, summary.duplicates, summary.unattributed,
            summary.reattributed, summary.rejected) == (8, 3, 1, 1, 0, 3)
    assert summary.reasons == {
        "line is not valid JSON": 1,
        "track requires a non-empty event name": 1,
        "message must be a JSON object": 1,
    }
    assert [(r["line"], r["reason"].split(":")[0], r["message"]) for r in rejects] == [
        (3, "line is not valid JSON", None),
        (5, "track requires a non-empty event name", messages()[4]),
        (10, "message must be a JSON object", ["not", "an", "object"]),
    ]
    assert rejects[0]["reason"].startswith("line is not valid JSON: ")
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT message_id FROM events ORDER BY 1") == [
        ("g1",), ("i1",), ("t1",)
    ]
    assert scoped_rows(engine, [acme], "SELECT external_user_id, role FROM members") == [
        ("u1", "admin")
    ]
    assert platform_rows(engine, "SELECT message_id FROM unattributed_events") == [("t3",)]
    assert platform_rows(
        engine, "SELECT DISTINCT source FROM ingest_batches"
    ) == [("import:events.ndjson",)]


def test_reimport_is_all_duplicates(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    path = ndjson(tmp_path / "events.ndjson", messages())
    run_import(engine, settings, path)
    summary, rejects = run_import(engine, settings, path)
    assert (summary.read, summary.accepted, summary.duplicates, summary.unattributed,
            summary.rejected) == (8, 0, 5, 0, 3)
    assert [r["line"] for r in rejects] == [3, 5, 10]
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT events_total FROM rollup_state") == [(3,)]


def test_held_line_reattributed_by_a_later_batch_of_the_same_file(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    t = iso(at(days_ago(1), 9))
    path = ndjson(tmp_path / "late.ndjson", [
        {"type": "track", "messageId": "t1", "userId": "u1", "event": "Login", "timestamp": t},
        {"type": "track", "messageId": "t2", "userId": "u1", "event": "Logout", "timestamp": t},
        {"type": "group", "messageId": "g1", "groupId": "acme", "userId": "u1", "timestamp": t},
    ])
    summary, rejects = run_import(engine, settings, path)
    assert (summary.read, summary.accepted, summary.duplicates, summary.unattributed,
            summary.reattributed, summary.rejected) == (3, 1, 0, 2, 2, 0)
    assert rejects == []
    assert platform_rows(engine, "SELECT count(*) FROM unattributed_events") == [(0,)]
    assert scoped_rows(engine, [org_id(engine, "acme")], "SELECT count(*) FROM events") == [(3,)]


CSV_HEADER = "type,messageId,timestamp,userId,anonymousId,groupId,event,name,properties,traits"


def csv_file(path: Path, rows: list[list[str]], *, bom: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER.split(","))
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + buffer.getvalue(), encoding="utf-8")
    return path


def csv_rows() -> list[list[str]]:
    t = iso(at(days_ago(1), 9))
    return [
        ["group", "g1", t, "", "", "acme", "", "", "", '{"name": "Acme", "tier": "gold"}'],  # 2
        ["group", "g2", t, "", "", "acme-east", "", "", "",
         '{"name": "East", "parent_group_id": "acme"}'],                                     # 3
        ["identify", "i1", t, "u1", "", "acme", "", "", "",
         '{"role": "teacher", "unit": "acme-east"}'],                                        # 4
        ["track", "t1", t, "u1", "", "", "Login", "", '{"method": "sso"}', ""],               # 5
        ["page", "p1", t, "", "anon-1", "acme", "", "Home", '{"path": "/"}', ""],             # 6
        ["track", "t2", t, "u1", "", "", "", "", "", ""],                                     # 7
        ["track", "t3", t, "u1", "", "", "Login", "", "{not json", ""],                       # 8
        ["track", "t4", t, "u1", "", "", "Login", "", "[1, 2]", ""],                          # 9
    ]


@pytest.mark.parametrize("bom", [False, True])
def test_csv_import(engine: Engine, settings: Settings, tmp_path: Path, bom: bool) -> None:
    summary, rejects = run_import(engine, settings, csv_file(tmp_path / "e.csv", csv_rows(),
                                                             bom=bom))
    assert (summary.read, summary.accepted, summary.duplicates, summary.unattributed,
            summary.rejected) == (8, 5, 0, 0, 3)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (8, rejects[0]["reason"]),
        (7, "track requires a non-empty event name"),
        (9, "properties must be a JSON object"),
    ]
    assert rejects[0]["reason"].startswith("properties/traits column is not JSON: ")
    assert summary.reasons == {
        "properties/traits column is not JSON": 1,
        "track requires a non-empty event name": 1,
        "properties must be a JSON object": 1,
    }
    acme = org_id(engine, "acme")
    (east,) = scoped_rows(engine, [acme], "SELECT unit_id FROM units")
    assert scoped_rows(engine, [acme], "SELECT name, traits FROM orgs") == [
        ("Acme", {"name": "Acme", "tier": "gold"})
    ]
    assert scoped_rows(engine, [acme], "SELECT external_user_id, role, unit_id FROM members") == [
        ("u1", "teacher", east[0])
    ]
    assert scoped_rows(
        engine, [acme], "SELECT message_id, type, name, unit_id, anonymous_id, properties"
        " FROM events WHERE type IN ('track', 'page') ORDER BY message_id"
    ) == [
        ("p1", "page", "$page", None, "anon-1", {"path": "/"}),
        ("t1", "track", "Login", east[0], None, {"method": "sso"}),
    ]


def test_csv_without_a_type_column_is_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("kind,userId\ntrack,u1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv: CSV header lacks required column\(s\): type"):
        run_import(engine, settings, path)


# ------------------------------------------------------------------------------ CLI


def test_cli_import_prints_the_summary_and_writes_rejects(
    cli_env: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    path = ndjson(tmp_path / "events.ndjson", messages())
    rejects = tmp_path / "out" / "rejects.ndjson"
    rejects.parent.mkdir()
    result = cli_env.invoke(cli_app, ["import", str(path), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "read 8: accepted 3, duplicates 1, held (no org yet) 1, rejected 3"
    assert sorted(line.split(None, 1)[1] for line in lines[1:4]) == [
        "line is not valid JSON", "message must be a JSON object",
        "track requires a non-empty event name",
    ]
    assert all(line.split(None, 1)[0] == "1" for line in lines[1:4])
    assert lines[4] == f"rejected lines with reasons: {rejects}"
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["line"] for r in written] == [3, 5, 10]
    assert scoped_rows(engine, [org_id(engine, "acme")], "SELECT count(*) FROM events") == [(3,)]


def test_cli_import_default_rejects_path(cli_env: CliRunner, tmp_path: Path) -> None:
    path = ndjson(tmp_path / "clean.ndjson", [{"type": "group", "groupId": "acme"}, "{oops"])
    result = cli_env.invoke(cli_app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    default = tmp_path / "clean.ndjson.rejects.ndjson"
    assert [json.loads(line)["line"] for line in default.read_text().splitlines()] == [2]


def test_cli_import_refuses_a_csv_without_type(cli_env: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("kind,userId\ntrack,u1\n", encoding="utf-8")
    result = cli_env.invoke(cli_app, ["import", str(path)])
    assert result.exit_code == 2
    assert "CSV header lacks required column(s): type" in " ".join(result.stderr.split())


def test_cli_keys_create_makes_a_working_write_key(
    cli_env: CliRunner, client: TestClient, engine: Engine
) -> None:
    result = cli_env.invoke(cli_app, ["keys", "create", "--name", "backend"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "write key for 'backend' (send it as the Basic-auth username):"
    key = lines[-1]
    response = client.post("/v1/batch", headers=basic(key),
                           json={"batch": [{"type": "group", "groupId": "acme"}]})
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert platform_rows(engine, "SELECT name FROM write_keys") == [("backend",)]
