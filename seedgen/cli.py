"""The ``seedgen`` command line: a thin layer over ``generator.engine`` and ``loader.load``.

Each command builds a request, calls one library function and turns our own ``SeedgenError``
into ``error: ...`` plus a ``hint: ...`` line and a non-zero exit. Anything else is a bug and
keeps its traceback (without local variables: a database URL must never reach one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from seedgen.cli_datasets import datasets_command, generate_epilog
from seedgen.errors import ConfigError, SeedgenError, VerifyError
from seedgen.progress import Reporter, make_reporter
from seedgen.settings import DEFAULT_ENV_FILE

app = typer.Typer(
    help="Fast, foreign-key-correct synthetic data for PostgreSQL: generate shard sets, load them.",
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    add_completion=False,
)


_state: dict[str, Reporter] = {}


@app.callback()
def _global_options(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only summaries and errors"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="also detail lines"),
    log_json: bool = typer.Option(False, "--log-json", help="JSON lines on stdout, for machines"),
) -> None:
    """Global options go before the command: seedgen --quiet load SET --database-url URL."""
    reporter = make_reporter(quiet=quiet, verbose=verbose, log_json=log_json)
    _state["reporter"] = reporter
    ctx.call_on_close(reporter.close)


def _echo() -> Reporter:
    """Progress bars on a terminal, plain lines otherwise (see seedgen.progress)."""
    if "reporter" not in _state:
        _state["reporter"] = make_reporter()
    return _state["reporter"]


def _fail(exc: SeedgenError) -> typer.Exit:
    reporter = _echo()
    reporter.close()
    reporter.error(exc.message, exc.hint)
    return typer.Exit(exc.exit_code)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=generate_epilog(),
)
def generate(
    ctx: typer.Context,
    dataset: str | None = typer.Argument(
        None, help="a registered dataset (seedgen datasets lists them)"
    ),
    spec: Path | None = typer.Option(None, "--spec", help="dataset spec file (YAML or JSON)"),
    models: str | None = typer.Option(None, "--models", help="SQLAlchemy models: pkg.mod:Base"),
    from_database: str | None = typer.Option(
        None, "--from-database", help="reflect this database's schema (no spec needed)"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="set directory [seed-data/sets/<dataset>-seed<seed>]"
    ),
    config: Path | None = typer.Option(None, "--config", help="JSON config file [./config.json]"),
    env_file: Path = typer.Option(DEFAULT_ENV_FILE, "--env-file", help="dotenv file"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate and print the plan only"),
    force: bool = typer.Option(False, "--force", help="replace an existing set at --out"),
    like: Path | None = typer.Option(
        None, "--like", help="a set to compare Faker versions with (spec datasets)"
    ),
) -> None:
    """Write a shard set (Parquet/CSV shards + manifest.json) for DATASET or a spec.

    Example: seedgen generate --spec examples/shop/shop.yaml --dry-run
    """
    from generator.dataset import dataset_class
    from generator.engine import DEFAULT_SETS_DIR, Request, load_dataset
    from generator.engine import generate as run
    from seedgen.settings import parse_overrides

    try:
        if dataset is None or spec or models or from_database:
            from seedgen.cli_spec import generate_from_spec

            generate_from_spec(
                dataset,
                spec,
                models,
                from_database,
                args=list(ctx.args),
                out=out,
                config=config,
                dry_run=dry_run,
                force=force,
                like=like,
                echo=_echo(),
            )
            return
        if like is not None:
            raise ConfigError(
                "--like compares a spec's Faker-backed columns; DATASET has no spec",
                hint="seedgen generate --spec FILE --like SET",
            )
        overrides = parse_overrides(dataset_class(dataset).settings_model, list(ctx.args))
        req = Request(dataset, config, overrides, env_file)
        if out is None:
            out = DEFAULT_SETS_DIR / f"{dataset}-seed{load_dataset(req).settings.seed}"
        run(req, out, force=force, dry_run=dry_run, echo=_echo())
    except SeedgenError as exc:
        raise _fail(exc) from None


@app.command()
def load(
    set_dir: Path = typer.Argument(..., metavar="SET", help="shard set directory"),
    database_url: str = typer.Option(
        ..., "--database-url", help="postgresql://…/<name>_demo|_test"
    ),
    create_schema: bool = typer.Option(
        False, "--create-schema", help="create missing tables from the set's DDL"
    ),
    create_database: bool = typer.Option(
        False, "--create-database", help="create the database if it does not exist"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="verify and print the DDL actions only"),
    resume: bool = typer.Option(False, "--resume", help="finish an interrupted load of SET"),
    force: bool = typer.Option(
        False, "--force", help="if SET is already loaded here, remove its rows first"
    ),
    append: bool = typer.Option(
        False,
        "--append",
        help="load next to existing rows: key collisions refused, unique conflicts filtered",
    ),
    rebuild_ratio: float = typer.Option(
        0.3,
        "--rebuild-ratio",
        min=0.0,
        help="--append: rebuild a table's indexes if incoming rows >= ratio x existing rows, "
        "else keep them",
    ),
    jobs: int = typer.Option(
        0, "--jobs", min=0, help="connections for COPY/index builds; 0 = cores"
    ),
    allow_any_name: bool = typer.Option(
        False, "--allow-any-name", help="allow a database name not ending in _demo/_test"
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="allow a server that is not on this machine"
    ),
    maintenance_work_mem: str = typer.Option("512MB", help="for index rebuilds"),
) -> None:
    """Verify SET and bulk-load it: drop indexes/FKs, COPY, rebuild, reset sequences, ANALYZE.

    With --append, load next to existing rows: key collisions are refused before anything is
    written, rows whose unique values are taken are left out (with their dependents) and listed.
    Example: seedgen load seed-data/sets/genonaut-seed42 --database-url postgresql://localhost/app_demo
    """
    from loader.load import load_set
    from loader.load_state import LoadOptions

    options = LoadOptions(
        create_schema=create_schema,
        create_database=create_database,
        dry_run=dry_run,
        resume=resume,
        force=force,
        append=append,
        rebuild_ratio=rebuild_ratio,
        jobs=jobs,
        allow_any_name=allow_any_name,
        allow_remote=allow_remote,
        maintenance_work_mem=maintenance_work_mem,
    )
    try:
        load_set(set_dir, database_url, options, echo=_echo())
    except SeedgenError as exc:
        raise _fail(exc) from None


@app.command()
def verify(
    set_dir: Path = typer.Argument(..., metavar="SET", help="shard set directory"),
    database_url: str = typer.Option(..., "--database-url", help="the loaded database"),
    allow_any_name: bool = typer.Option(False, "--allow-any-name", help="see `load`"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="see `load`"),
) -> None:
    """Check a loaded database against SET: counts, FK orphans, sequences, rebuilt objects.

    Read-only; exits 7 if any check fails.
    Example: seedgen verify seed-data/sets/genonaut-seed42 --database-url postgresql://localhost/app_demo
    """
    from loader.check import verify_database

    try:
        report = verify_database(
            set_dir,
            database_url,
            allow_any_name=allow_any_name,
            allow_remote=allow_remote,
            echo=_echo(),
        )
    except SeedgenError as exc:
        raise _fail(exc) from None
    if report.problems:
        raise _fail(VerifyError(f"verify found {len(report.problems)} problem(s) in {set_dir}"))


@app.command()
def repair(
    database_url: str = typer.Option(..., "--database-url", help="database of the unfinished load"),
    allow_any_name: bool = typer.Option(False, "--allow-any-name", help="see `load`"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="see `load`"),
) -> None:
    """Undo an unfinished initial load (its rows removed, every dropped object rebuilt).

    An unfinished --append keeps the tables it merged; `seedgen load --resume` is the other way.
    Example: seedgen repair --database-url postgresql://localhost/app_demo
    """
    from loader.repair import repair as run

    try:
        run(database_url, allow_any_name=allow_any_name, allow_remote=allow_remote, echo=_echo())
    except SeedgenError as exc:
        raise _fail(exc) from None


@app.command()
def reset(
    set_dir: Path = typer.Argument(..., metavar="SET", help="shard set directory"),
    database_url: str = typer.Option(..., "--database-url", help="database it was loaded into"),
    confirm: bool = typer.Option(False, "--confirm", help="required: this deletes rows"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the counts it would delete"),
    scope: str = typer.Option(
        "all", "--scope", help="all | facts (tables no other references) | dimensions"
    ),
    allow_any_name: bool = typer.Option(False, "--allow-any-name", help="see `load`"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="see `load`"),
) -> None:
    """Remove exactly the rows SET loaded, children before parents, in one transaction.

    Example: seedgen reset seed-data/sets/genonaut-seed42 --confirm
    --database-url postgresql://localhost/app_demo
    """
    from loader.reset import reset_set

    if scope not in ("all", "facts", "dimensions"):
        raise _fail(
            ConfigError(
                f"--scope {scope!r}: valid choices are all, facts, dimensions",
                hint="seedgen reset SET --database-url URL --confirm --scope facts",
            )
        )
    try:
        reset_set(
            set_dir,
            database_url,
            confirm=confirm,
            dry_run=dry_run,
            scope=scope,  # type: ignore[arg-type]
            allow_any_name=allow_any_name,
            allow_remote=allow_remote,
            echo=_echo(),
        )
    except SeedgenError as exc:
        raise _fail(exc) from None


@app.command()
def demo(
    dataset: str = typer.Option("genonaut", "--dataset", help="a registered dataset"),
    database: str | None = typer.Option(
        None, help="database to (re)create; must end in _demo [seedgen_<dataset>_demo]"
    ),
    env_file: Path = typer.Option(DEFAULT_ENV_FILE, "--env-file", help="dotenv file"),
) -> None:
    """Generate a dataset's default set and load it into a fresh demo database.

    Uses SEEDGEN_TEST_DSN, else the server on 127.0.0.1:5432, else an embedded PostgreSQL.
    Example: seedgen demo
    """
    from generator.engine import DEFAULT_SETS_DIR, Request
    from generator.engine import generate as run
    from loader.load import load_set
    from loader.load_state import LoadOptions
    from loader.target import redact
    from seedgen import devdb

    echo = _echo()
    database = database or f"seedgen_{dataset}_demo"
    try:
        url = devdb.demo_url(database, keep_running=True)  # every guard, before any write
        out = DEFAULT_SETS_DIR / f"{dataset}-demo"
        run(Request(dataset, None, {}, env_file), out, force=True, echo=echo)
        devdb.recreate_database(database, keep_running=True)
        load_set(out, url, LoadOptions(create_schema=True), echo=echo)
        echo.summary(f"demo database ready: {redact(url)}", kind="demo", url=redact(url))
        stop = devdb.embedded_stop_command()
        if stop:
            echo.summary(f"the embedded server keeps running; stop it with: {stop}")
    except SeedgenError as exc:
        raise _fail(exc) from None


from seedgen.cli_spec import spec_app  # noqa: E402  (the spec commands live there)

app.add_typer(spec_app, name="spec")
app.command("datasets")(datasets_command)


def main(argv: list[str] | None = None) -> Any:
    return app(args=argv)


if __name__ == "__main__":
    main()
