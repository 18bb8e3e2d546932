"""A dataset spec: dataset -> tables -> columns, read from YAML or JSON, strictly validated.

Unknown keys are refused with the closest valid key (``difflib``), an unknown ``kind`` with the
closest kind; every error is one ``SpecError`` line naming where in the file it is. The JSON
Schema of this model (``seedgen spec schema``) is what editors use for completion; a copy lives in
``docs/spec.schema.json`` and a test keeps it current.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pglast import parse_sql
from pglast.parser import ParseError
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from generator.spec.strategies import KINDS, Strategy, _Strict
from seedgen.errors import SpecError

SPEC_VERSION = 1


class Count(_Strict):
    """Children per parent row: a pure function of the parent's row index."""

    kind: Literal["fixed", "uniform", "poisson", "geometric", "zipf", "list"]
    column: str | None = Field(None, description="list: the parent's list column (exploded)")
    n: int | None = Field(None, ge=0, description="fixed: children of every parent")
    min: int = Field(0, ge=0, description="uniform/zipf: smallest count")
    max: int | None = Field(None, ge=0, description="uniform/zipf: largest count")
    mean: float | None = Field(None, gt=0, description="poisson/geometric: mean count")
    s: float = Field(1.2, gt=0, description="zipf exponent: P(k) ~ k**-s")

    @model_validator(mode="after")
    def _params(self) -> Count:
        need = {"fixed": "n", "uniform": "max", "zipf": "max", "poisson": "mean", "list": "column"}
        need["geometric"] = "mean"
        if getattr(self, need[self.kind]) is None:
            raise ValueError(f"count kind {self.kind} needs '{need[self.kind]}'")
        if self.max is not None and self.max < self.min:
            raise ValueError("count max must not be below min")
        return self


class PerParent(_Strict):
    """Rows come in groups, one group per row of ``table`` (a ref to it is the group's parent)."""

    table: str
    count: Count


class TableBuilder(_Strict):
    """A whole table made by a named Python builder (``registry.register_table``): for tables
    that are aggregates over other tables (counts per tag, per user), where no column strategy
    fits because the row count itself depends on the data. ``rows`` are then *driving* rows
    (one per call site of the builder: often 1), ``fanout`` says the builder explodes them."""

    name: str = Field(description="registered table builder, e.g. genonaut.gen_source_stats")
    params: dict[str, Any] = Field(default_factory=dict)
    columns: list[str] | None = Field(
        None, description="columns it writes (default: every column the database does not fill)"
    )
    fanout: float | None = Field(
        None, gt=0, description="exploded: expected output rows per driving row (shard sizing)"
    )


class TableSpec(_Strict):
    skip: bool = Field(
        False,
        description="leave the table out of the set: it is not inferred, generated or loaded "
        "(the application fills it, or it stays empty)",
    )
    rows: int | None = Field(None, ge=0, description="row count (or per_parent)")
    builder: TableBuilder | None = Field(
        None, description="the whole table from a named Python builder (no column strategies)"
    )
    per_parent: PerParent | None = None
    primary_key: list[str] = Field(default_factory=list)
    unique: list[list[str]] = Field(default_factory=list, description="composite unique keys")
    columns: dict[str, Strategy] = Field(default_factory=dict)
    shared_keys: list[str] = Field(
        default_factory=list, description="PK values shared with other sets (--append keeps them)"
    )
    on_conflict: Literal["drop", "remap"] = Field(
        "drop", description="--append: a row whose unique value is taken is dropped or remapped"
    )
    batch_rows: int | None = Field(None, ge=1, description="rows per COPY batch / row group")
    assume_checks: list[str] = Field(
        default_factory=list,
        description="CHECK constraints this table's strategies satisfy by design (not verified)",
    )

    @model_validator(mode="after")
    def _size(self) -> TableSpec:
        if self.rows is not None and self.per_parent is not None:
            raise ValueError("give rows or per_parent, not both")
        if self.builder is not None and (self.per_parent is not None or self.columns):
            raise ValueError("a builder table takes rows only (no per_parent, no columns)")
        return self


class DatasetSpec(_Strict):
    version: Literal[1] = 1
    dataset: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", description="name of the set")
    models: str | None = Field(
        None, description="SQLAlchemy models backing the spec: package.module:Base or :metadata"
    )
    extensions: list[str] = Field(
        default_factory=list,
        description="PostgreSQL extensions the schema needs (load --create-schema creates them)",
    )
    modules: list[str] = Field(
        default_factory=list,
        description="modules imported first: they register the named strategies the spec uses",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="dataset-wide values the named strategies and builders read (ctx.params)",
    )
    tables: dict[str, TableSpec] = Field(
        default_factory=dict,
        description="tables by name: bare in the public schema, schema.table elsewhere "
        "(billing.invoices); refs name tables the same way",
    )
    post_load: list[str] = Field(
        default_factory=list,
        description="SQL run after the load, in order: REFRESH MATERIALIZED VIEW, ANALYZE, or "
        "INSERT/UPDATE/DELETE of the set's tables from SELECTs over them (recompute, every load "
        "runs them)",
    )

    @field_validator("post_load")
    @classmethod
    def _one_statement_each(cls, steps: list[str]) -> list[str]:
        """Each step parses as one statement: a typo fails here, before any row is generated
        (what a step may do is the loader's allow-list, ``loader.post_load``)."""
        for number, text in enumerate(steps, 1):
            try:
                count = len(parse_sql(text))
            except ParseError as exc:
                raise ValueError(f"step {number} does not parse: {exc}") from None
            if count != 1:
                raise ValueError(f"step {number} holds {count} statements, give one per step")
        return steps


# --------------------------------------------------------------------------- reading


def read_spec(path: Path) -> DatasetSpec:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec ({exc.strerror})") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    return parse_spec(raw, str(path))


def parse_spec(raw: Any, where: str = "spec") -> DatasetSpec:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: the top level must be a mapping with 'dataset' and 'tables'")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc, where) from None


def first_error(exc: ValidationError, where: str) -> SpecError:
    errors = exc.errors()
    rank = {"extra_forbidden": 0, "union_tag_invalid": 1, "union_tag_not_found": 1}
    err = min(errors, key=lambda e: rank.get(e["type"], 2))
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) or "(top)"
    if err["type"] == "extra_forbidden":
        valid = sorted(_fields_at(loc[:-1]))
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return SpecError(
            f"{where}: unknown key '{loc[-1]}' at {path}",
            hint=f"{hint}valid keys: {', '.join(valid)}",
        )
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        tag = str((err.get("ctx") or {}).get("tag", ""))
        close = difflib.get_close_matches(tag, sorted(KINDS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        what = f"unknown kind '{tag}'" if tag else "missing 'kind'"
        return SpecError(f"{where}: {what} at {path}", hint=f"{hint}kinds: {', '.join(KINDS)}")
    return SpecError(f"{where}: {path}: {err['msg']}")


def _fields_at(loc: list[str]) -> set[str]:
    """The valid keys of the model found by walking ``loc`` from the top of the spec."""
    current: Any = DatasetSpec
    for part in loc:
        current = _step(current, part)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _step(annotation: Any, part: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part)
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if origin is dict:
        return args[1]
    if origin is list:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        if part in KINDS:
            return KINDS[part]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return _step(models[0], part) if len(models) == 1 else None
    return None


def json_schema() -> dict[str, Any]:
    schema = DatasetSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "seedgen dataset spec"
    return schema


def dump_spec(spec: DatasetSpec) -> str:
    """YAML for people to edit; only what differs from the defaults (plus every ``kind``)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    _restore_kinds(spec, data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _restore_kinds(model: BaseModel, data: Any) -> None:
    if not isinstance(data, dict):
        return
    if "kind" in type(model).model_fields:
        data.setdefault("kind", model.kind)  # type: ignore[attr-defined]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name not in data:
            continue
        if isinstance(value, BaseModel):
            _restore_kinds(value, data[name])
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    _restore_kinds(item, data[name].get(key))
