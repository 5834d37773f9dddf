"""Constant-memory CSV streams straight from PostgreSQL, inside a tenant-scoped transaction.

Two paths, both holding one tenant-scoped transaction open for exactly as long as the response
streams (opened on the first chunk, closed when the rows run out or the client goes away, which
closes the generator and runs its ``finally``):

* ``stream_csv``: rows pulled from a server-side (named) cursor ``yield_per`` at a time and
  encoded by Python, so cells go through ``safe_cell`` and a row mapper may format them.
* ``copy_csv``: ``COPY (SELECT …) TO STDOUT WITH CSV HEADER`` through psycopg's ``cursor.copy()``,
  for raw exports whose SELECT already produces the final cells; text columns must be wrapped in
  ``safe_sql`` so formula neutralisation holds there too. Row-level security applies to the
  SELECT inside COPY exactly as to any query (tests/exports/test_stream.py checks it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, TextClause

from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.exports.csv import FORMULA_PREFIXES, safe_cell

DEFAULT_YIELD_PER = 2000

RowMapper = Callable[[Row[Any]], Sequence[Any]]
BatchHook = Callable[[Connection, int], None]


def safe_sql(expression: str) -> str:
    """Wrap a text SQL expression so a cell starting with = + - @ (or tab, CR) gets a quote.

    Why: the same OWASP "CSV injection" guard as ``safe_cell``, for COPY, where no Python code
    sees the cells. ``expression`` is SQL written by us (a column name), never user input.
    """
    prefixes = ", ".join(f"chr({ord(p)})" for p in FORMULA_PREFIXES)
    e = f"({expression})"
    return f"CASE WHEN left({e}, 1) IN ({prefixes}) THEN '''' || {e} ELSE {e} END"


def stream_csv(
    *,
    engine: Engine,
    scope: TenantScope,
    query: TextClause,
    params: Mapping[str, Any],
    header: Sequence[str],
    to_row: RowMapper | None = None,
    yield_per: int = DEFAULT_YIELD_PER,
    on_batch: BatchHook | None = None,
    cells_safe_in_sql: bool = False,
) -> Iterator[str]:
    """Yield CSV text (header first), one chunk per ``yield_per`` rows of a server-side cursor.

    ``on_batch(conn, rows)`` is called after each batch is fetched (tests count fetches with
    it). Nothing but the current batch is ever held in memory. ``cells_safe_in_sql``: the
    query wraps every text column in ``safe_sql`` and its columns are the CSV's, so rows are
    written as fetched, without a Python call per cell (the fast path of large exports).
    """
    if cells_safe_in_sql and to_row is not None:
        raise ValueError("cells_safe_in_sql writes rows as fetched: it takes no to_row")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield _drain(buffer)
    if cells_safe_in_sql:
        yield from _stream_rows_as_fetched(engine, scope, query, params, writer, buffer,
                                           yield_per=yield_per, on_batch=on_batch)
        return
    with scoped(engine, scope) as conn:
        result = conn.execution_options(stream_results=True, yield_per=yield_per).execute(
            query, dict(params)
        )
        try:
            for batch in result.partitions(yield_per):
                if on_batch is not None:
                    on_batch(conn, len(batch))
                for row in batch:
                    cells = to_row(row) if to_row is not None else tuple(row)
                    writer.writerow([safe_cell(v) for v in cells])
                yield _drain(buffer)
        finally:
            result.close()


def _stream_rows_as_fetched(
    engine: Engine,
    scope: TenantScope,
    query: TextClause,
    params: Mapping[str, Any],
    writer: Any,
    buffer: io.StringIO,
    *,
    yield_per: int,
    on_batch: BatchHook | None,
) -> Iterator[str]:
    """The fast path: psycopg's own server-side cursor, its row tuples handed to the C CSV
    writer a batch at a time (no SQLAlchemy row objects, no Python call per cell)."""
    with scoped(engine, scope) as conn:
        raw = conn.connection.driver_connection
        if raw is None:
            raise RuntimeError("the pooled connection has no driver connection")
        compiled = query.compile(dialect=conn.dialect)
        with raw.cursor(name="orgpulse_export") as cursor:
            cursor.itersize = yield_per
            cursor.execute(compiled.string, compiled.construct_params(dict(params)))
            while batch := cursor.fetchmany(yield_per):
                if on_batch is not None:
                    on_batch(conn, len(batch))
                writer.writerows(batch)
                yield _drain(buffer)


def copy_csv(
    *,
    engine: Engine,
    scope: TenantScope,
    select_sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
) -> Iterator[bytes]:
    """Yield the bytes of ``COPY (select_sql) TO STDOUT WITH CSV HEADER`` as PostgreSQL sends them.

    ``select_sql`` uses psycopg placeholders (``%(name)s``); psycopg binds them client-side,
    because COPY takes no server-side parameters.
    """
    with scoped(engine, scope) as conn:
        raw = conn.connection.driver_connection
        if raw is None:
            raise RuntimeError("the pooled connection has no driver connection")
        statement = f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with raw.cursor() as cursor, cursor.copy(statement, params) as copy:
            for data in copy:
                yield bytes(data)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
