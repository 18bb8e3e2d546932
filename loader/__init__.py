"""Stage two: verify a shard set and bulk-load it into PostgreSQL.

Imports nothing from ``generator``: everything it needs (column specs, DDL for
``--create-schema``) travels in the set's manifest.
"""
