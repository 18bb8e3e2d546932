"""Pieces of SQL composed with ``psycopg.sql``: column lists, aliases, join conditions and
key texts, for the ``--append`` work tables, the merge and ``seedgen reset``.

Small on purpose: what several modules join on must be spelled one way.
"""

from __future__ import annotations

from psycopg import sql


def _col(alias: str | None, column: str) -> sql.Composable:
    if alias is None:
        return sql.Identifier(column)
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))


def cols(alias: str | None, columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(_col(alias, c) for c in columns)


def aliased(alias: str, columns: list[str], prefix: str) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_col(alias, c), sql.Identifier(prefix + c)) for c in columns
    )


def eq(a: str, a_cols: list[str], b: str, b_cols: list[str]) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(_col(a, x), _col(b, y))
        for x, y in zip(a_cols, b_cols, strict=True)
    )


def and_when(alias: str, when: dict[str, str]) -> sql.Composable:
    """`` AND alias.col = 'value'`` for each condition of a declared reference."""
    return sql.SQL("").join(
        sql.SQL(" AND {} = {}").format(_col(alias, k), sql.Literal(v)) for k, v in when.items()
    )


def key_identity(alias: str | None, columns: list[str]) -> sql.Composable:
    """A key as an unambiguous text (a JSON array of its values, in primary-key order)."""
    return sql.SQL("jsonb_build_array({})::text").format(cols(alias, columns))


def key_text(alias: str | None, columns: list[str]) -> sql.Composable:
    """A key as text: one column as itself, several joined by ', '."""
    parts = sql.SQL(", ").join(sql.SQL("{}::text").format(_col(alias, c)) for c in columns)
    return sql.SQL("concat_ws(', ', {})").format(parts)
