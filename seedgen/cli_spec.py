"""Spec commands: ``seedgen spec schema|infer|show`` and ``seedgen generate --spec/--models/
--from-database``. Kept apart from ``seedgen/cli.py`` (which registers them in one line each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from seedgen.errors import ConfigError, SeedgenError
from seedgen.progress import Reporter

spec_app = typer.Typer(
    help="Dataset specs: the JSON Schema, inference from models or a database, the resolved "
    "spec.\n\nExample: seedgen spec infer --models myapp.models:Base > myspec.yaml",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _fail(exc: SeedgenError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"hint: {exc.hint}", err=True)
    return typer.Exit(exc.exit_code)


@spec_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a spec file (for editors: completion and checking).

    Example: seedgen spec schema > spec.schema.json
    """
    from generator.spec.model import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@spec_app.command("infer")
def infer_command(
    models: str | None = typer.Option(None, "--models", help="package.module:Base"),
    from_database: str | None = typer.Option(None, "--from-database", help="database URL"),
    spec: Path | None = typer.Option(None, "--spec", help="a partial spec to apply on top"),
) -> None:
    """Write the spec inferred from SQLAlchemy models or a live database, as YAML, to stdout.

    Example: seedgen spec infer --models myapp.models:Base > myspec.yaml
    """
    try:
        typer.echo(resolved_yaml(spec, models, from_database), nl=False)
    except SeedgenError as exc:
        raise _fail(exc) from None


@spec_app.command("show")
def show_command(spec: Path = typer.Argument(..., help="spec file (YAML or JSON)")) -> None:
    """Check a spec and print it resolved: every table and column with its type and strategy.

    Example: seedgen spec show examples/shop/shop.yaml
    """
    try:
        typer.echo(resolved_yaml(spec, None, None), nl=False)
    except SeedgenError as exc:
        raise _fail(exc) from None


def resolved_yaml(spec: Path | None, models: str | None, database: str | None) -> str:
    from generator.spec.dataset import prepare, resolved_spec
    from generator.spec.model import dump_spec

    if spec is None and not (models or database):
        raise ConfigError(
            "nothing to infer from", hint="pass --models pkg.models:Base or --from-database URL"
        )
    return dump_spec(resolved_spec(prepare(spec, models, database)))


def generate_from_spec(
    dataset: str | None,
    spec: Path | None,
    models: str | None,
    database: str | None,
    *,
    args: list[str],
    out: Path | None,
    config: Path | None,
    dry_run: bool,
    force: bool,
    echo: Reporter,
) -> None:
    """``seedgen generate --spec/--models/--from-database``: the engine run on a spec dataset."""
    from generator.engine import DEFAULT_SETS_DIR, Request, generate, load_dataset
    from generator.spec.dataset import SpecDataset, prepare, resolved_spec
    from generator.spec.model import dump_spec
    from seedgen.settings import parse_overrides

    if dataset is not None and dataset.startswith("--"):
        # with no DATASET, click hands the first unknown --flag to the optional argument
        args, dataset = [dataset, *args], None
    if dataset is not None:
        raise ConfigError(
            f"dataset {dataset!r} and --spec/--models/--from-database both given",
            hint="seedgen generate genonaut, or seedgen generate --spec myspec.yaml",
        )
    if spec is None and not (models or database):
        raise ConfigError(
            "no dataset given", hint="seedgen generate genonaut, or seedgen generate --spec FILE"
        )
    overrides = parse_overrides(SpecDataset.settings_model, args)
    context: dict[str, Any] = prepare(spec, models, database)
    req = Request("spec", config, overrides, Path("env/.env"), context=context)
    if out is None:
        out = DEFAULT_SETS_DIR / f"{context['name']}-seed{load_dataset(req).settings.seed}"
    generate(req, out, force=force, dry_run=dry_run, echo=echo)
    if dry_run:
        echo.summary("resolved spec:\n" + dump_spec(resolved_spec(context)).rstrip())
