"""`orgpulse` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orgpulse.audit import AuditContext, record
from orgpulse.core.config import get_settings
from orgpulse.core.errors import OrgPulseError

app = typer.Typer(
    help="OrgPulse: org-level analytics and implementation health.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Local users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
keys_app = typer.Typer(help="Segment write keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(keys_app, name="keys")
health_app = typer.Typer(help="Health scores: snapshots and backtest.", no_args_is_help=True)
app.add_typer(health_app, name="health")
metrics_app = typer.Typer(help="Rollups and projections behind the metrics.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")
audit_app = typer.Typer(help="Audit records.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
orgs_app = typer.Typer(help="Organization settings.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
retention_app = typer.Typer(help="Data retention.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
err = Console(stderr=True)


def _cli_audit_context() -> AuditContext:
    """Who acts from the command line: the operator, recorded as actor kind ``cli``."""
    return AuditContext(actor_user_id=None, actor_kind="cli")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Run migrations as the owner and create the app role and event partitions."""
    from orgpulse.core.migrate import upgrade

    upgrade(get_settings())
    typer.echo("database is at the latest revision")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    role: Annotated[
        str,
        typer.Option(
            help="platform_admin, cs_leader, account_manager, support, "
            "org_admin, unit_admin, employer_viewer, hr_submitter, member"
        ),
    ],
    org: Annotated[str | None, typer.Option(help="Org slug or external id (per-org roles)")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a user (optionally with a role in one org)."""
    from orgpulse.auth import Role, create_user, resolve_org_ref
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import unscoped

    try:
        parsed_role = Role(role)
    except ValueError:
        raise _fail(f"unknown role {role!r}") from None
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    settings = get_settings()
    try:
        with unscoped(app_engine(settings)) as conn:
            org_id = None
            if org is not None:
                org_id = resolve_org_ref(conn, org)
                if org_id is None:
                    raise _fail(f"no organization {org!r}")
            user_id = create_user(
                conn,
                email=email,
                password=password,
                display_name=name,
                role=parsed_role,
                org_id=org_id,
            )
            after = {
                "user_id": user_id,
                "email": email,
                "display_name": name or email.split("@")[0],
                "role": parsed_role.value,
                "org_id": org_id,
                "password_set": password is not None,
            }
            record(
                conn,
                ctx=_cli_audit_context(),
                action="admin.user_created",
                org_id=org_id,
                target=email[:254],
                details={"after": after},
            )
    except OrgPulseError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"created user {user_id} ({email}, {parsed_role})")


@tokens_app.command("create")
def tokens_create(
    user: Annotated[
        str, typer.Option("--user", "--email", help="Email of the user the token acts as")
    ],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    org: Annotated[
        str | None,
        typer.Option(help="Limit the token to this org (slug or external id), e.g. an HR system"),
    ] = None,
) -> None:
    """Create a personal API token; the token is printed once, as the last line."""
    from orgpulse.auth import create_api_token, find_user_id, resolve_org_ref
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import unscoped

    try:
        with unscoped(app_engine(get_settings())) as conn:
            org_id = None
            if org is not None:
                org_id = resolve_org_ref(conn, org)
                if org_id is None:
                    raise _fail(f"no organization {org!r}")
            user_id = find_user_id(conn, email=user)
            token = create_api_token(conn, user_id=user_id, name=name, org_id=org_id)
            record(
                conn,
                ctx=_cli_audit_context(),
                action="admin.token_created",
                org_id=org_id,
                target=user[:254],
                details={
                    "after": {"user_id": user_id, "email": user, "name": name, "org_id": org_id}
                },
            )
    except OrgPulseError as exc:
        raise _fail(exc.message) from None
    if org is not None:
        typer.echo(f"token {name!r} for {user}, limited to organization {org!r}:")
    typer.echo(token)


@keys_app.command("create")
def keys_create(name: Annotated[str, typer.Option(help="Source name, e.g. 'backend'")]) -> None:
    """Create a Segment write key; the key is printed once, as the last line."""
    from orgpulse.auth import create_write_key
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import unscoped

    with unscoped(app_engine(get_settings())) as conn:
        key = create_write_key(conn, name=name)
        record(
            conn,
            ctx=_cli_audit_context(),
            action="admin.write_key_created",
            target=name[:200],
            details={"after": {"name": name}},
        )
    typer.echo(f"write key for {name!r} (send it as the Basic-auth username):")
    typer.echo(key)


@orgs_app.command("privacy")
def orgs_privacy(
    org: Annotated[str, typer.Argument(help="Org slug or external id")],
    mode: Annotated[
        str | None, typer.Option(help="standard or aggregate_only (unset: keep)")
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Minimum cohort size, at least 10 (unset: keep)")
    ] = None,
) -> None:
    """Show an org's privacy settings, or change them (audited as a CLI admin change)."""
    from orgpulse.auth import Role, resolve_org_ref
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import TenantScope, scoped, unscoped
    from orgpulse.privacy.policy import PrivacyMode
    from orgpulse.privacy.settings import current_privacy, set_privacy

    try:
        parsed_mode = PrivacyMode(mode) if mode is not None else None
    except ValueError:
        raise _fail(f"unknown mode {mode!r} (standard or aggregate_only)") from None
    engine = app_engine(get_settings())
    with unscoped(engine) as conn:
        org_id = resolve_org_ref(conn, org)
    if org_id is None:
        raise _fail(f"no organization {org!r}")
    try:
        with scoped(engine, TenantScope.of([org_id])) as conn:
            if parsed_mode is None and k is None:
                slug, now = current_privacy(conn=conn, org_id=org_id)
                typer.echo(
                    f"{slug}: mode {now.mode.value}, minimum cohort size {now.min_cohort_size}"
                )
                return
            change = set_privacy(
                conn=conn,
                org_id=org_id,
                mode=parsed_mode,
                min_cohort_size=k,
                actor_role=Role.PLATFORM_ADMIN,
                ctx=_cli_audit_context(),
            )
    except OrgPulseError as exc:
        raise _fail(exc.message) from None
    b, a = change.before, change.after
    typer.echo(
        f"{change.slug}: mode {b.mode.value} -> {a.mode.value}, "
        f"minimum cohort size {b.min_cohort_size} -> {a.min_cohort_size}"
    )


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON or CSV file")],
    rejects: Annotated[Path | None, typer.Option(help="Where rejected lines go")] = None,
) -> None:
    """Import Segment messages from a file, with progress and a summary."""
    from orgpulse.core.db import app_engine
    from orgpulse.ingestion.importer import import_file

    settings = get_settings()
    rejects_path = rejects or file.with_name(file.name + ".rejects.ndjson")
    with file.open(encoding="utf-8-sig") as fh:
        total = sum(1 for line in fh if line.strip())
    if file.suffix.lower() == ".csv":
        total = max(total - 1, 0)  # the header row
    with rejects_path.open("w", encoding="utf-8") as out, _progress() as bar:
        task = bar.add_task(f"importing {file.name}", total=total)
        try:
            summary = import_file(
                engine=app_engine(settings),
                settings=settings,
                path=file,
                rejects=out,
                progress=lambda n: bar.advance(task, n),
            )
        except (ValueError, OrgPulseError) as exc:
            raise _fail(str(exc)) from None
    typer.echo(
        f"read {summary.read}: accepted {summary.accepted}, duplicates {summary.duplicates}, "
        f"held (no org yet) {summary.unattributed}, rejected {summary.rejected}"
    )
    if summary.reattributed:
        typer.echo(f"earlier held messages now placed in their org: {summary.reattributed}")
    for reason, count in sorted(summary.reasons.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  {count:>8}  {reason}")
    if summary.rejected:
        typer.echo(f"rejected lines with reasons: {rejects_path}")


@health_app.command("snapshot")
def health_snapshot(
    days: Annotated[int, typer.Option(help="Days of history to (re)compute, ending today")] = 1,
) -> None:
    """Compute daily health snapshots (org and unit level) for trends."""
    from orgpulse.catalog import catalog_of
    from orgpulse.core import clock
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import all_org_ids, unscoped
    from orgpulse.health.snapshots import backfill_snapshots

    settings = get_settings()
    engine = app_engine(settings)
    with unscoped(engine) as conn:
        total = len(all_org_ids(conn))
    with unscoped(engine) as conn, _progress() as bar:
        task = bar.add_task(f"scoring {days} day(s)", total=total)
        rows = backfill_snapshots(
            conn,
            catalog=catalog_of(settings),
            now=clock.now(),
            days=days,
            progress=lambda n: bar.advance(task, n),
        )
    typer.echo(f"wrote {rows} snapshots")


@health_app.command("backtest")
def health_backtest(
    churned: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="CSV: org external id, churn date (YYYY-MM-DD)"
        ),
    ],
    lookback_days: Annotated[int, typer.Option(help="Days before churn to replay")] = 120,
    step_days: Annotated[int, typer.Option(help="Days between replayed checks")] = 7,
) -> None:
    """How many days before churn did the score first say "at risk", and how many false alarms?"""
    from orgpulse.catalog import catalog_of
    from orgpulse.core import clock
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import all_org_ids, unscoped
    from orgpulse.health.backtest import parse_churn_file, run_backtest

    settings = get_settings()
    engine = app_engine(settings)
    try:
        churn = parse_churn_file(churned.read_text(encoding="utf-8-sig"))
        with unscoped(engine) as conn:
            total = len(all_org_ids(conn))
        with unscoped(engine) as conn, _progress() as bar:
            task = bar.add_task("replaying scores", total=total)
            report = run_backtest(
                conn,
                catalog=catalog_of(settings),
                churned=churn,
                now=clock.now(),
                lookback_days=lookback_days,
                step_days=step_days,
                progress=lambda n: bar.advance(task, n),
            )
    except OrgPulseError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"checks every {step_days} days over the {lookback_days} days before churn/today")
    typer.echo("\nchurned organizations:")
    for o in report.churned:
        lead = f"{o.lead_days} days before churn" if o.lead_days is not None else "never flagged"
        where = f" (scored on {o.scored_checks} of {o.checks} checks)"
        typer.echo(f"  {o.external_id:<12} churned {o.churned_on}  at risk: {lead}{where}")
    flagged, ahead = len(report.flagged), len(report.flagged_14_days_ahead)
    median = report.median_lead_days
    typer.echo(
        f"\nflagged {flagged} of {len(report.churned)} churned; {ahead} at least 14 days ahead; "
        f"median lead {median if median is not None else '-'} days"
    )
    typer.echo(
        f"false alarms: {len(report.false_alarms)} of {len(report.others)} other organizations "
        f"({len(report.scorable_others)} had enough data to score)"
    )


@metrics_app.command("rebuild")
def metrics_rebuild(
    org: Annotated[str | None, typer.Option(help="Org slug (or external id) to rebuild")] = None,
    all_orgs: Annotated[bool, typer.Option("--all", help="Rebuild every org")] = False,
) -> None:
    """Rebuild rollups and projections from stored events (current catalog and timezones)."""
    from orgpulse.catalog import catalog_of
    from orgpulse.core.db import app_engine
    from orgpulse.metrics import OrgRebuild, rebuild_metrics, resolve_orgs

    if (org is None) == (not all_orgs):
        raise _fail("give exactly one of --org SLUG or --all")
    settings = get_settings()
    engine = app_engine(settings)

    def report(rebuilt: OrgRebuild) -> None:
        rows = ", ".join(f"{table} {n}" for table, n in rebuilt.rows.items())
        where = f"{rebuilt.slug} ({rebuilt.timezone})"
        typer.echo(f"{where}: read {rebuilt.events} events; wrote {rows}")
        bar.advance(task)

    try:
        org_ids = resolve_orgs(engine=engine, refs=None if org is None else [org])
        with _progress() as bar:
            task = bar.add_task("rebuilding metrics", total=len(org_ids))
            done = rebuild_metrics(
                engine=engine, catalog=catalog_of(settings), org_ids=org_ids, on_org=report
            )
    except OrgPulseError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"rebuilt {len(done)} org(s) from {sum(r.events for r in done)} events")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 at the first broken link."""
    from orgpulse.audit import count_records, verify_chain
    from orgpulse.core.db import owner_engine

    engine = owner_engine(get_settings())
    with _progress() as bar:
        task = bar.add_task("verifying audit chain", total=count_records(engine=engine))
        report = verify_chain(engine=engine, progress=lambda n: bar.advance(task, n))
    typer.echo(f"checked {report.checked} records")
    if report.broken is None:
        typer.echo(f"chain intact; head {report.head.hex()}")
        return
    broken = report.broken
    typer.echo(
        f"chain broken at audit_id {broken.audit_id}: {broken.problem} "
        f"(expected {broken.expected.hex()}, stored {broken.stored.hex()})"
    )
    raise typer.Exit(code=1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the web app and ingestion API (embedded PostgreSQL when DATABASE_URL is unset)."""
    _serve(host=host, port=port, workers=workers)


def _serve(*, host: str, port: int, workers: int) -> None:
    import uvicorn

    from orgpulse.core.db import owner_url, stop_embedded
    from orgpulse.core.migrate import upgrade
    from orgpulse.jobs import start_scheduler

    settings = get_settings()
    owner_url(settings)  # starts the embedded server if needed and exports DATABASE_URL
    upgrade(settings)
    stop = start_scheduler(settings) if settings.jobs_enabled else None
    try:
        uvicorn.run(
            "orgpulse.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        if stop is not None:
            stop.set()
        stop_embedded()


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every job once, then exit")] = False,
    job: Annotated[str | None, typer.Option(help="With --once: only this job")] = None,
) -> None:
    """Run the scheduled jobs without the web app (set ORGPULSE_JOBS_ENABLED=false on web nodes)."""
    import signal
    import threading

    from orgpulse.core.db import owner_url, stop_embedded
    from orgpulse.jobs import registered_jobs, run_all_once, scheduler_loop

    settings = get_settings()
    if job is not None and job not in {j.name for j in registered_jobs()}:
        raise _fail(f"no job {job!r}; jobs: {', '.join(j.name for j in registered_jobs())}")
    owner_url(settings)
    try:
        if once:
            results = run_all_once(settings, only=job)
            for name, status in results:
                typer.echo(f"{name}: {status}")
            if any(status == "failed" for _, status in results):
                raise typer.Exit(code=1)
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"worker running: {', '.join(j.name for j in registered_jobs())}")
        scheduler_loop(settings, stop)
    finally:
        stop_embedded()


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be dropped; change nothing")
    ] = False,
) -> None:
    """Drop raw event partitions past ORGPULSE_RETENTION_DAYS; rollups, snapshots, audit stay."""
    from sqlalchemy import Connection

    from orgpulse.core import clock
    from orgpulse.core.db import owner_engine
    from orgpulse.jobs import run_job
    from orgpulse.jobs.retention import run_retention, summary

    settings = get_settings()
    report: list[str] = []

    def work(conn: Connection) -> str:
        report.extend(run_retention(conn, settings=settings, now=clock.now(), dry_run=dry_run))
        return f"dry run: {summary(report)}" if dry_run else summary(report)

    status = run_job(owner_engine(settings), "retention", work)
    for line in report:
        typer.echo(line)
    if status == "failed":
        raise _fail("retention failed; see the retention job on the health panel")
    if not report:
        typer.echo("skipped: another node is running retention")


@app.command("demo")
def demo(
    orgs: Annotated[int, typer.Option(help="How many customer orgs")] = 60,
    days: Annotated[int, typer.Option(help="Days of history (at most 390)")] = 390,
    seed: Annotated[int, typer.Option(help="Random seed")] = 1,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load data, then exit")] = False,
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Load realistic demo data through the ingestion service and start the UI."""
    from orgpulse.core.db import owner_url
    from orgpulse.core.migrate import upgrade
    from orgpulse.demo.loader import load_demo

    settings = get_settings()
    owner_url(settings)
    upgrade(settings)
    with _progress() as bar:
        task = bar.add_task("loading demo events", total=None)
        scoring = bar.add_task("scoring the last 31 days", total=orgs)
        logins = load_demo(
            settings=settings,
            orgs=orgs,
            days=days,
            seed=seed,
            progress=lambda n: bar.advance(task, n),
            snapshot_progress=lambda n: bar.advance(scoring, n),
        )
    typer.echo("\nDemo logins:")
    for email, role, password, where in logins:
        typer.echo(f"  {role:<16} {email:<34} {password}  {where}")
    if no_serve:
        from orgpulse.core.db import stop_embedded

        stop_embedded()
        return
    typer.echo(f"\nOpen http://{host}:{port}/ and sign in with one of the logins above.")
    _serve(host=host, port=port, workers=1)


deliveries_app = typer.Typer(help="The email and webhook outbox.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")


@deliveries_app.command("send")
def deliveries_send(
    limit: Annotated[int, typer.Option(help="Most deliveries to send in this pass", min=1)] = 100,
) -> None:
    """Send due emails and webhooks once (what the deliveries job does every 30 s)."""
    from sqlalchemy import Connection

    from orgpulse.core import clock
    from orgpulse.core.db import app_engine
    from orgpulse.jobs import run_job
    from orgpulse.notify.delivery import DeliveryPass, deliver_due

    settings = get_settings()
    result: list[DeliveryPass] = []

    def work(conn: Connection) -> str:
        result.append(deliver_due(conn.engine, settings=settings, now=clock.now(), limit=limit))
        return result[0].summary()

    status = run_job(app_engine(settings), "deliveries", work)
    if status == "failed":
        raise _fail("the delivery pass failed; see the deliveries job on the health panel")
    if not result:
        typer.echo("skipped: another node is sending deliveries")
        return
    typer.echo(result[0].summary())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
