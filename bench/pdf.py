"""The business review PDF at demo scale, over HTTP, vs WeasyPrint rendering a trivial page.

    python bench/pdf.py [--orgs 60] [--days 60] [--reports 30] [--workers 1]

Data: the `orgpulse demo` data set (``--orgs`` × ``--days``, loaded through the ingestion service
in-process, with its 31 days of health snapshots and its demo logins) in a scratch database.
The report is for the demo org with the most members, for the last full month (the route's
default).

Measured in one run:

1. ``GET /orgs/{org}/reports/business-review.pdf`` from ``orgpulse serve`` on loopback, as the
   demo cs_leader with an API token, ``--reports`` times one after another after two warm-up
   requests (the first loads WeasyPrint and its fonts; it is reported on its own): p50/p95 of
   the seconds per report (bar: ≤ 1.5 s);
2. the same report in-process, split into its parts: the numbers (``reports.service``), the HTML
   (Jinja2 + SVG charts) and the PDF (WeasyPrint), median of ``--reports`` runs each;
3. baseline: WeasyPrint turning a trivial HTML page (one heading, one paragraph) into a PDF
   through the product's ``html_to_pdf``, ``--reports`` times in-process. The ratio says how
   much of a report is WeasyPrint's fixed cost.

Prints Markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from harness import api_token, bench_database, load_demo_data, log, percentile, server
from sqlalchemy import text

from orgpulse.catalog import catalog_of
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, scoped, unscoped
from orgpulse.reports import pdf, service
from orgpulse.reports.periods import last_full_month

LEADER = "cs_leader@demo.orgpulse.test"
TRIVIAL = "<!doctype html><html><body><h1>Report</h1><p>One paragraph.</p></body></html>"


def largest_org(settings: Settings) -> tuple[int, str, str, int]:
    """(org_id, slug, name, members) of the demo org with the most members."""
    with unscoped(app_engine(settings)) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        row = conn.execute(
            text(
                "SELECT o.org_id, o.slug, o.name, count(m.member_id) AS n FROM orgs o"
                " JOIN members m ON m.org_id = o.org_id GROUP BY o.org_id"
                " ORDER BY n DESC, o.org_id LIMIT 1"
            )
        ).one()
    return int(row[0]), str(row[1]), str(row[2]), int(row[3])


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=60)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with bench_database("orgpulse_bench_pdf") as (settings, db_url):
        run(args, settings, db_url)


def run(args: argparse.Namespace, settings: Settings, db_url: str) -> None:
    log(f"loading the demo: {args.orgs} orgs × {args.days} days")
    load_seconds = load_demo_data(settings, orgs=args.orgs, days=args.days)
    log(f"demo loaded in {load_seconds:.0f} s")
    org_id, slug, name, members = largest_org(settings)
    token = api_token(settings, LEADER)

    with server(settings, db_url, args.workers) as url:
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/orgs/{slug}/reports/business-review.pdf"
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:

            def fetch() -> int:
                r = client.get(path)
                r.raise_for_status()
                assert r.content.startswith(b"%PDF-"), r.content[:40]
                return len(r.content)

            cold, _ = timed(fetch, 1)
            timed(fetch, 1)
            log(f"{args.reports} reports over HTTP")
            http, size = timed(fetch, args.reports)

    # In-process, the parts of one report (same code as the route, same month and scope).
    catalog = catalog_of(settings)
    engine = app_engine(settings)
    now = datetime.now(UTC)
    month = last_full_month(now.date())

    def numbers() -> service.BusinessReview:
        with scoped(engine, TenantScope.of([org_id])) as conn:
            return service.business_review(
                conn=conn, catalog=catalog, org_id=org_id, month=month, now=now,
                amber_seconds=settings.freshness_amber_seconds,
            )

    log("the same report in-process, by part; then the trivial page")
    pdf.html_to_pdf(TRIVIAL)  # this process's first WeasyPrint call loads it and its fonts
    numbers_t, review = timed(numbers, args.reports)
    html_t, html = timed(lambda: pdf.business_review_html(review), args.reports)
    pdf_t, body = timed(lambda: pdf.html_to_pdf(html), args.reports)
    trivial_t, _ = timed(lambda: pdf.html_to_pdf(TRIVIAL), args.reports)
    assert body.startswith(b"%PDF-")
    report(args, org=(name, members), month=month.label, size=size, cold=cold[0],
           http=http, parts=(numbers_t, html_t, pdf_t), trivial=trivial_t)


def report(
    args: argparse.Namespace, *, org: tuple[str, int], month: str, size: int,
    cold: float, http: list[float], parts: tuple[list[float], list[float], list[float]],
    trivial: list[float],
) -> None:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    p50, p95 = statistics.median(http), percentile(http, 95)
    base = statistics.median(trivial)
    numbers_t, html_t, pdf_t = (statistics.median(p) for p in parts)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"  org {org[0]!r} ({org[1]} members), month {month}, PDF {size / 1024:.0f} KiB, "
          f"first request (cold: WeasyPrint and fonts load) {ms(cold)}")
    print(f"  in-process: numbers {ms(numbers_t)}, HTML {ms(html_t)}, WeasyPrint {ms(pdf_t)};"
          f" trivial page {ms(base)}")
    print("| date | data | n | p50 | p95 | max | baseline: trivial page (p50) | p50 ratio "
          "| bar ≤ 1.5 s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {datetime.now(UTC):%Y-%m-%d} | demo {args.orgs} orgs × {args.days} d, largest org "
        f"({org[1]} members), {month} | {len(http)} | {p50:.2f} s | {p95:.2f} s | "
        f"{max(http):.2f} s | {ms(base)} | {p50 / base:.0f}× | "
        f"{'met' if p95 <= 1.5 else '**not met**'} |"
    )
    print("| date | part (in-process, median) | time | share |")
    print("| --- | --- | --- | --- |")
    total = numbers_t + html_t + pdf_t
    for label, t in (("numbers (`reports.service.business_review`)", numbers_t),
                     ("HTML (Jinja2 + SVG charts)", html_t), ("PDF (WeasyPrint)", pdf_t)):
        print(f"| {datetime.now(UTC):%Y-%m-%d} | {label} | {ms(t)} | {t / total:.0%} |")


if __name__ == "__main__":
    main()
