"""The streaming primitive: bounded batches from a server-side cursor, a transaction that lives
exactly as long as the stream, and formula neutralisation on both paths."""

from __future__ import annotations

import csv
import io
import tracemalloc

from sqlalchemy import Connection, Engine, text

from orgpulse.core.tenancy import TenantScope
from orgpulse.exports.stream import copy_csv, safe_sql, stream_csv

ROWS = 200_000
BATCH = 1_000
SERIES = text("SELECT g AS n, 'row ' || g AS label FROM generate_series(1, :n) AS g")


def test_large_stream_never_materialises_the_result(engine: Engine) -> None:
    batches: list[tuple[int, int]] = []

    def on_batch(conn: Connection, rows: int) -> None:
        # The rows come from a named (server-side) cursor of this very transaction.
        open_cursors = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_cursors"
            " WHERE position('generate' || '_series' IN statement) > 0"
        ).scalar_one()
        batches.append((rows, int(open_cursors)))

    chunks = stream_csv(
        engine=engine,
        scope=TenantScope.of([]),
        query=SERIES,
        params={"n": ROWS},
        header=["n", "label"],
        yield_per=BATCH,
        on_batch=on_batch,
    )
    assert next(chunks) == "n,label\r\n"
    assert batches == []  # the header leaves before any row is fetched
    lines = 0
    for i, chunk in enumerate(chunks, start=1):
        # Lazy: when chunk i arrives, exactly i batches have been fetched, never more.
        assert len(batches) == i
        lines += chunk.count("\r\n")
        if i == 1:
            assert chunk.startswith("1,row 1\r\n2,row 2\r\n")
    assert lines == ROWS
    assert len(batches) == ROWS // BATCH
    assert {rows for rows, _ in batches} == {BATCH}
    assert {cursors for _, cursors in batches} == {1}


def test_closing_the_stream_early_releases_the_connection(engine: Engine) -> None:
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    chunks = stream_csv(engine=engine, scope=TenantScope.of([]), query=SERIES,
                        params={"n": ROWS}, header=["n", "label"], yield_per=BATCH)
    next(chunks)
    next(chunks)
    assert engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
    chunks.close()  # what a client disconnect does to the response's iterator
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


CELLS = text(
    "SELECT * FROM (VALUES (1, '=1+1'), (2, '+1'), (3, '-2'), (4, '@x'), (5, 'plain'),"
    " (6, E'\\tTab'), (7, NULL)) AS v(n, label) ORDER BY n"
)
NEUTRAL = [["1", "'=1+1"], ["2", "'+1"], ["3", "'-2"], ["4", "'@x"], ["5", "plain"],
           ["6", "'\tTab"], ["7", ""]]


def test_formula_cells_neutralised_on_both_paths(engine: Engine) -> None:
    streamed = "".join(stream_csv(engine=engine, scope=TenantScope.of([]), query=CELLS,
                                  params={}, header=["n", "label"]))
    assert list(csv.reader(io.StringIO(streamed)))[1:] == NEUTRAL
    select = (
        "SELECT n, " + safe_sql("label") + " AS label FROM (VALUES (1, '=1+1'), (2, '+1'),"  # noqa: S608
        " (3, '-2'), (4, '@x'), (5, 'plain'), (6, E'\\tTab'), (7, NULL)) AS v(n, label)"
        " WHERE n <= %(last)s ORDER BY n"
    )
    copied = b"".join(copy_csv(engine=engine, scope=TenantScope.of([]), select_sql=select,
                               params={"last": 7})).decode()
    rows = list(csv.reader(io.StringIO(copied)))
    assert rows[0] == ["n", "label"]
    assert rows[1:] == NEUTRAL


def _peak_bytes(engine: Engine, rows: int) -> tuple[int, int]:
    """Peak Python memory while streaming ``rows`` rows to nowhere, and the bytes produced."""
    chunks = stream_csv(engine=engine, scope=TenantScope.of([]), query=SERIES,
                        params={"n": rows}, header=["n", "label"], yield_per=BATCH)
    produced = 0
    tracemalloc.start()
    try:
        for chunk in chunks:
            produced += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, produced


def test_memory_stays_flat_as_the_export_grows_tenfold(engine: Engine) -> None:
    small_peak, small_bytes = _peak_bytes(engine, 10_000)
    large_peak, large_bytes = _peak_bytes(engine, 100_000)
    assert large_bytes > 10 * small_bytes  # ten times the rows (and longer labels)
    # Memory is bounded by one batch, not by the export: ten times the output costs well
    # under twice the peak (a materialised export would need about ten times).
    # (Measured here: about 0.5 MB at both sizes, for 0.15 and 1.7 MB of CSV.)
    assert large_peak < 2 * small_peak
    assert large_peak < large_bytes / 2
