"""50 concurrent users on mixed pages at demo scale vs a static asset on the same server, one run.

    python bench/load.py [--orgs 60] [--days 60] [--users 50] [--seconds 45]
                         [--baseline-seconds 15] [--think 1.0] [--workers 2]

Data: the `orgpulse demo` data set (``--orgs`` × ``--days``, through the ingestion service
in-process, with its health snapshots and demo logins) in a scratch database.

Load: ``orgpulse serve --workers N`` on loopback; ``--users`` virtual users in one asyncio client
(httpx), each with a personal API token of its own for the demo cs_leader. A user loops for
``--seconds``: picks a page by the weights below, for an org drawn at random among the orgs with
detailed analytics (aggregate-only orgs excluded: their detailed pages are refused by design),
waits for the whole response, then thinks for a uniform 0..2×``--think`` seconds (closed loop).

| page | weight |
| --- | --- |
| ``/portfolio`` (all accounts) | 20 |
| ``/orgs/{org}`` (org dashboard) | 35 |
| ``/orgs/{org}/adoption`` | 20 |
| ``/orgs/{org}/adoption.csv`` | 15 |
| ``/orgs/{org}/activity.csv`` (member activity, last 90 days) | 10 |

Baseline, right after, same users and think time for ``--baseline-seconds``:
``GET /static/app.css`` (a static file served by the same app). Every kind is requested once per
user before the clock starts (warm-up, not measured).

Reports p50/p95/p99 per page and overall, errors (any status but 200, or a transport error) and
the achieved request rate (bar: p95 ≤ 300 ms, 0 errors). Prints Markdown rows for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from harness import api_token, bench_database, load_demo_data, log, percentile, server
from sqlalchemy import text

from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, unscoped

LEADER = "cs_leader@demo.orgpulse.test"
PAGES: list[tuple[str, str, int]] = [
    ("portfolio", "/portfolio", 20),
    ("org dashboard", "/orgs/{org}", 35),
    ("adoption", "/orgs/{org}/adoption", 20),
    ("adoption.csv", "/orgs/{org}/adoption.csv", 15),
    ("activity.csv", "/orgs/{org}/activity.csv", 10),
]
STATIC = ("static asset", "/static/app.css")


@dataclass
class Samples:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)


def detailed_orgs(settings: Settings) -> list[str]:
    """Slugs of the demo orgs a cs_leader sees in detail."""
    with unscoped(app_engine(settings)) as conn:
        apply_scope(conn, TenantScope.of(all_org_ids(conn)))
        return list(
            conn.execute(
                text("SELECT slug FROM orgs WHERE privacy_mode <> 'aggregate_only' ORDER BY slug")
            ).scalars()
        )


async def get(client: httpx.AsyncClient, kind: str, path: str, samples: Samples | None) -> None:
    start = time.perf_counter()
    try:
        r = await client.get(path)
        await r.aread()
        ok, detail = r.status_code == 200, f"{r.status_code} {path}"
    except httpx.TransportError as exc:
        ok, detail = False, f"{type(exc).__name__} {path}"
    if samples is None:
        return
    samples.times[kind].append(time.perf_counter() - start)
    if not ok:
        samples.errors[kind] += 1
        if len(samples.error_examples) < 5:
            samples.error_examples.append(detail)


async def user(
    url: str, token: str, orgs: list[str], args: argparse.Namespace, seed: int,
    phases: list[tuple[list[tuple[str, str, int]], float, Samples]],
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for kind, path, _ in [*PAGES, (*STATIC, 1)]:  # warm-up
            await get(client, kind, path.format(org=rng.choice(orgs)), None)
        for pages, seconds, samples in phases:
            kinds = [(k, p) for k, p, _ in pages]
            weights = [w for _, _, w in pages]
            # Stagger the start so 50 users do not arrive in lockstep.
            await asyncio.sleep(rng.uniform(0, 2 * args.think))
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                kind, path = rng.choices(kinds, weights)[0]
                await get(client, kind, path.format(org=rng.choice(orgs)), samples)
                await asyncio.sleep(rng.uniform(0, 2 * args.think))


async def drive(url: str, tokens: list[str], orgs: list[str], args: argparse.Namespace
                ) -> tuple[Samples, Samples]:
    mixed, static = Samples(), Samples()
    phases = [(PAGES, float(args.seconds), mixed), ([(*STATIC, 1)], args.baseline_seconds, static)]
    await asyncio.gather(
        *(user(url, t, orgs, args, i, phases) for i, t in enumerate(tokens))
    )
    return mixed, static


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=60)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.seconds + args.baseline_seconds > 60:
        raise SystemExit("the load runs at most 60 s in all (--seconds + --baseline-seconds)")
    with bench_database("orgpulse_bench_load") as (settings, db_url):
        run(args, settings, db_url)


def run(args: argparse.Namespace, settings: Settings, db_url: str) -> None:
    log(f"loading the demo: {args.orgs} orgs × {args.days} days")
    load_seconds = load_demo_data(settings, orgs=args.orgs, days=args.days)
    log(f"demo loaded in {load_seconds:.0f} s")
    orgs = detailed_orgs(settings)
    tokens = [api_token(settings, LEADER) for _ in range(args.users)]
    with server(settings, db_url, args.workers) as url:
        log(f"{args.users} users: {args.seconds:.0f} s mixed pages, then "
            f"{args.baseline_seconds:.0f} s static asset")
        mixed, static = asyncio.run(drive(url, tokens, orgs, args))
    report(args, len(orgs), mixed, static)


def report(args: argparse.Namespace, orgs: int, mixed: Samples, static: Samples) -> None:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    def row(label: str, times: list[float], errors: int, seconds: float, bar: bool) -> str:
        p95 = percentile(times, 95)
        verdict = ""
        if bar:
            verdict = "met" if p95 <= 0.3 and errors == 0 else "**not met**"
        return (
            f"| {datetime.now(UTC):%Y-%m-%d} | {label} | {len(times)} | {errors} | "
            f"{len(times) / seconds:.1f}/s | {ms(statistics.median(times))} | {ms(p95)} | "
            f"{ms(percentile(times, 99))} | {verdict} |"
        )

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"  {args.users} users, think 0..{2 * args.think:.1f} s, {orgs} orgs in the pool, "
          f"orgpulse serve --workers {args.workers}")
    for example in mixed.error_examples + static.error_examples:
        print(f"  error: {example}")
    print("| date | pages | requests | errors | rate | p50 | p95 | p99 "
          "| bar p95 ≤ 300 ms, 0 errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    every = [t for times in mixed.times.values() for t in times]
    print(row("**all mixed pages**", every, sum(mixed.errors.values()), args.seconds, True))
    for kind, _, _ in PAGES:
        times = mixed.times.get(kind, [])
        if times:
            print(row(kind, times, mixed.errors[kind], args.seconds, False))
    times = static.times[STATIC[0]]
    print(row(f"baseline: {STATIC[0]} (`{STATIC[1]}`)", times, static.errors[STATIC[0]],
              args.baseline_seconds, False))
    print(f"p95 ratio, mixed pages / static asset: "
          f"{percentile(every, 95) / percentile(times, 95):.0f}×")


if __name__ == "__main__":
    main()
