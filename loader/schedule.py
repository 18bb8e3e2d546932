"""The initial load as one job graph: COPY every shard; as soon as all of a table's shards have
committed, build that table's indexes and unique constraints; then ANALYZE it.

``Pool.run_graph`` starts, among the jobs that may run, the one with the longest estimated path
to the end, so the big tables' COPY and then their index builds start first, and index builds
fill the connections that COPY no longer needs. Foreign keys and triggers wait for
``loader.restore`` (a key needs both of its tables), which finds the builds done here already
there and marked restored: crash safety is restore's, each build being its own transaction.

The costs are rough seconds of one connection (each index of the genonaut set built alone on a
2-core machine, PostgreSQL 15: a B-tree 1-7 us per row, GIN/GiST 20-300 us per row); only their
ratios matter, and only for the order. A table's index builds wait for ALL its shards, so each
shard stands for its table's whole COPY spread over the connections: a big table's shards go
first, and its index builds are ready early.
"""

from __future__ import annotations

from collections.abc import Callable

from loader import catalog
from loader.objects import Object
from loader.pool import Job, Task
from loader.restore import table_builds
from seedgen.manifest import Manifest, ShardSpec, TableSpec

COPY_CELL = 5e-6  # per row x column copied
BTREE_ROW = 3e-6  # per row indexed by a B-tree (or a unique constraint)
OTHER_ROW = 1.5e-4  # per row indexed by GIN, GiST, ... (many entries per row)
ANALYZE = 0.5  # per table (ANALYZE reads a sample of fixed size)

CopyTask = Callable[[TableSpec, int, ShardSpec], Task]


def load_jobs(
    manifest: Manifest,
    saved: catalog.Snapshot,
    load_id: int,
    done: dict[tuple[str, int], int],
    copy_task: CopyTask,
    analyze: Callable[[TableSpec], Task],
    connections: int,
) -> list[Job]:
    """Every shard not in ``done``, every saved build of each table, every table's ANALYZE."""
    jobs: list[Job] = []
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
        jobs += [*copies, *builds, Job(f"analyze {key}", ANALYZE, analyze(table), after)]
    return jobs


def build_cost(obj: Object, rows: int) -> float:
    if isinstance(obj, catalog.Index) and " USING btree " not in obj.definition:
        return rows * OTHER_ROW
    return rows * BTREE_ROW
