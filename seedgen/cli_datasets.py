"""``seedgen datasets [NAME]``: the registered datasets (entry point group ``seedgen.datasets``)
with their one-line help, or one dataset's config keys and example. Each dataset brings its own
text (``Dataset.help``, ``Dataset.example``, its settings model), so the CLI names none."""

from __future__ import annotations

import typer

from seedgen.errors import SeedgenError
from seedgen.settings import describe_keys


def generate_epilog() -> str:
    """``seedgen generate --help``'s epilog: registered names only (importing none of them)."""
    from generator.dataset import registered

    try:
        names = ", ".join(sorted(registered()))
    except SeedgenError as exc:  # a conflicting registration: say so where help is asked for
        names = f"(none listed: {exc.message})"
    return (
        f"Registered datasets: {names}.\n\n"
        "seedgen datasets lists them with their help; seedgen datasets NAME prints a dataset's "
        "config keys (each also a --flag of generate) and an example."
    )


def datasets_command(
    name: str | None = typer.Argument(None, help="a dataset: print its keys and an example"),
) -> None:
    """List the registered datasets, or one dataset's config keys and an example.

    A package registers its own in the entry point group seedgen.datasets (see README, Datasets).
    Example: seedgen datasets genonaut
    """
    from generator.dataset import dataset_class, registered

    try:
        if name is None:
            for each, target in sorted(registered().items()):
                cls = dataset_class(each)
                typer.echo(f"{each:<12} {cls.help or '(no help)'}  [{target}]")
            return
        cls = dataset_class(name)
    except SeedgenError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(f"{name}: {cls.help or '(no help)'}")
    sections = " or ".join(repr(s) for s in cls.config_sections)
    typer.echo(f"\nKeys (config.json section {sections}), each also a flag of seedgen generate:")
    for flag, default, text in describe_keys(cls.settings_model):
        typer.echo(f"  {flag} (default {default}): {text}")
    if cls.example:
        typer.echo(f"\nExample: {cls.example}")
