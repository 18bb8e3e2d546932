"""Column strategies of a dataset spec: one pydantic model per ``kind``, a discriminated union.

Each model only *describes* a column; ``generator.spec.compile`` turns it into a vectorised
function of row indexes over the engine's primitives (``rng``, ``columns``, ``text``, pools).
Every model forbids unknown keys. Fields every strategy has: ``type`` (the PostgreSQL type when
the spec is not backed by models or a database), ``unique``, and ``hidden`` (computed for other
columns to use, e.g. a template slot, but not written).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Base(_Strict):
    type: str | None = Field(None, description="PostgreSQL type, e.g. integer, varchar(40)")
    unique: bool = Field(False, description="every value distinct (by construction, no retry)")
    hidden: bool = Field(False, description="computed for other columns, not written")


# --------------------------------------------------------------------------- keys


class Sequence(_Base):
    """Integers ``start + key_offset + row``: a reserved key range recorded in the manifest."""

    kind: Literal["sequence"]
    start: int = 1


class Uuid(_Base):
    """Keyed RFC 4122 UUIDs: v7 (time-ordered: a btree PK appends) or v4 (random).

    v7 is the default: the loader keeps primary keys during COPY, and COPY of 1 M rows into a
    uuid PK took 10.7-14.7 s with v7 against 26-38 s with v4 (PostgreSQL 15, shared 2-core
    host), with a 20 % smaller index (32 vs 40 MB)."""

    kind: Literal["uuid"]
    version: Literal[4, 7] = 7


class Nanoid(_Base):
    """Keyed url-safe ids (64-letter alphabet, 6 bits per character; 21 chars = 126 bits)."""

    kind: Literal["nanoid"]
    length: int = Field(21, ge=20, le=21)
    prefix: str = ""


# --------------------------------------------------------------------------- references


class Forest(_Strict):
    """How a self-reference (a ref to its own table) shapes its trees. Every row's parent is an
    earlier row, computed from the row index alone; a root has no parent: NULL where the column
    may be NULL, else itself (a NOT NULL self-reference can only end in a loop).

    Without ``max_depth`` the first ``roots`` share of rows are roots and every other row picks
    a uniform earlier row (random recursive trees: depth ~ ln n). With ``max_depth`` the rows
    are laid out in levels: ``roots`` share (default: just enough) at depth 0, each next level
    ``branching`` times larger, rows of level k picking a parent in level k - 1; the deepest
    level takes whatever rows are left, so no row is deeper than ``max_depth``."""

    roots: float | None = Field(None, gt=0, le=1, description="share of rows that are roots")
    max_depth: int | None = Field(None, ge=0, description="deepest level (roots are depth 0)")
    branching: float = Field(2.0, ge=1, description="with max_depth: mean children per parent")


class Ref(_Base):
    """A parent row's key. The parent row is a function of this row's index: uniform, skewed
    by a power law (``floor(u**exponent * n)`` over a keyed permutation of the parents), or the
    driving parent of a ``per_parent`` table. Ref columns of one table with the same ``grid``
    name pick distinct *combinations* of parents (a keyed permutation of the cross product,
    decoded mixed-radix): a composite key made of references, unique by construction."""

    kind: Literal["ref"]
    table: str
    column: str | None = Field(None, description="parent column; default its primary key")
    distribution: Literal["uniform", "power"] = "uniform"
    exponent: float = Field(2.0, gt=0)
    grid: str | None = Field(None, description="refs sharing a grid name: distinct combinations")
    match: dict[str, str] = Field(
        default_factory=dict,
        description="only parents whose column (key) equals this row's column (value): a "
        "composite FK overlapping another one on a shared column",
    )
    where: dict[str, Scalar] = Field(
        default_factory=dict, description="only parents whose column (key) has this value"
    )
    distinct: bool = Field(
        False, description="per_parent tables: the rows of one group pick distinct parents"
    )
    forest: Forest | None = Field(
        None, description="a self-reference: share of roots, max depth and branching"
    )


class CopyFromParent(_Base):
    """A column of the parent row that ref column ``ref`` points at, recomputed there."""

    kind: Literal["copy_from_parent"]
    ref: str
    column: str


# --------------------------------------------------------------------------- values


class Choice(_Base):
    kind: Literal["choice"]
    values: list[Scalar] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        _check_weights(self.values, self.weights)
        return self


class Quota(_Base):
    """Exact shares: value k on exactly round(rows * w_k) rows (largest remainder)."""

    kind: Literal["quota"]
    values: list[Scalar] = Field(min_length=1)
    weights: list[float]

    @model_validator(mode="after")
    def _weights(self) -> Quota:
        _check_weights(self.values, self.weights)
        return self


def _check_weights(values: list[Scalar], weights: list[float] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(values):
        raise ValueError(f"{len(weights)} weights for {len(values)} values")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")


class _Numeric(_Base):
    min: float | None = Field(None, description="clip below")
    max: float | None = Field(None, description="clip above")
    scale: int | None = Field(None, ge=0, description="decimal places (numeric(p,s): s)")


class Range(_Numeric):
    """Uniform in [min, max]; integers for integer columns or ``integer: true``."""

    kind: Literal["range"]
    min: float
    max: float
    integer: bool | None = None


class Normal(_Numeric):
    kind: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)


class Lognormal(_Numeric):
    """exp(N(log(median), sigma))."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0)


class Exponential(_Numeric):
    kind: Literal["exponential"]
    mean: float = Field(gt=0)


class Pareto(_Numeric):
    kind: Literal["pareto"]
    alpha: float = Field(gt=0)
    low: float = Field(1.0, gt=0, description="smallest value (x_m)")


class Bool(_Base):
    kind: Literal["bool"]
    share: float = Field(0.5, ge=0, le=1, description="share of true")


class Timestamp(_Base):
    """Uniform in [start, end], a naive window read in ``timezone``; written as a timestamp, a
    date, or epoch seconds/milliseconds (for numeric columns, e.g. zbugs' double ms)."""

    kind: Literal["timestamp"]
    start: datetime | date
    end: datetime | date
    timezone: str = "UTC"
    unit: Literal["timestamp", "s", "ms"] = "timestamp"
    step_seconds: int | None = Field(
        None, gt=0, description="row i at start + i * step (a calendar): ordered and unique"
    )


class After(_Base):
    """Column ``of`` of the same row plus an offset in seconds (uniform or exponential)."""

    kind: Literal["after"]
    of: str
    min_seconds: float = Field(0, ge=0)
    max_seconds: float = Field(86_400, ge=0)
    distribution: Literal["uniform", "exponential"] = "uniform"


class Offset(_Base):
    """Numeric column ``of`` of the same row plus (``above``) or minus (``below``) an offset
    uniform in [min, max]: ``low <= high`` (``min: 0``) or ``low < high`` (``min`` one unit) by
    construction. With ``bound`` the offset shrinks so the value never passes it (a CHECK's
    ``high <= 100``), but never below ``min``: the order always holds."""

    kind: Literal["offset"]
    of: str
    direction: Literal["above", "below"] = "above"
    min: float = Field(0, ge=0)
    max: float = Field(100, ge=0)
    bound: float | None = Field(None, description="a value the result never passes")

    @model_validator(mode="after")
    def _span(self) -> Offset:
        if self.max < self.min:
            raise ValueError("offset max must not be below min")
        return self


class Faker(_Base):
    """A seeded pool of ``pool`` Faker values (built once per seed), sampled per row. Unique
    columns take pool values in a keyed permutation and append a counter on repeats.
    ``min_length``/``max_length`` pad (with ``x``) and cut each value (a CHECK on its length)."""

    kind: Literal["faker"]
    provider: str
    locale: str = "en_US"
    pool: int = Field(2000, ge=1, le=200_000)
    lower: bool = False
    min_length: int = Field(0, ge=0, description="pad shorter values with 'x' to this length")
    max_length: int | None = Field(None, ge=1, description="cut longer values to this length")

    @model_validator(mode="after")
    def _lengths(self) -> Faker:
        if self.max_length is not None and self.max_length < self.min_length:
            raise ValueError("max_length must not be below min_length")
        if self.unique and self.max_length is not None:
            raise ValueError("a unique faker column cannot be cut at max_length (values repeat)")
        return self


class Template(_Base):
    """Jinja2 templates over other columns of the row (hidden ones too); one per row."""

    kind: Literal["template"]
    templates: list[str] = Field(min_length=1)


class ListOf(_Base):
    """k distinct items (k uniform in [min_items, max_items]) from ``values`` or from a parent
    table's column, as a JSON array or a PostgreSQL array."""

    kind: Literal["list"]
    values: list[Scalar] | None = None
    table: str | None = None
    column: str | None = None
    min_items: int = Field(0, ge=0)
    max_items: int = Field(3, ge=0)
    format: Literal["json", "array"] = "json"

    @model_validator(mode="after")
    def _source(self) -> ListOf:
        if (self.values is None) == (self.table is None):
            raise ValueError("give either values or table (+ column)")
        if self.min_items > self.max_items:
            raise ValueError("min_items must not exceed max_items")
        if self.values is not None and len({repr(v) for v in self.values}) < len(self.values):
            raise ValueError("list values must be distinct")
        return self


class Json(_Base):
    """A JSON object built from sub-strategies, one per key."""

    kind: Literal["json"]
    fields: dict[str, Strategy] = Field(default_factory=dict)


class Expr(_Base):
    """A derived value of other columns of the row: ``lower(name)``, ``left(prompt, 20)``,
    ``quantity * unit_price``, ``round(x, 2)``, ``concat(a, '-', b)``."""

    kind: Literal["expr"]
    expr: str


class Element(_Base):
    """In a table exploded from a list column (``per_parent`` with ``count: {kind: list,
    column: of}``), the row's item of its parent's list (genonaut's ``content_tags``)."""

    kind: Literal["element"]
    of: str


class Nullable(_Base):
    """``of`` on most rows, NULL on a ``share`` of them (the rows' values stay the same)."""

    kind: Literal["nullable"]
    share: float = Field(0.1, ge=0, le=1)
    of: Strategy


class Const(_Base):
    kind: Literal["const"]
    value: Scalar


class Default(_Base):
    """Not written: the database fills it (DEFAULT, identity, generated)."""

    kind: Literal["default"]


class Custom(_Base):
    """A named strategy implemented in Python (``generator.spec.registry.register``)."""

    kind: Literal["custom"]
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    table: str | None = Field(
        None,
        description="the parent table whose keys it returns: the column's foreign key is "
        "then satisfied by the strategy's construction (checked at load, not at plan time)",
    )


Strategy = Annotated[
    Sequence
    | Uuid
    | Nanoid
    | Ref
    | CopyFromParent
    | Choice
    | Quota
    | Range
    | Normal
    | Lognormal
    | Exponential
    | Pareto
    | Bool
    | Timestamp
    | After
    | Offset
    | Faker
    | Template
    | ListOf
    | Json
    | Expr
    | Nullable
    | Const
    | Default
    | Custom
    | Element,
    Field(discriminator="kind"),
]

Json.model_rebuild()
Nullable.model_rebuild()

KINDS: dict[str, type[_Base]] = {
    cls.model_fields["kind"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in _Base.__subclasses__() + _Numeric.__subclasses__()
    if "kind" in cls.model_fields
}
