"""Docs that match the code: the README's commands, flags and exit codes; a hint on every error."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import typer.main

from seedgen import errors
from seedgen.cli import app
from tests.conftest import ROOT, seedgen

README = (ROOT / "README.md").read_text()
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in p.opts if o.startswith("--")} - {"--help"}


def _reference() -> dict[str, str]:
    """README's CLI reference: command -> its signature line ``seedgen CMD [...]``."""
    return dict(re.findall(r"^- \*\*`seedgen (\w+)([^`]*)`\*\*", README, re.M))


def test_readme_cli_reference_matches_help() -> None:
    listed = re.findall(r"^\s{2}(\w+)\s", seedgen("--help").stdout.split("Commands:")[1], re.M)
    group: Any = typer.main.get_command(app)  # typer vendors click: its Group, with .commands
    assert set(listed) == set(group.commands)
    reference = _reference()
    assert set(reference) == set(listed), "README's CLI reference and `seedgen --help` differ"
    for name, signature in reference.items():
        documented = set(FLAG.findall(signature))
        actual = _options(group.commands[name])
        assert documented == actual, (
            f"seedgen {name}: README lacks {sorted(actual - documented)}, "
            f"documents non-existent {sorted(documented - actual)}"
        )
    globals_line = re.search(r"Global\s+options go before the command:(.*?)\. On a", README, re.S)
    assert globals_line and set(FLAG.findall(globals_line.group(1))) == _options(group)


def test_readme_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, re.M))
    mentioned = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    mentioned |= set(re.findall(r"^make ([a-z-]+)", README, re.M))  # the two commands on top
    assert {"demo", "test"} <= mentioned
    assert mentioned <= targets, f"README names missing targets {sorted(mentioned - targets)}"


def _error_classes() -> list[type[errors.SeedgenError]]:
    found = [errors.SeedgenError]
    for cls in found:
        found += cls.__subclasses__()
    return [c for c in found if c.__module__ == "seedgen.errors"]


def test_readme_exit_codes_match_the_error_classes() -> None:
    sentence = re.search(r"exit codes:(.*?)\.\n", README, re.S)
    assert sentence, "README has no exit-code list"
    documented = {int(code) for code in re.findall(r"(?:^|,)\s*(\d+)\s", sentence.group(1))}
    assert documented == {cls.exit_code for cls in _error_classes()}


def test_every_error_class_has_a_hint_naming_a_command() -> None:
    for cls in _error_classes():
        error = cls("something is wrong")
        assert error.hint and re.search(r"`seedgen|env/\.env", error.hint), cls
        assert cls("x", hint="do this").hint == "do this"


def _product_files() -> list[Path]:
    return [p for d in ("seedgen", "loader", "generator") for p in (ROOT / d).rglob("*.py")]


def test_every_raised_error_has_a_hint() -> None:
    """An error raised without ``hint=`` gets its class's; every raise site is checked."""
    classes = {cls.__name__: cls for cls in _error_classes()}
    sites = 0
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            cls = classes.get(node.func.id)
            if cls is None:
                continue
            sites += 1
            given = any(k.arg == "hint" for k in node.keywords)
            assert given or cls.__dict__.get("default_hint"), (
                f"{path.relative_to(ROOT)}:{node.lineno}: {cls.__name__} without a hint"
            )
    assert sites > 50  # the scan really saw the product's raise sites
