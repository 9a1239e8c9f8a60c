"""The ``telco-dw`` command: manage the embedded warehouse, generate data, run the pipeline.

Errors a user can fix print as one line (``error: ...``) with exit code 2; ``--debug`` shows the
stack trace as well.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from telco_dw import config, sources
from telco_dw.errors import UserError
from telco_dw.simulate.outbox import DIRTY_KINDS, OPT_IN_KINDS
from telco_dw.simulate.world import SimConfig

if TYPE_CHECKING:
    from telco_dw.load.batch import BatchResult

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

DEMO_START = date(2026, 10, 1)


@contextmanager
def _step(title: str) -> Iterator[None]:
    """Show a spinner while a step runs, then its elapsed time."""
    started = time.monotonic()
    with console.status(f"{title} ..."):
        yield
    console.print(f"[green]✓[/] {title} [dim]({time.monotonic() - started:.1f}s)[/]")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show stack traces and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """telco-dw: a customer-satisfaction data warehouse for telecom operators.

    Settings come from environment variables (see `telco-dw config`); with none set, everything runs
    on an embedded PostgreSQL under .local/ in the checkout.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


# --- configuration ------------------------------------------------------------------------------


@cli.command("config")
def show_config() -> None:
    """Print every setting, its environment variable, default and current value."""
    cfg = config.load()
    table = Table("variable", "current value", "default", "meaning")
    resolved = {
        "TELCO_DW_HOME": cfg.home,
        "WAREHOUSE_URL": cfg.warehouse_url or "(embedded)",
        "WAREHOUSE_PORT": cfg.warehouse_port or "(chosen once, kept)",
        "AIRFLOW_HOME": cfg.airflow_home,
        "AIRFLOW_DATABASE_URL": cfg.airflow_database_url or "(database airflow on the warehouse server)",
        "AIRFLOW_API_PORT": cfg.airflow_api_port,
        "LANDING_URL": cfg.landing,
        "BILLING_SOURCE_URL": cfg.billing_source_url or "(database billing_src on the warehouse server)",
        "CRM_API_URL": cfg.crm_api_url or "(the simulator of `telco-dw sources serve`)",
        "CRM_API_TOKEN": "(set)" if cfg.crm_api_token else "(the simulator's)",
        "TASK_RETRIES": cfg.task_retries,
        "PII_TOKEN_KEY": "(set)" if cfg.pii_token_key else "(generated, embedded only)",
        "ALERT_TARGETS": cfg.alert_targets or "(log only)",
        "SMTP_URL": cfg.smtp_url.split("@")[-1],
        "TELCO_DW_OUTBOX": cfg.outbox,
        "DBT_TARGET_PATH": cfg.dbt_target,
        "TELCO_DW_DBT_EXECUTION": cfg.dbt_execution,
        "TELCO_DW_DOCS": cfg.docs,
        "TELCO_DW_SECRETS_FILE": cfg.secrets_file,
    }
    for setting in config.SETTINGS:
        table.add_row(setting.env, str(resolved.get(setting.env, "")), setting.default or "(unset)", setting.help)
    console.print(table)


# --- warehouse ----------------------------------------------------------------------------------


@cli.group()
def warehouse() -> None:
    """Manage the embedded PostgreSQL warehouse (when WAREHOUSE_URL is unset)."""


def _embedded_only(cfg: config.Config, action: str) -> None:
    if not cfg.embedded:
        raise UserError(
            f"WAREHOUSE_URL is set, so there is no embedded warehouse to {action}; manage that server yourself"
        )


@warehouse.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse (initialising it on first use)."""
    from telco_dw.warehouse import embedded

    cfg = config.load()
    _embedded_only(cfg, "start")
    console.print(embedded.start(cfg).describe())


@warehouse.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse."""
    from telco_dw.warehouse import embedded

    cfg = config.load()
    _embedded_only(cfg, "stop")
    console.print(embedded.stop(cfg).describe())


@warehouse.command("status")
def warehouse_status() -> None:
    """Say whether the warehouse is reachable; exit 1 when it is not."""
    from telco_dw.warehouse import embedded
    from telco_dw.warehouse.connection import connect, describe, warehouse_url

    cfg = config.load()
    if cfg.embedded:
        state = embedded.status(cfg)
        console.print(f"embedded warehouse: {state.describe()}")
        if not state.running:
            sys.exit(1)
        return
    with connect(cfg) as conn:
        version = conn.execute("show server_version").fetchone()[0]  # type: ignore[index]
    console.print(f"warehouse {describe(warehouse_url(cfg))}: reachable, PostgreSQL {version}")


@warehouse.command("reset")
@click.option("--yes", is_flag=True, help="Confirm: drop raw data, quarantine, ledger and marts.")
def warehouse_reset(yes: bool) -> None:
    """Drop every schema telco-dw owns in the warehouse (raw_*, quarantine, audit, staging, marts)."""
    from telco_dw.load import ddl
    from telco_dw.warehouse.connection import connect, describe, warehouse_url

    cfg = config.load()
    if not yes:
        raise UserError(f"this drops all telco-dw data in {describe(warehouse_url(cfg))}: add --yes to confirm")
    with connect(cfg, autocommit=True) as conn:
        ddl.reset(conn)
    console.print(f"dropped {', '.join(ddl.WAREHOUSE_SCHEMAS)}")


@warehouse.command("url")
@click.option("--database", default=None, help="Database name (default: the warehouse database).")
@click.option("--driver", default=None, help="SQLAlchemy driver suffix, e.g. psycopg2 → postgresql+psycopg2://")
def warehouse_url_cmd(database: str | None, driver: str | None) -> None:
    """Print the warehouse URL for psql, SQLAlchemy, dbt or BI tools."""
    from telco_dw.warehouse.connection import sqlalchemy_url, warehouse_url

    target = warehouse_url(config.load(), database)
    click.echo(sqlalchemy_url(target, driver) if driver else target)


# --- data ---------------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.option("--customers", default=200, show_default=True, help="Customers at the start (more join daily).")
@click.option("--days", default=7, show_default=True, help="Days of activity.")
@click.option("--start", "start", default=DEMO_START.isoformat(), show_default=True, help="First day (YYYY-MM-DD).")
@click.option("--seed", default=42, show_default=True, help="Random seed: same arguments, byte-identical files.")
@click.option("--dirty-rate", default=0.002, show_default=True, help="Share of records made dirty (0 = clean).")
@click.option(
    "--dirty-kinds",
    default=",".join(DIRTY_KINDS),
    show_default=True,
    help=f"Comma-separated kinds of dirt; opt-in extra: {', '.join(OPT_IN_KINDS)}.",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Outbox folder (default: TELCO_DW_OUTBOX).")
@click.pass_context
def simulate(
    ctx: click.Context,
    customers: int,
    days: int,
    start: str,
    seed: int,
    dirty_rate: float,
    dirty_kinds: str,
    out: Path | None,
) -> None:
    """Simulate a telco: CRM, billing, network and survey sources plus their ground truth.

    Writes the outbox documented in docs/sources.md; `telco-dw sources serve` then serves it.
    """
    if ctx.invoked_subcommand is not None:
        return
    _simulate(
        out or config.load().outbox,
        SimConfig(
            customers=customers,
            days=days,
            start=_date(start, "--start"),
            seed=seed,
            dirty_rate=dirty_rate,
            dirty_kinds=tuple(k for k in dirty_kinds.split(",") if k),
        ),
    )


def _simulate(out: Path, sim: SimConfig) -> None:
    from rich.progress import Progress

    from telco_dw.simulate.world import generate

    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"simulating {sim.customers} customers x {sim.days} days", total=sim.days)
            started = time.monotonic()
            manifest = generate(out, sim, progress=lambda done, total: progress.update(task, completed=done))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rows = sum(f["rows"] for f in manifest.files.values())
    seconds = time.monotonic() - started
    console.print(
        f"[green]✓[/] simulated {sim.customers} customers x {sim.days} days into {out}: "
        f"{len(manifest.files)} files, {rows} rows ({rows / max(seconds, 1e-9):,.0f} rows/s), "
        f"dirty {manifest.totals() or 'none'}; ground truth in {out / 'truth.json'}"
    )


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date: use YYYY-MM-DD") from None


@cli.group()
def ingest() -> None:
    """Land data outside Airflow (the same code as the DAG tasks), through the batch ledger and quarantine."""


def _print_results(results: list[BatchResult]) -> None:
    for r in results:
        console.print(
            f"{r.status:8} {r.rows_read:>9} read {r.rows_landed:>9} landed {r.rows_quarantined:>6} quarantined  "
            f"{r.source_ref} -> {r.table}",
            soft_wrap=True,
        )


def _ingest_source_command(source: str) -> click.Command:
    @click.option("--end", default=None, help="End of the data interval (YYYY-MM-DD, exclusive; default: today).")
    def command(end: str | None) -> None:
        from telco_dw.load.landing import land_source
        from telco_dw.sources.endpoints import resolve
        from telco_dw.warehouse.connection import connect

        cfg = config.load()
        until = _date(end, "--end") if end else datetime.now(UTC).date()
        with connect(cfg, autocommit=True) as conn:
            _print_results(land_source(conn, source, resolve(cfg), until))

    command.__doc__ = f"Land the {source} source for the data interval ending at --end (idempotent per interval)."
    return ingest.command(source)(command)


for _source in sources.SOURCES:
    _ingest_source_command(_source)


def _timestamp(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option} {text!r} is not a date or time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[+HH:MM]"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@ingest.command("crm-export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Column mapping YAML (default: mapping.yml next to FILE).",
)
@click.option(
    "--as-of",
    default=None,
    help="Time the export reflects, set as updated_at of its rows (ISO 8601, UTC unless an offset is given; "
    "default: the file's modification time).",
)
def ingest_crm_export(file: Path, mapping: Path | None, as_of: str | None) -> None:
    """Land the CRM bulk CSV export FILE into raw_crm through the ledger and quarantine.

    Rows the mapping rejects go to quarantine.crm with the reason (row, line, column); values that
    fail a cast under `on_error: null` land null and are kept in quarantine.column_issues. Re-running
    the same file, mapping and --as-of lands nothing twice.
    """
    from telco_dw.load.landing import land_crm_export
    from telco_dw.warehouse.connection import connect

    if not file.is_file():
        raise UserError(f"no CRM export at {file}: give the path of the CSV file")
    mapping = mapping or file.with_name("mapping.yml")
    when = _timestamp(as_of, "--as-of") if as_of else datetime.fromtimestamp(file.stat().st_mtime, UTC)
    with connect(config.load(), autocommit=True) as conn:
        result = land_crm_export(conn, file, mapping, when)
    _print_results([result])
    for key in ("nulled_on_error", "unmapped_columns"):
        if result.notes.get(key):
            console.print(f"  {key.replace('_', ' ')}: {result.notes[key]}", soft_wrap=True)


@cli.group("sources")
def sources_group() -> None:
    """The simulated source systems: CRM API, billing database, landed files."""


def _rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter(f"{value} is not a probability in [0, 1]")
    return value


@sources_group.command("serve")
@click.option(
    "--through", default=None, help="Make the world current before this day (default: the end of the simulation)."
)
@click.option("--rate-429", type=float, default=0.0, callback=_rate, help="Share of CRM API requests answered 429.")
@click.option("--rate-5xx", type=float, default=0.0, callback=_rate, help="Share answered 500/502/503.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the CRM API's fault draws.")
@click.option(
    "--foreground",
    is_flag=True,
    help="Serve the CRM API in this process until SIGTERM (a container's main process) instead of in the background.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --foreground: address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="With --foreground: the CRM API's port.")
def sources_serve(
    through: str | None, rate_429: float, rate_5xx: float, seed: int, foreground: bool, host: str, port: int
) -> None:
    """Start the CRM API simulator, advance billing_src and deliver the files due before a day.

    With --foreground (docker-compose's `sources` service) the CRM API is served by this process on
    --host:--port, with the bearer token CRM_API_TOKEN, until it is stopped.
    """
    from telco_dw.sources import serve

    cfg = config.load()
    day = _date(through, "--through") if through else _simulation_end(cfg)
    with _step(f"serving the simulated sources before {day}"):
        state = serve.present(cfg, day, rate_429=rate_429, rate_5xx=rate_5xx, seed=seed, start_crm=not foreground)
    console.print(
        f"  billing_src rows {state['billing_rows']}, {state['files_delivered']} file(s) delivered into {cfg.landing}"
    )
    if not foreground:
        console.print(f"  CRM API {state['crm_api']} (token in {serve.token_path(cfg)})")
        return
    serve.serve_crm_foreground(
        cfg,
        cfg.outbox,
        datetime.combine(day, datetime.min.time(), tzinfo=UTC),
        host=host,
        port=port,
        rate_429=rate_429,
        rate_5xx=rate_5xx,
        seed=seed,
        ready=lambda url: console.print(f"  CRM API listening on {url} until stopped (SIGTERM)"),
    )


@sources_group.command("stop")
def sources_stop() -> None:
    """Stop the CRM API simulator."""
    from telco_dw.sources import serve

    stopped = serve.stop_crm_api(config.load())
    console.print("CRM API simulator stopped" if stopped else "CRM API simulator was not running")


@sources_group.command("status")
def sources_status() -> None:
    """Show what the simulators serve."""
    import json as json_mod

    from telco_dw.sources import serve

    console.print_json(json_mod.dumps(serve.status(config.load()), default=str))


@sources_group.command("billing-advance")
@click.option("--through", required=True, help="Apply the billing day files up to this day (inclusive), YYYY-MM-DD.")
def sources_billing_advance(through: str) -> None:
    """Apply the outbox's billing day files up to a day to billing_src (idempotent)."""
    from telco_dw.sources import serve

    counts = serve.advance_billing(config.load(), _date(through, "--through"))
    console.print(f"billing_src: {counts.pop('days')} day(s) applied, rows upserted {counts}")


@sources_group.command("check-export")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--show", type=int, default=10, show_default=True, help="How many rejected rows and issues to list.")
def sources_check_export(export: Path | None, mapping: Path | None, show: int) -> None:
    """Map a CRM bulk export through its YAML mapping and report rows, issues and rejects (lands nothing).

    Defaults: the outbox's crm/export/customers_export.csv and the mapping.yml next to the export.
    """
    from collections import Counter

    from telco_dw.sources.crm.export import load_mapping, read_export

    export = export or config.load().outbox / "crm" / "export" / "customers_export.csv"
    if not export.exists():
        raise UserError(f"no export at {export}: give the file, or run `telco-dw simulate` first")
    mapping = mapping or export.with_name("mapping.yml")
    rows = rejected = 0
    issues: Counter[str] = Counter()
    shown: list[str] = []
    for row in read_export(export, load_mapping(mapping)):
        rows += 1
        issues.update(i.column for i in row.issues)
        rejected += bool(row.rejected)
        for text in ([row.rejected] if row.rejected else []) + [f"row {row.number}, {i}" for i in row.issues]:
            if len(shown) < show:
                shown.append(text)
    console.print(f"{export}: {rows} rows, {rows - rejected} would land, {rejected} rejected", soft_wrap=True)
    if issues:
        console.print(f"  set null on error, per column: {dict(issues)}")
    for text in shown:
        console.print(f"  {text}", soft_wrap=True)


def _simulation_end(cfg: config.Config) -> date:
    import json as json_mod

    manifest = cfg.outbox / "manifest.json"
    if not manifest.exists():
        raise UserError(f"no simulation in {cfg.outbox}: run `telco-dw simulate` first")
    args = json_mod.loads(manifest.read_text())["arguments"]
    return date.fromisoformat(args["start"]) + timedelta(days=int(args["days"]))


# --- Airflow ------------------------------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def airflow(args: tuple[str, ...]) -> None:
    """Run any `airflow` command with the project's environment (e.g. `telco-dw airflow dags list`)."""
    from telco_dw import orchestrate

    sys.exit(orchestrate.airflow(config.load(), list(args), check=False))


def _passthrough(tool: str, args: tuple[str, ...]) -> None:
    """Run a dbt-side tool in dbt_project/ with the warehouse connection in its environment."""
    import subprocess

    from telco_dw.transform.dbt import dbt_env
    from telco_dw.warehouse.connection import warehouse_url

    cfg = config.load()
    exe = Path(sys.executable).with_name(tool)
    sys.exit(subprocess.call([str(exe), *args], cwd=cfg.dbt_project, env=dbt_env(warehouse_url(cfg))))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def dbt(args: tuple[str, ...]) -> None:
    """Run any `dbt` command against the warehouse (e.g. `telco-dw dbt build -s dim_customers`)."""
    _passthrough("dbt", args)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sqlfluff(args: tuple[str, ...]) -> None:
    """Run sqlfluff on the dbt project (its dbt templater compiles against the warehouse)."""
    _passthrough("sqlfluff", args)


@cli.command()
@click.option("--if-stale", is_flag=True, help="Only when the manifest is missing or older than the dbt project.")
def manifest(if_stale: bool) -> None:
    """Build dbt's manifest.json (`dbt parse`), from which the transform DAG renders one task per model.

    Rebuild it after changing dbt models; `telco-dw setup`, `run`, `demo` and `up` do so when it is stale.
    """
    from telco_dw.transform import manifest as manifest_mod
    from telco_dw.warehouse.connection import warehouse_url

    cfg = config.load()
    if if_stale and manifest_mod.problem(cfg) is None:
        console.print(f"dbt manifest {manifest_mod.manifest_path(cfg)} is up to date")
        return
    with _step("building dbt's manifest (dbt parse)"):
        path = manifest_mod.build(cfg, warehouse_url(cfg))
    console.print(f"  {path}")


def _ensure_manifest(cfg: config.Config) -> None:
    from telco_dw.transform import manifest as manifest_mod
    from telco_dw.warehouse.connection import warehouse_url

    reason = manifest_mod.problem(cfg)
    if reason is None:
        return
    with _step(f"building dbt's manifest (dbt parse): {reason.removeprefix('the dbt manifest ')}"):
        manifest_mod.build(cfg, warehouse_url(cfg))


@cli.command()
def docs() -> None:
    """Generate the dbt docs site (models, columns, tests, lineage) into $TELCO_DW_DOCS/dbt; opens offline."""
    cfg = config.load()
    with _step("generating dbt docs (dbt docs generate)"):
        page = _dbt_docs(cfg)
    console.print(f"  open {page}")


def _dbt_docs(cfg: config.Config) -> Path:
    """``dbt docs generate --static`` against the warehouse (the catalog reads its tables)."""
    from telco_dw.transform import dbt as dbt_mod
    from telco_dw.warehouse.connection import warehouse_url

    out = cfg.docs / "dbt"
    out.mkdir(parents=True, exist_ok=True)
    dbt_mod.run(["docs", "generate", "--static", "--target-path", str(out)], warehouse_url(cfg))
    return out / "static_index.html"


@cli.command()
def setup() -> None:
    """Start the warehouse, create the raw and audit schemas, and migrate Airflow's metadata."""
    _setup(config.load())


def _setup(cfg: config.Config) -> None:
    from telco_dw import orchestrate
    from telco_dw.load import ddl
    from telco_dw.warehouse import embedded
    from telco_dw.warehouse.connection import connect, describe, ensure_database, warehouse_url

    if cfg.embedded:
        with _step("starting the embedded warehouse"):
            state = embedded.start(cfg)
        console.print(f"  {state.describe()}")
    with _step(f"preparing schemas in {describe(warehouse_url(cfg))}"):
        with connect(cfg, autocommit=True) as conn, conn.transaction():
            ddl.ensure_all(conn)
    with _step("migrating Airflow's metadata database"):
        if cfg.airflow_database_url is None:
            ensure_database(cfg, "airflow", "or set AIRFLOW_DATABASE_URL")
        orchestrate.migrate(cfg)
    _ensure_manifest(cfg)


@cli.command()
@click.option(
    "--date", "run_date", default=None, help="End of the data interval (YYYY-MM-DD); files of earlier days land."
)
def run(run_date: str | None) -> None:
    """Run the pipeline once through Airflow: the four ingest DAGs, then transform."""
    cfg = config.load()
    end = _date(run_date, "--date") if run_date else datetime.now(UTC).date()
    _run_pipeline(cfg, end)
    _print_summary(cfg)


def _run_pipeline(cfg: config.Config, end: date) -> None:
    from telco_dw import orchestrate

    _ensure_manifest(cfg)
    logical = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
    dags = orchestrate.PIPELINE_DAGS
    with console.status(f"running DAGs {', '.join(dags)} for {logical:%Y-%m-%d} through Airflow ..."):
        results = orchestrate.run_dags(cfg, dags, logical)
    for result in results:
        if result.ok:
            console.print(
                f"[green]✓[/] DAG {result.dag_id} succeeded [dim]({result.seconds:.1f}s, run {result.run_id})[/]"
            )
        else:
            console.print(f"[red]✗[/] DAG {result.dag_id} failed ({result.seconds:.1f}s)")
            console.print(orchestrate.failure_excerpt(result), markup=False)
            raise UserError(f"DAG {result.dag_id} failed: see the lines above and the full log {result.log_file}")
    console.print(f"[dim]Airflow log of these runs: {results[-1].log_file}[/]")


@cli.command()
@click.option("--customers", default=1000, show_default=True, help="Number of customers to simulate.")
@click.option("--days", default=14, show_default=True, help="Days of activity to simulate.")
@click.option("--seed", default=42, show_default=True, help="Random seed.")
def demo(customers: int, days: int, seed: int) -> None:
    """Set up, simulate a small telco, serve its sources, run every DAG for real, summarise. Safe to repeat."""
    from telco_dw.sources import serve

    cfg = config.load()
    _setup(cfg)
    _simulate(cfg.outbox, SimConfig(customers=customers, days=days, start=DEMO_START, seed=seed))
    end = DEMO_START + timedelta(days=days)
    with _step(f"serving the simulated sources before {end}"):
        serve.present(cfg, end)
    try:
        _run_pipeline(cfg, end)
    finally:
        serve.stop_crm_api(cfg)
    with _step("generating dbt docs (dbt docs generate)"):
        _dbt_docs(cfg)
    with _step("writing the compliance report"):
        _compliance_report(cfg)
    with _step("building the satisfaction dashboard (as bi_reader) and the front page"):
        _report(cfg)
    _print_summary(cfg)


def _compliance_report(cfg: config.Config, out: Path | None = None) -> tuple[Path, list[str]]:
    """Write the compliance report; its page and the rules that did not hold (printed)."""
    from telco_dw.privacy import report
    from telco_dw.warehouse.connection import connect

    with connect(cfg, autocommit=True) as conn:
        built = report.build(conn, cfg.dbt_project)
    failed = [e.title for e in built.evidence if e.held is False]
    if failed:
        console.print(f"[red]privacy rules that did not hold:[/] {', '.join(failed)}")
    return report.write(built, out or cfg.docs / "compliance")[0], failed


@cli.command()
@click.option(
    "--full-refresh", is_flag=True, help="Rebuild the incremental facts from all their days (after a key rotation)."
)
def rebuild(full_refresh: bool) -> None:
    """Build the marts into marts_candidate, audit them with the quality gate and publish them.

    What the transform DAG does after its privacy preparation, without Airflow. If a critical check
    fails, the marts stay as they were and the command says which checks failed.
    """
    from telco_dw.transform.rebuild import rebuild as run_rebuild
    from telco_dw.warehouse.connection import warehouse_url

    with _step("dbt build into marts_candidate, quality gate, publish"):
        done = run_rebuild(warehouse_url(config.load()), full_refresh=full_refresh)
    console.print(f"published run {done.run_id}: " + ", ".join(f"{t} {n}" for t, n in done.tables.items()))


@cli.command()
def report() -> None:
    """Build the satisfaction dashboard (static HTML, from the marts as role bi_reader) and the front page.

    Writes TELCO_DW_DOCS/dashboard/index.html and TELCO_DW_DOCS/index.html, which links the dashboard,
    dbt docs, quality Data Docs and the compliance report, with the run's headline figures.
    """
    dashboard, front = _report(config.load())
    console.print(f"satisfaction dashboard: {dashboard}\nfront page: {front}")


def _report(cfg: config.Config) -> tuple[Path, Path]:
    """Write the dashboard (queried as bi_reader) and the front page; their paths."""
    from telco_dw import summary as summary_mod
    from telco_dw.report import dashboard, front_page
    from telco_dw.warehouse.connection import connect

    with connect(cfg) as conn:
        page = dashboard.write(dashboard.build(conn), cfg.docs / "dashboard")
        return page, front_page.write(cfg.docs, summary_mod.collect(conn))


@cli.command()
def summary() -> None:
    """Print what the warehouse holds: rows landed per source, rows per mart, quality checks, publication."""
    _print_summary(config.load())


def _print_summary(cfg: config.Config) -> None:
    from telco_dw import summary as summary_mod
    from telco_dw.warehouse.connection import connect, describe, warehouse_url

    with connect(cfg) as conn:
        result = summary_mod.collect(conn)
    landed = Table("source", "rows landed", "quarantined", "raw tables (rows now)", title="Landed")
    for source in sources.SOURCES:
        raw = ", ".join(f"{t.name} {result.raw_rows.get(t.qualified, 0)}" for t in sources.tables(source))
        landed.add_row(source, str(result.landed.get(source, 0)), str(result.quarantined.get(source, 0)), raw)
    console.print(landed)
    marts = Table("mart", "rows", title="Marts")
    for name, rows in result.marts.items():
        marts.add_row(name, str(rows))
    console.print(marts)
    dbt_docs = cfg.docs / "dbt" / "static_index.html"
    front, dashboard = cfg.docs / "index.html", cfg.docs / "dashboard" / "index.html"
    quality, compliance = cfg.docs / "quality" / "index.html", cfg.docs / "compliance" / "index.html"
    status = "[green]all passed[/]" if result.checks_failed == 0 else f"[red]{result.checks_failed} failed[/]"
    console.print(
        f"Quality checks (run {result.checks_run_id or '-'}): {result.checks_passed} passed, "
        f"{result.checks_failed} failed — {status}"
    )
    if result.published_run_id:
        console.print(f"Marts published by run {result.published_run_id} at {result.published_at:%Y-%m-%d %H:%M:%S %Z}")
    if result.latest_build and result.latest_build[1] != "published":
        run, state, reason = result.latest_build
        console.print(f"[red]Latest build (run {run}) {state}, not published:[/] {reason or 'in progress or failed'}")
    console.print(
        "\nWhere next:\n"
        f'  warehouse     psql "$(.venv/bin/telco-dw warehouse url)"   ({describe(warehouse_url(cfg))})\n'
        f"  Airflow UI    make up, then http://127.0.0.1:{cfg.airflow_api_port} (user admin, password in "
        f"{cfg.airflow_home / 'passwords.json.generated'})\n"
        f"  DAG run logs  {cfg.airflow_home / 'logs'}\n"
        f"  front page    {front if front.exists() else '`telco-dw report` writes it'}  (links the documents below)\n"
        f"  dashboard     {dashboard if dashboard.exists() else '`telco-dw report` builds it'}  (read as bi_reader)\n"
        "  quality       select * from audit.dq_results order by validated_at desc\n"
        "  quarantine    select reason, count(*) from quarantine.<source> group by 1\n"
        f"  dbt docs      {dbt_docs if dbt_docs.exists() else '`telco-dw docs` builds them'}  (static, opens offline)\n"
        f"  data quality  {quality if quality.exists() else 'written by the first validation'}  (GX Data Docs)\n"
        f"  compliance    {compliance if compliance.exists() else '`telco-dw privacy report` writes it'}\n"
        "  docs          README.md, docs/ (architecture, sources, ingestion, warehouse, quality, privacy, reports)"
    )


@cli.command()
def up() -> None:
    """Start Airflow (api-server, scheduler, dag-processor, triggerer) in the background."""
    from telco_dw import orchestrate
    from telco_dw.sources import serve

    cfg = config.load()
    _setup(cfg)
    if (cfg.outbox / "manifest.json").exists():
        with _step("serving the simulated sources"):
            serve.present(cfg, datetime.now(UTC).date())
    pids = orchestrate.up(cfg)
    for component, pid in pids.items():
        console.print(f"{component:14} pid {pid}  log {cfg.airflow_home / 'logs' / (component + '.out')}")
    console.print(
        f"Airflow UI: http://127.0.0.1:{cfg.airflow_api_port} "
        f"(user admin; password in {cfg.airflow_home / 'passwords.json.generated'}). Stop with `make down`."
    )


@cli.command()
def down() -> None:
    """Stop the Airflow components started by `up`, then the embedded warehouse."""
    from telco_dw import orchestrate
    from telco_dw.warehouse import embedded

    cfg = config.load()
    from telco_dw.sources import serve

    stopped = orchestrate.down(cfg)
    if serve.stop_crm_api(cfg):
        stopped.append("CRM API simulator")
    console.print(f"stopped: {', '.join(stopped) or 'no Airflow components were running'}")
    if cfg.embedded:
        console.print(f"warehouse: {embedded.stop(cfg).describe()}")


# --- privacy ------------------------------------------------------------------------------------


@cli.group()
def privacy() -> None:
    """Personal data: the token key, scans for personal values (docs/privacy.md)."""


@privacy.command("install-key")
@click.option("--rotate", is_flag=True, help="Replace a different key already in the warehouse (tokens change).")
def privacy_install_key(rotate: bool) -> None:
    """Hold the PII token key (PII_TOKEN_KEY) in the warehouse for privacy.token(); idempotent."""
    from telco_dw.privacy import tokens
    from telco_dw.warehouse.connection import connect

    cfg = config.load()
    with connect(cfg) as conn, conn.transaction():
        check = tokens.install(conn, tokens.key(cfg), rotate=rotate)
    console.print(f"PII token key installed (check value {check}); privacy.token(text) is ready")


@privacy.command("roles")
def privacy_roles() -> None:
    """Create dw_loader, dw_transformer, bi_reader, compliance_auditor and apply their grants; idempotent."""
    from telco_dw.privacy import roles
    from telco_dw.warehouse.connection import connect

    cfg = config.load()
    with connect(cfg) as conn, conn.transaction():
        roles.apply(conn)
    for role, what in roles.ROLES.items():
        console.print(f"{role:<20} {what}")


@privacy.command("check")
@click.option("--sample", type=int, default=1000, show_default=True, help="Values read per raw column.")
def privacy_check(sample: int) -> None:
    """Fail when a raw column looks personal (by name or values) but the PII catalogue does not declare it."""
    from telco_dw.privacy import catalogue
    from telco_dw.warehouse.connection import connect

    cfg = config.load()
    with connect(cfg, autocommit=True) as conn:
        declared = catalogue.check(conn, cfg.dbt_project, sample)
    console.print(f"every personal-looking raw column is declared ({len(declared)} in the PII catalogue)")


def _print_counts(title: str, done: dict[str, int]) -> None:
    table = Table("target", "rows affected", title=title)
    for target, rows in done.items():
        table.add_row(target, str(rows))
    console.print(table)


@privacy.command("erase")
@click.option("--customer-id", required=True, help="The CRM customer id of the person whose data goes.")
@click.option(
    "--no-rebuild",
    is_flag=True,
    help="Leave the rebuild to you (until it runs, the published marts still hold the customer's derived rows).",
)
def privacy_erase(customer_id: str, no_rebuild: bool) -> None:
    """Erase one customer's personal data from raw and quarantine, then rebuild the marts; safe to repeat.

    The rebuild is a full refresh (incremental facts would keep the customer's older days) through
    the quality gate and published like a transform run; then what the candidate schema holds of
    the marts published before is dropped. Logged to audit.privacy_actions (counts per table, never values).
    """
    from telco_dw.privacy import catalogue, lifecycle
    from telco_dw.transform.rebuild import rebuild_after_erasure
    from telco_dw.warehouse.connection import connect, warehouse_url

    cfg = config.load()
    with connect(cfg) as conn, conn.transaction():
        if conn.execute("select 1 from raw_crm.customers where customer_id = %s limit 1", (customer_id,)).fetchone():
            done = lifecycle.erase_customer(conn, catalogue.load(cfg.dbt_project), customer_id)
        else:
            raise UserError(f"no customer {customer_id!r} in raw_crm.customers: check the id (e.g. C000123)")
    _print_counts(f"erased customer {customer_id}", done)
    if not no_rebuild:
        with _step("rebuilding the marts without them (dbt build --full-refresh, quality gate, publish)"):
            rebuild_after_erasure(warehouse_url(cfg), f"erase/{customer_id}/{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}")


@privacy.command("retention")
def privacy_retention() -> None:
    """Null raw personal values past their declared retention now (what the privacy_retention DAG runs)."""
    from telco_dw.privacy import catalogue, lifecycle
    from telco_dw.warehouse.connection import connect

    cfg = config.load()
    with connect(cfg) as conn, conn.transaction():
        done = lifecycle.apply_retention(conn, catalogue.load(cfg.dbt_project))
    _print_counts("retention applied", done)


@privacy.command("report")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write to (default: TELCO_DW_DOCS/compliance).")  # fmt: skip
def privacy_report(out: Path | None) -> None:
    """Write the compliance report (HTML and Markdown): catalogue, evidence, grants, retention and erasure log."""
    page, failed = _compliance_report(config.load(), out)
    console.print(f"compliance report: {page} (and report.md beside it)")
    if failed:
        sys.exit(1)


@privacy.command("scan")
@click.option("--schema", "schemas", multiple=True, help="Schema to scan (repeatable; default: every schema).")
@click.option("--sample", type=int, default=None, help="Read at most this many values per column (default: all).")
def privacy_scan(schemas: tuple[str, ...], sample: int | None) -> None:
    """Find personal values (mobile numbers, emails, ID numbers, IMSI, IMEI, bank cards) in text columns.

    Prints where they are and how many, never the values; exits 1 when it found any.
    """
    from telco_dw.privacy import scan
    from telco_dw.warehouse.connection import connect

    cfg = config.load()
    with connect(cfg, autocommit=True) as conn:
        columns = scan.text_columns(conn, list(schemas) or None)
        findings = scan.scan(conn, columns, sample)
    if not findings:
        console.print(f"no personal values in {len(columns)} text columns")
        return
    table = Table("column", "kind", "values with it", "values read")
    for f in findings:
        table.add_row(f.where, f.kind, str(f.values), str(f.read))
    console.print(table)
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: one clear line for errors a user can fix."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="telco-dw", standalone_mode=False)
    except click.exceptions.Abort:
        console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as exc:
        if debug:
            raise
        click.echo(
            f"error: a dependency is missing ({exc.name}): run `make demo` or `uv sync` to install the locked "
            "dependencies into .venv",
            err=True,
        )
        sys.exit(2)
