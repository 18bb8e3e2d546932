"""Stage one: plan and write shard sets from SQLAlchemy models plus a dataset definition.

The engine (``rng``, ``columns``, ``text``, ``schema``, ``plan``, ``writer``, ``engine``) is
generic; everything application-specific lives in ``generator.datasets.<name>``, which only
composes engine pieces.
"""
