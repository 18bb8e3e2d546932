"""The two tables ``bench/bench_spec.py`` generates with no spec (everything inferred): a narrow
one (4 columns) and a wide one (24 columns of most common types and name conventions)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB

metadata = MetaData()

narrow = Table(
    "narrow",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

wide = Table(
    "wide",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("external_id", Uuid, nullable=False, unique=True),
    Column("email", String(120), nullable=False, unique=True),
    Column("username", String(40), nullable=False),
    Column("first_name", String(40), nullable=False),
    Column("last_name", String(40), nullable=False),
    Column("phone", String(30)),
    Column("city", String(60)),
    Column("country", String(60)),
    Column("company", String(80)),
    Column("title", String(120), nullable=False),
    Column("description", Text),
    Column("url", Text),
    Column("ip", INET),
    Column("status", String(20), nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", Numeric(10, 2), nullable=False),
    Column("score", Double),
    Column("active", Boolean, nullable=False),
    Column("birth_date", Date),
    Column("payload", JSONB),
    Column("tags", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('new', 'active', 'closed')", name="wide_status"),
    CheckConstraint("rating BETWEEN 1 AND 5", name="wide_rating"),
)
