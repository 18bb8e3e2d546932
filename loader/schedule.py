"""The initial load as one job graph: COPY every shard; as soon as all of a table's shards have
committed, build that table's indexes and unique constraints; then ANALYZE it; then restore its
foreign keys, once the tables they reference are analyzed too; and, once every COPY has
committed, count its rows (``check``).

``Pool.run_graph`` starts, among the jobs that may run, the one with the longest estimated path
to the end, so the big tables' COPY and then their index builds start first, and index builds
fill the connections that COPY no longer needs. A foreign key's validation (a scan) waits only
for its own two tables, not for the whole set, so it too fills a connection other work leaves;
the order of the waits is the one of PostgreSQL's locks (a build or ANALYZE of a table conflicts
with adding or validating a key on it, COPY into a referenced table with adding one to it).
Triggers wait for ``loader.restore``, which finds the builds and keys done here already there
and marked restored: crash safety is restore's, each build and key being its own transaction.
The row counts wait for every COPY: a partitioned parent's COPY routes rows into partitions.

The costs are rough seconds of one connection (each index of the genonaut set built alone on a
2-core machine, PostgreSQL 15: a B-tree 1-7 us per row, GIN/GiST 20-300 us per row); only their
ratios matter, and only for the order. A table's index builds wait for ALL its shards, so each
shard stands for its table's whole COPY spread over the connections: a big table's shards go
first, and its index builds are ready early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loader import catalog, pgtree
from loader.objects import Object
from loader.pool import Job, Task
from loader.restore import table_builds, table_foreign_keys
from seedgen.manifest import Manifest, ShardSpec, TableSpec

COPY_CELL = 5e-6  # per row x column copied
BTREE_ROW = 3e-6  # per row indexed by a B-tree (or a unique constraint)
OTHER_ROW = 1.5e-4  # per row indexed by GIN, GiST, ... (many entries per row)
ANALYZE = 0.5  # per table (ANALYZE reads a sample of fixed size)
VALIDATE_ROW = 2.5e-7  # per referencing row, a foreign key's validation (a hash or merge join)
COUNT_ROW = 2e-7  # per row counted

CopyTask = Callable[[TableSpec, int, ShardSpec], Task]


def load_jobs(
    manifest: Manifest,
    saved: catalog.Snapshot,
    load_id: int,
    done: dict[tuple[str, int], int],
    copy_task: CopyTask,
    analyze: Callable[[TableSpec], Task],
    connections: int,
    check: Callable[[TableSpec], Task],
) -> list[Job]:
    """Every shard not in ``done``, every saved build of each table, every table's ANALYZE,
    each table's foreign keys, each table's row count (``check``)."""
    jobs: list[Job] = []
    analyzed = {t.qualified: f"analyze {t.schema_name}.{t.name}" for t in manifest.tables}
    adding = threading.Lock()
    for table in manifest.tables:
        key = f"{table.schema_name}.{table.name}"
        pending = [
            (number, shard)
            for number, shard in enumerate(table.shards)
            if (table.name, number) not in done
        ]
        copy_cost = sum(s.rows for _, s in pending) * len(table.columns) * COPY_CELL
        copies = [
            Job(
                f"copy {key}:{number}",
                copy_cost / min(len(pending), max(1, connections)),
                copy_task(table, number, shard),
            )
            for number, shard in pending
        ]
        builds = [
            Job(
                f"build {key}.{obj.name}",
                build_cost(obj, table.rows),
                task,
                frozenset(job.name for job in copies),
            )
            for obj, task in table_builds(load_id, saved, table.schema_name, table.name)
        ]
        after = frozenset(job.name for job in builds) or frozenset(job.name for job in copies)
        jobs += [*copies, *builds, Job(analyzed[table.qualified], ANALYZE, analyze(table), after)]
    copied = frozenset(job.name for job in jobs if job.name.startswith("copy "))
    for table in manifest.tables:
        key = f"{table.schema_name}.{table.name}"
        fks, fk_task = table_foreign_keys(load_id, saved, table.schema_name, table.name, adding)
        if fk_task is not None:
            targets = {pgtree.referenced(con.definition) for con in fks}
            ends = {analyzed[t] for t in targets if t in analyzed} | {analyzed[table.qualified]}
            if not all(t in analyzed for t in targets):  # a partitioned parent of set tables,
                ends = set(analyzed.values())  # or a table of no set: after every ANALYZE
            cost = len(fks) * table.rows * VALIDATE_ROW
            jobs.append(Job(f"foreign keys {key}", cost, fk_task, frozenset(ends) | copied))
        jobs.append(Job(f"count {key}", table.rows * COUNT_ROW, check(table), copied))
    return jobs


def build_cost(obj: Object, rows: int) -> float:
    if isinstance(obj, catalog.Index) and " USING btree " not in obj.definition:
        return rows * OTHER_ROW
    return rows * BTREE_ROW
