"""Audit records are append-only for the app role and hash-chained; `orgpulse audit verify`
recomputes the chain and names the first broken link."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from orgpulse.audit import AuditContext, record, verify_chain
from orgpulse.audit.chain import CHAIN_LOCK_CLASS
from orgpulse.cli.main import app as cli
from orgpulse.core.config import Settings, app_db_password
from orgpulse.core.db import owner_engine, scratch_database
from orgpulse.core.migrate import _alembic_config

CTX = AuditContext(actor_user_id=7, actor_kind="user", request_id="req-1", ip="10.0.0.1")
ZERO = bytes(32)


def _write(engine: Engine, n: int, *, start: int = 1) -> None:
    for i in range(start, start + n):
        record(engine, ctx=CTX, action="analytics.read", org_id=i, target=f"view-{i}")


def _chain(owner: Engine) -> list[tuple[int, bytes, bytes]]:
    with owner.connect() as conn:
        rows = conn.execute(
            text("SELECT audit_id, prev_hash, hash FROM audit_records ORDER BY audit_id")
        ).all()
    return [(r.audit_id, bytes(r.prev_hash), bytes(r.hash)) for r in rows]


def _tamper(owner: Engine, sql: str) -> None:
    """Change audit records as the owner, who must switch the append-only trigger off to do so."""
    with owner.begin() as conn:
        conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update"))
        conn.execute(text(sql))
        conn.execute(text("ALTER TABLE audit_records ENABLE TRIGGER audit_records_no_update"))


def test_hash_is_sha256_of_the_documented_canonical_form(engine: Engine, owner: Engine) -> None:
    record(
        engine,
        ctx=CTX,
        action="analytics.export",
        org_id=42,
        target="Zürich",
        details={"rows": 12, "a": "x"},
        query_type="wellbeing",
        cohort_size=12,
        suppressed=False,
        export_kind="csv",
    )
    with owner.connect() as conn:
        row = conn.execute(
            text(
                "SELECT audit_id, to_char(at AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at, prev_hash, hash,"
                " query_type, cohort_size, suppressed, export_kind FROM audit_records"
            )
        ).one()
    assert (row.audit_id, row.query_type, row.cohort_size, row.suppressed, row.export_kind) == (
        1, "wellbeing", 12, False, "csv"
    )
    # Written out by hand: "Zürich" is 7 UTF-8 bytes; jsonb orders keys by length, then bytes.
    expected = (
        b"orgpulse-audit-v1" + b"1:1" + b"27:" + row.at.encode() + b"1:7" + b"4:user"
        + b"2:42" + b"16:analytics.export" + b"7:Z\xc3\xbcrich" + b"2:ok"
        + b'22:{"a": "x", "rows": 12}' + b"5:req-1" + b"8:10.0.0.1" + b"9:wellbeing"
        + b"2:12" + b"5:false" + b"3:csv"
    )
    assert bytes(row.prev_hash) == ZERO
    assert bytes(row.hash) == hashlib.sha256(expected + ZERO).digest()


def test_chain_of_records_verifies(engine: Engine, owner: Engine) -> None:
    _write(engine, 3)
    with engine.begin() as conn:  # two records in one transaction, one multi-row statement
        record(conn, ctx=CTX, action="org.access_denied", outcome="denied")
        conn.execute(
            text("INSERT INTO audit_records (actor_kind, action) VALUES ('cli', 'a'), ('cli', 'b')")
        )
    chain = _chain(owner)
    assert [audit_id for audit_id, _, _ in chain] == [1, 2, 3, 4, 5, 6]
    assert [prev for _, prev, _ in chain] == [ZERO] + [h for _, _, h in chain[:-1]]
    report = verify_chain(engine=owner, page_size=4)  # two pages
    assert (report.checked, report.broken, report.head) == (6, None, chain[-1][2])


def test_empty_table_verifies(owner: Engine) -> None:
    report = verify_chain(engine=owner)
    assert (report.checked, report.broken, report.head) == (0, None, ZERO)


def test_writer_cannot_choose_id_or_hashes(engine: Engine, owner: Engine) -> None:
    _write(engine, 1)
    with owner.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_records (audit_id, actor_kind, action, prev_hash, hash)"
                " VALUES (99, 'cli', 'forged', '\\x00', '\\x00')"
            )
        )
    chain = _chain(owner)
    assert [audit_id for audit_id, _, _ in chain] == [1, 2]
    assert chain[1][1] == chain[0][2]
    assert verify_chain(engine=owner).intact


def test_owner_must_disable_the_trigger_to_alter_a_record(engine: Engine, owner: Engine) -> None:
    _write(engine, 1)
    with pytest.raises(DBAPIError) as excinfo, owner.begin() as conn:
        conn.execute(text("UPDATE audit_records SET outcome = 'denied'"))
    assert isinstance(excinfo.value.orig, psycopg.errors.RaiseException)
    assert "append-only" in str(excinfo.value.orig)


def test_altered_record_is_reported_by_its_audit_id(engine: Engine, owner: Engine) -> None:
    _write(engine, 5)
    chain = _chain(owner)
    _tamper(owner, "UPDATE audit_records SET outcome = 'denied' WHERE audit_id = 3")
    report = verify_chain(engine=owner)
    assert report.checked == 3
    assert report.broken is not None
    assert (report.broken.audit_id, report.broken.problem) == (3, "hash mismatch")
    assert report.broken.stored == chain[2][2]
    assert report.broken.expected != chain[2][2]


def test_deleted_middle_record_breaks_the_next_link(engine: Engine, owner: Engine) -> None:
    _write(engine, 5)
    chain = _chain(owner)
    _tamper(owner, "DELETE FROM audit_records WHERE audit_id = 3")
    report = verify_chain(engine=owner)
    assert report.checked == 3  # records 1, 2 and 4
    assert report.broken is not None
    assert (report.broken.audit_id, report.broken.problem) == (4, "prev_hash mismatch")
    assert (report.broken.expected, report.broken.stored) == (chain[1][2], chain[2][2])


def test_deleted_first_record_is_detected(engine: Engine, owner: Engine) -> None:
    _write(engine, 2)
    _tamper(owner, "DELETE FROM audit_records WHERE audit_id = 1")
    report = verify_chain(engine=owner)
    assert report.broken is not None
    assert (report.checked, report.broken.audit_id, report.broken.problem) == (
        1, 2, "prev_hash mismatch"
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET outcome = 'denied'",
        "DELETE FROM audit_records",
        "TRUNCATE audit_records",
        "ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update",
    ],
)
def test_app_role_cannot_change_audit_records(
    engine: Engine, owner: Engine, statement: str
) -> None:
    _write(engine, 2)
    with pytest.raises(DBAPIError) as excinfo, engine.begin() as conn:
        conn.execute(text(statement))
    assert isinstance(excinfo.value.orig, psycopg.errors.InsufficientPrivilege)
    assert len(_chain(owner)) == 2


def test_app_role_privileges_are_select_and_insert(owner: Engine, settings: Settings) -> None:
    with owner.connect() as conn:
        granted = {
            p
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
            if conn.execute(
                text("SELECT has_table_privilege(:role, 'audit_records', :p)"),
                {"role": settings.app_db_role, "p": p},
            ).scalar()
        }
    assert granted == {"SELECT", "INSERT"}


def test_repeatable_read_writer_is_refused(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as excinfo, engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            record(conn, ctx=CTX, action="analytics.read")
    assert isinstance(excinfo.value.orig, psycopg.errors.RaiseException)
    assert "READ COMMITTED" in str(excinfo.value.orig)


def test_writer_holds_the_chain_lock_until_commit(engine: Engine, owner: Engine) -> None:
    held = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = :cls AND objid = 0 AND objsubid = 2"
    )
    with engine.begin() as conn:
        record(conn, ctx=CTX, action="analytics.read")
        with owner.connect() as probe:
            assert probe.execute(held, {"cls": CHAIN_LOCK_CLASS}).scalar() == 1
    with owner.connect() as probe:
        assert probe.execute(held, {"cls": CHAIN_LOCK_CLASS}).scalar() == 0


def test_concurrent_writers_form_one_verifiable_chain(engine: Engine, owner: Engine) -> None:
    threads, per_thread = 6, 20
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                if i % 4 == 0:  # some transactions write two records and do other work between
                    with engine.begin() as conn:
                        record(conn, ctx=CTX, action="a", org_id=n)
                        conn.execute(text("SELECT pg_sleep(0.002)"))
                        record(conn, ctx=CTX, action="b", org_id=n)
                else:
                    record(engine, ctx=CTX, action="c", org_id=n)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    total = threads * (per_thread + per_thread // 4)
    chain = _chain(owner)
    assert [audit_id for audit_id, _, _ in chain] == list(range(1, total + 1))
    assert len({prev for _, prev, _ in chain}) == total  # no two records share a predecessor
    report = verify_chain(engine=owner, page_size=50)
    assert (report.checked, report.broken) == (total, None)


def test_cli_verify_intact_exits_0(cli_env: CliRunner, engine: Engine, owner: Engine) -> None:
    _write(engine, 3)
    head = _chain(owner)[-1][2]
    result = cli_env.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"checked 3 records\nchain intact; head {head.hex()}\n"


def test_cli_verify_reports_the_broken_link_and_exits_1(
    cli_env: CliRunner, engine: Engine, owner: Engine
) -> None:
    _write(engine, 3)
    chain = _chain(owner)
    _tamper(owner, "DELETE FROM audit_records WHERE audit_id = 2")
    result = cli_env.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert result.stdout == (
        "checked 2 records\n"
        f"chain broken at audit_id 3: prev_hash mismatch (expected {chain[0][2].hex()}, "
        f"stored {chain[1][2].hex()})\n"
    )
    assert "verifying audit chain" in result.stderr


def test_upgrade_chains_existing_records(settings: Settings, tmp_path: Path) -> None:
    """A database with audit records written before the chain existed verifies after upgrade."""
    assert settings.database_url
    server = settings.database_url
    with scratch_database(server, prefix="orgpulse_audit_up", workdir=tmp_path) as url:
        scratch = settings.model_copy(update={"database_url": url})
        cfg = _alembic_config()
        old = owner_engine(scratch)

        def upgrade_to(revision: str) -> None:
            with old.connect() as conn:
                cfg.attributes.update(
                    connection=conn,
                    app_role=scratch.app_db_role,
                    app_password=app_db_password(scratch),
                )
                command.upgrade(cfg, revision)
                conn.commit()

        upgrade_to("0003")
        rows: list[dict[str, Any]] = [
            {"kind": "user", "action": "auth.login", "details": '{"email": "ä@example.test"}'},
            {"kind": "system", "action": "job.run", "details": "{}"},
            {"kind": "cli", "action": "users.create", "details": '{"n": 1.50}'},
        ]
        with old.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_records (actor_kind, action, details)"
                    " VALUES (:kind, :action, CAST(:details AS jsonb))"
                ),
                rows,
            )
        upgrade_to("head")
        report = verify_chain(engine=old)
        assert (report.checked, report.broken) == (3, None)
        record(old, ctx=CTX, action="analytics.read")
        chain = _chain(old)
        assert [audit_id for audit_id, _, _ in chain] == [1, 2, 3, 4]
        assert chain[0][1] == ZERO and chain[3][1] == chain[2][2]
        assert verify_chain(engine=old).checked == 4
