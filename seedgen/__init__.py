"""seedgen: fast, foreign-key-correct synthetic data for PostgreSQL.

Two stages talk through files only: ``generator`` writes a shard set (Parquet/CSV shards plus a
``manifest.json``), ``loader`` COPYs a shard set into a database. This package holds what both
stages share: the manifest contract, settings, errors and the CLI.
"""

__version__ = "0.1.0"
