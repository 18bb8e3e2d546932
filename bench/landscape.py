#!/usr/bin/env python3
"""Library-landscape benchmark for seedgen's design doc (docs/landscape.md).

Measures, on the machine it runs on, each figure as the median of --repeat runs
(default 3; a first run shorter than 2 s is an extra, discarded warm-up), and
prints markdown tables:

  a. bulk loading the same N rows (default 200k) into a PK-only table:
     SQLAlchemy 2 ORM bulk insert, legacy bulk_insert_mappings, psycopg 3
     executemany, psycopg 3 COPY CSV streamed from pyarrow, psycopg 3 COPY
     binary with write_row, asyncpg copy_records_to_table, psql \\copy of a CSV
     file, and a server-side COPY FROM file (superuser only) as the physical limit;
  b. field generation: Faker per row, Faker pool sampled with numpy, mimesis per row;
  c. prompt composition: Jinja2 per row, tracery per row, vectorised pyarrow;
  d. ORM factories (factory_boy, polyfactory) vs direct SQLAlchemy introspection;
  e. concurrency: serial vs threads vs processes for numpy/pyarrow shard work;
  f. CLI/config: import cost of argparse, typer, pydantic.

It creates its own database (landscape_bench_test), drops it at the end (also on
error), and can be run again. Libraries that are not installed are reported as
such and skipped.

    python bench/landscape.py [--dsn postgresql://root@127.0.0.1:5432/postgres] [--rows 200000]
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from importlib import metadata

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import set_json_dumps

BENCH_DB = "landscape_bench_test"
TABLE = "landscape_load"
COLUMNS = ["id", "uid", "name", "body", "created_at", "active", "attrs", "score"]
PG_TYPES = ["int4", "uuid", "varchar", "text", "timestamp", "bool", "jsonb", "float8"]
TS_START = dt.datetime(2025, 5, 1)
TS_SPAN_S = int((dt.datetime(2025, 9, 21, 23, 59, 59) - TS_START).total_seconds())


def _optional(name):
    try:
        return __import__(name)
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        print(f"[skip] {name} not importable: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------- utils


WARMUP_UNDER_S = 2.0


def bench(fn, repeat: int, before=None):
    """Median wall time of fn() over `repeat` runs; before() runs untimed before each.

    The first run is discarded as a warm-up when it is shorter than WARMUP_UNDER_S (allocator
    and import warm-up visibly skew sub-second figures); a longer one counts as a timed run.
    """
    times = []
    result = None
    for i in range(repeat + 1):
        if before is not None:
            before()
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        if i == 0 and elapsed < WARMUP_UNDER_S:
            continue
        times.append(elapsed)
        if len(times) == repeat:
            break
    return statistics.median(times), result


def call_n(f, n: int) -> list:
    return [f() for _ in range(n)]


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:,.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:,.1f} k"
    return f"{x:,.0f}"


def md_table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def emit(title: str, table: str, notes: str = "") -> None:
    print(f"\n### {title}\n\n{table}\n")
    if notes:
        print(notes + "\n")
    sys.stdout.flush()


def make_vocab(rng: np.random.Generator, n: int) -> list[str]:
    """Pseudo-words from syllables: seeded, no external word lists."""
    syl = [
        "ka",
        "lo",
        "mi",
        "ren",
        "to",
        "sa",
        "vel",
        "qu",
        "ar",
        "in",
        "dor",
        "e",
        "ly",
        "zu",
        "pha",
        "nox",
    ]
    words = set()
    while len(words) < n:
        k = int(rng.integers(1, 4))
        words.add("".join(syl[i] for i in rng.integers(0, len(syl), k)))
    words = sorted(words)
    # a few values that exercise CSV quoting and UTF-8 on every loader
    words[:4] = ['say "cheese"', "café", "a,b", "o'neil"]
    return words


# --------------------------------------------------------------------------- a. loading


def make_source(n: int, seed: int) -> pa.Table:
    """The rows to load, built vectorised, as seedgen would hold them (an Arrow table)."""
    rng = np.random.default_rng(seed)
    vocab = pa.array(make_vocab(rng, 600))
    raw = bytearray(rng.bytes(16 * n))
    ids = [str(uuid.UUID(bytes=bytes(raw[i : i + 16]), version=4)) for i in range(0, 16 * n, 16)]
    name_words = vocab.take(pa.array(rng.integers(0, len(vocab), n)))
    names = pc.binary_join_element_wise(
        name_words, pc.cast(pa.array(rng.integers(0, 10_000, n)), pa.string()), "_"
    )
    nwords = 15
    offsets = pa.array(np.arange(0, (n + 1) * nwords, nwords, dtype=np.int32))
    words = vocab.take(pa.array(rng.integers(0, len(vocab), n * nwords)))
    body = pc.utf8_slice_codeunits(
        pc.binary_join(pa.ListArray.from_arrays(offsets, words), " "), 0, 100
    )
    secs = rng.integers(0, TS_SPAN_S, n)
    created = pa.array(
        (np.datetime64(TS_START, "s") + secs.astype("timedelta64[s]")).astype("datetime64[us]")
    )
    tags = vocab.take(pa.array(rng.integers(4, len(vocab), n)))  # skip the quoting specials
    attrs = pc.binary_join_element_wise(
        '{"tag": "',
        tags,
        '", "level": ',
        pc.cast(pa.array(rng.integers(0, 100, n)), pa.string()),
        "}",
        "",
    )
    return pa.table(
        {
            "id": pa.array(np.arange(1, n + 1, dtype=np.int32)),
            "uid": pa.array(ids),
            "name": names,
            "body": body,
            "created_at": created,
            "active": pa.array(rng.random(n) < 0.99),
            "attrs": attrs,
            "score": pa.array(np.round(rng.random(n), 6)),
        }
    )


def build_model():
    from sqlalchemy import Boolean, DateTime, Double, Integer, String, Text, Uuid
    from sqlalchemy.dialects.postgresql import JSONB
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    class LoadRow(Base):
        __tablename__ = TABLE
        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
        uid: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
        name: Mapped[str] = mapped_column(String(50), nullable=False)
        body: Mapped[str] = mapped_column(Text, nullable=False)
        created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
        active: Mapped[bool] = mapped_column(Boolean, nullable=False)
        attrs: Mapped[dict] = mapped_column(JSONB, nullable=False)
        score: Mapped[float] = mapped_column(Double, nullable=False)

    return Base, LoadRow


def to_tuples(table: pa.Table, uuid_objects: bool = False) -> list[tuple]:
    cols = [c.to_pylist() for c in table.columns]
    if uuid_objects:
        cols[1] = [uuid.UUID(u) for u in cols[1]]
    return list(zip(*cols, strict=True))


def to_orm_dicts(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    for r in rows:
        r["uid"] = uuid.UUID(r["uid"])
        r["attrs"] = json.loads(r["attrs"])
    return rows


def section_loading(args, target: str, results: dict) -> None:
    repeat = args.repeat
    n = args.rows
    print(f"[a] building {n:,} source rows ...", file=sys.stderr)
    source = make_source(n, args.seed)
    ident_table = sql.Identifier(TABLE)
    col_list = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))

    sa = _optional("sqlalchemy")
    Base = LoadRow = engine = None
    if sa is not None:
        from sqlalchemy.pool import NullPool

        Base, LoadRow = build_model()
        engine = sa.create_engine(
            "postgresql+psycopg://", creator=lambda: psycopg.connect(target), poolclass=NullPool
        )
        Base.metadata.create_all(engine)
    else:
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (id int PRIMARY KEY, uid uuid NOT NULL, "
                    "name varchar(50) NOT NULL, body text NOT NULL, created_at timestamp NOT NULL, "
                    "active boolean NOT NULL, "
                    "attrs jsonb NOT NULL, score double precision NOT NULL)"
                ).format(ident_table)
            )

    def truncate():
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(sql.SQL("TRUNCATE {}").format(ident_table))
            with contextlib.suppress(psycopg.Error):
                conn.execute("CHECKPOINT")

    def verify():
        with psycopg.connect(target) as conn:
            cnt, digest = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY id)) FROM {} AS t"
                ).format(ident_table)
            ).fetchone()
        return cnt, digest

    methods = []  # (label, prep_fn or None, load_fn(prepared))

    if sa is not None:
        from sqlalchemy.orm import Session

        def sa_insert(rows):
            with Session(engine) as s:
                s.execute(sa.insert(LoadRow), rows)
                s.commit()

        def sa_bulk_mappings(rows):
            with Session(engine) as s:
                s.bulk_insert_mappings(LoadRow, rows)
                s.commit()

        methods.append(
            ("SQLAlchemy 2 ORM `session.execute(insert(Model), dicts)`", to_orm_dicts, sa_insert)
        )
        methods.append(
            ("SQLAlchemy legacy `session.bulk_insert_mappings`", to_orm_dicts, sa_bulk_mappings)
        )

    insert_stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        ident_table, col_list, sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS))
    )

    def pg_executemany(rows):
        with psycopg.connect(target) as conn, conn.cursor() as cur:
            cur.executemany(insert_stmt, rows)

    methods.append(("psycopg 3 `cursor.executemany` (pipelined)", to_tuples, pg_executemany))

    copy_csv = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(ident_table, col_list)
    copy_bin = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(ident_table, col_list)
    csv_opts = pacsv.WriteOptions(include_header=False, batch_size=args.batch)

    def pg_copy_csv(tbl):
        with psycopg.connect(target) as conn, conn.cursor() as cur, cur.copy(copy_csv) as cp:
            for batch in tbl.to_batches(max_chunksize=args.batch):
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, csv_opts)
                cp.write(memoryview(sink.getvalue()))

    methods.append(
        ("psycopg 3 COPY CSV, bytes from `pyarrow.csv.write_csv` per batch", None, pg_copy_csv)
    )

    def pg_copy_binary(rows):
        with psycopg.connect(target) as conn:
            set_json_dumps(lambda s: s, context=conn)  # attrs are already JSON text
            with conn.cursor() as cur, cur.copy(copy_bin) as cp:
                cp.set_types(PG_TYPES)
                for row in rows:
                    cp.write_row(row)

    methods.append(
        (
            "psycopg 3 COPY binary, `write_row` per row",
            lambda t: to_tuples(t, uuid_objects=True),
            pg_copy_binary,
        )
    )

    asyncpg = _optional("asyncpg")
    if asyncpg is not None:
        info = conninfo_to_dict(target)

        async def _apg(rows):
            conn = await asyncpg.connect(
                host=info.get("host"),
                port=int(info.get("port", 5432)),
                user=info.get("user"),
                password=info.get("password"),
                database=info.get("dbname"),
            )
            try:
                await conn.copy_records_to_table(TABLE, records=rows, columns=COLUMNS)
            finally:
                await conn.close()

        methods.append(
            ("asyncpg `copy_records_to_table`", to_tuples, lambda rows: asyncio.run(_apg(rows)))
        )

    psql = shutil.which("psql")
    tmpdir = tempfile.mkdtemp(prefix="landscape_")
    csv_path = os.path.join(tmpdir, "rows.csv")
    if psql:
        with psycopg.connect(target) as conn:
            target_sql = sql.SQL("{} ({}) FROM {}").format(
                ident_table, col_list, sql.Literal(csv_path)
            )
            copy_cmd = f"\\copy {target_sql.as_string(conn)} WITH (FORMAT csv)"

        def write_csv_file(tbl):
            pacsv.write_csv(tbl, csv_path, csv_opts)
            return csv_path

        def psql_copy(_path):
            subprocess.run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", copy_cmd],
                check=True,
            )

        methods.append(
            ("`psql \\copy` of a CSV file (file written beforehand)", write_csv_file, psql_copy)
        )
    else:
        print("[skip] psql not on PATH", file=sys.stderr)

    # The server reading the file itself: no client in the loop at all. Needs superuser (or
    # pg_read_server_files) and a server on this machine; skipped when either is missing.
    os.chmod(tmpdir, 0o755)
    server_copy = sql.SQL("COPY {} ({}) FROM {} (FORMAT csv)").format(
        ident_table, col_list, sql.Literal(csv_path)
    )

    def write_csv_file_shared(tbl):
        pacsv.write_csv(tbl, csv_path, csv_opts)
        os.chmod(csv_path, 0o644)
        return csv_path

    def server_file_copy(_path):
        with psycopg.connect(target) as conn:
            conn.execute(server_copy)

    methods.append(
        ("server-side `COPY ... FROM 'file'` (no client at all: the floor for CSV input)",
         write_csv_file_shared, server_file_copy)
    )  # fmt: skip

    rows_out = []
    try:
        for label, prep, load in methods:
            print(f"[a] {label} ...", file=sys.stderr)
            if prep is None:
                prep_s, prepared = 0.0, source
            else:
                prep_s, prepared = bench(partial(prep, source), repeat)
            try:
                load_s, _ = bench(partial(load, prepared), repeat, before=truncate)
            except Exception as exc:  # noqa: BLE001 - report, keep going
                rows_out.append((label, f"failed: {exc.__class__.__name__}", "", "", "", "", ""))
                continue
            finally:
                prepared = None  # free the Python copies before the next method
            cnt, digest = verify()
            rows_out.append([label, load_s, prep_s, cnt, digest])
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        if engine is not None:
            engine.dispose()

    ok = [r for r in rows_out if isinstance(r, list)]
    best_load = min(r[1] for r in ok) if ok else 1
    best_e2e = min(r[1] + r[2] for r in ok) if ok else 1
    ref_digest = next((r[4] for r in ok if "COPY CSV" in r[0]), ok[0][4] if ok else None)
    table_rows = []
    for r in rows_out:
        if not isinstance(r, list):
            table_rows.append(r)
            continue
        label, load_s, prep_s, cnt, digest = r
        e2e = load_s + prep_s
        same = "yes" if (digest == ref_digest and cnt == n) else f"NO ({cnt} rows)"
        table_rows.append(
            (
                label,
                f"{fmt_rate(n / load_s)}",
                f"{load_s / best_load:.1f}x",
                f"{prep_s:.2f}",
                f"{fmt_rate(n / e2e)}",
                f"{e2e / best_e2e:.1f}x",
                same,
            )
        )
        results.setdefault("loading", []).append(
            {
                "method": label,
                "load_s": load_s,
                "prep_s": prep_s,
                "rows": n,
                "identical": same == "yes",
            }
        )
    emit(
        f"a. Bulk loading {n:,} rows (8 columns, PK only, TRUNCATE + CHECKPOINT between runs; "
        f"median of {repeat})",
        md_table(
            [
                "method",
                "load rows/s",
                "load vs fastest",
                "prep from Arrow (s)",
                "end-to-end rows/s",
                "e2e vs fastest",
                "same data",
            ],
            table_rows,
        ),
        "load = the loader call alone (connect + send + commit) on input already in the form "
        "it wants; prep = turning the Arrow table seedgen holds into that form (dicts with "
        "UUID/dict objects, tuples, or a CSV file for psql and the server); the COPY CSV row "
        "streams straight from Arrow batches so its prep is 0. 'same data' compares "
        "md5(string_agg(row::text ORDER BY id)) with the COPY CSV load.",
    )


# --------------------------------------------------------------------------- b. fields


def section_fields(args, results: dict) -> None:
    repeat = args.repeat
    faker_mod = _optional("faker")
    mimesis = _optional("mimesis")
    per_row_n = args.field_rows
    pool_n, sample_n = 2000, args.field_rows * 10
    rows = []

    if faker_mod is not None:
        fake = faker_mod.Faker("en_US")
        fake.seed_instance(args.seed)
        for meth in ("user_name", "email"):
            f = getattr(fake, meth)
            t, _ = bench(partial(call_n, f, per_row_n), repeat)
            rows.append(
                (
                    f"Faker `fake.{meth}()` per row",
                    f"{per_row_n:,}",
                    f"{t:.2f}",
                    fmt_rate(per_row_n / t),
                )
            )

        def pool_arrow():
            pool = pa.array([fake.user_name() for _ in range(pool_n)])
            idx = np.random.default_rng(args.seed).integers(0, pool_n, sample_n)
            return pool.take(pa.array(idx))

        def pool_numpy():
            pool = np.array([fake.user_name() for _ in range(pool_n)], dtype=object)
            idx = np.random.default_rng(args.seed).integers(0, pool_n, sample_n)
            return pool[idx]

        t, out = bench(pool_arrow, repeat)
        assert len(out) == sample_n
        rows.append(
            (
                f"Faker pool of {pool_n:,} `user_name` (built each run) + numpy indices "
                "→ `pyarrow.take`",
                f"{sample_n:,}",
                f"{t:.2f}",
                fmt_rate(sample_n / t),
            )
        )
        t, _ = bench(pool_numpy, repeat)
        rows.append(
            (
                f"Faker pool of {pool_n:,} `user_name` + numpy fancy-index (object array)",
                f"{sample_n:,}",
                f"{t:.2f}",
                fmt_rate(sample_n / t),
            )
        )
    else:
        rows.append(("Faker", "-", "-", "not installed"))

    if mimesis is not None:
        from mimesis import Person
        from mimesis.locales import Locale

        person = Person(Locale.EN, seed=args.seed)
        for meth in ("username", "email"):
            f = getattr(person, meth)
            t, _ = bench(partial(call_n, f, per_row_n), repeat)
            rows.append(
                (
                    f"mimesis `Person.{meth}()` per row",
                    f"{per_row_n:,}",
                    f"{t:.2f}",
                    fmt_rate(per_row_n / t),
                )
            )
    else:
        rows.append(("mimesis", "-", "-", "not installed"))

    results["fields"] = rows
    emit(
        f"b. Field generation (median of {repeat})",
        md_table(["method", "values", "seconds", "values/s"], rows),
    )


# --------------------------------------------------------------------------- c. prompts


def section_prompts(args, results: dict) -> None:
    repeat = args.repeat
    n = args.prompt_rows
    rng0 = np.random.default_rng(args.seed)
    vocab = make_vocab(rng0, 800)[4:]
    # 500 two-word "specific" phrases
    phrases = sorted({f"{vocab[a]} {vocab[b]}" for a, b in rng0.integers(0, len(vocab), (600, 2))})[
        :500
    ]
    lo, hi = 4, 30
    rows = []

    jinja2 = _optional("jinja2")
    tracery = _optional("tracery")

    if jinja2 is not None:
        env = jinja2.Environment(autoescape=False)
        per_row_tmpl = env.from_string("{{ phrases | join(', ') }}")

        def jinja_per_row():
            r = random.Random(args.seed)
            out = []
            for _ in range(n):
                out.append(per_row_tmpl.render(phrases=r.choices(phrases, k=r.randint(lo, hi))))
            return out

        t, out = bench(jinja_per_row, repeat)
        rows.append(
            (
                "Jinja2 template (compiled once) `render()` per row",
                f"{n:,}",
                f"{t:.2f}",
                fmt_rate(n / t),
            )
        )
    else:
        rows.append(("Jinja2", "-", "-", "not installed"))

    if tracery is not None:
        grammar = tracery.Grammar(
            {"origin": [", ".join(["#p#"] * k) for k in range(lo, hi + 1)], "p": phrases}
        )

        tn = min(n, args.tracery_rows)

        def tracery_per_row():
            random.seed(args.seed)  # tracery uses the global `random`
            return [grammar.flatten("#origin#") for _ in range(tn)]

        t, out = bench(tracery_per_row, repeat)
        assert all(lo <= o.count(", ") + 1 <= hi for o in out[:1000])
        rows.append(
            ("tracery grammar `flatten()` per row", f"{tn:,}", f"{t:.2f}", fmt_rate(tn / t))
        )
    else:
        rows.append(("tracery", "-", "-", "not installed"))

    phr = pa.array(phrases)

    def vectorised():
        rng = np.random.default_rng(args.seed)
        lengths = rng.integers(lo, hi + 1, n)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        idx = rng.integers(0, len(phrases), int(offsets[-1]))
        lists = pa.ListArray.from_arrays(pa.array(offsets), phr.take(pa.array(idx)))
        return pc.binary_join(lists, ", ")

    t, out = bench(vectorised, repeat)
    assert len(out) == n
    rows.append(
        (
            "vectorised: numpy lengths/indices → `ListArray` → `take` → `pc.binary_join`",
            f"{n:,}",
            f"{t:.2f}",
            fmt_rate(n / t),
        )
    )

    if jinja2 is not None:
        frame_tmpl = jinja2.Environment(autoescape=False).from_string(
            "{% for s in styles %}{% for m in media %}"
            "{{ s }} {{ m }} of{{ '\\n' }}"
            "{% endfor %}{% endfor %}"
        )

        def jinja_frames_vectorised():
            frames = pa.array(
                frame_tmpl.render(
                    styles=["anime", "illustration", "photorealistic"],
                    media=["portrait", "scene", "poster", "sketch"],
                ).splitlines()
            )
            rng = np.random.default_rng(args.seed)
            body = vectorised()
            head = frames.take(pa.array(rng.integers(0, len(frames), n)))
            return pc.binary_join_element_wise(head, body, " ")

        t, out = bench(jinja_frames_vectorised, repeat)
        rows.append(
            (
                "Jinja2 renders the 12 frames once + the vectorised body (the pick)",
                f"{n:,}",
                f"{t:.2f}",
                fmt_rate(n / t),
            )
        )

    results["prompts"] = rows
    emit(
        f"c. Prompt composition, {lo}–{hi} phrases from a pool of {len(phrases)} "
        f"(median of {repeat})",
        md_table(["method", "prompts", "seconds", "prompts/s"], rows),
    )


# --------------------------------------------------------------------------- d. factories


def introspect_generate(model, n: int, seed: int) -> pa.Table:
    """Direct SQLAlchemy introspection: one vectorised generator per column type."""
    from sqlalchemy import Boolean, DateTime, Double, Integer, String, Text, Uuid
    from sqlalchemy.dialects.postgresql import JSONB

    rng = np.random.default_rng(seed)
    vocab = pa.array(make_vocab(rng, 300)[4:])
    cols = {}
    for col in model.__table__.columns:
        ty = col.type
        if isinstance(ty, Integer):
            cols[col.name] = pa.array(np.arange(1, n + 1, dtype=np.int32))
        elif isinstance(ty, Uuid):
            b = rng.integers(0, 256, (n, 16), dtype=np.uint8)
            b[:, 6] = (b[:, 6] & 0x0F) | 0x40
            b[:, 8] = (b[:, 8] & 0x3F) | 0x80
            cols[col.name] = pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), n, [None, pa.py_buffer(b.tobytes())]
            )
        elif isinstance(ty, (String, Text)) and not isinstance(ty, JSONB):
            k = 15
            offs = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
            s = pc.binary_join(
                pa.ListArray.from_arrays(
                    offs, vocab.take(pa.array(rng.integers(0, len(vocab), n * k)))
                ),
                " ",
            )
            limit = getattr(ty, "length", None) or 100
            cols[col.name] = pc.utf8_slice_codeunits(s, 0, limit)
        elif isinstance(ty, DateTime):
            secs = rng.integers(0, TS_SPAN_S, n).astype("timedelta64[s]")
            cols[col.name] = pa.array(
                (np.datetime64(TS_START, "s") + secs).astype("datetime64[us]")
            )
        elif isinstance(ty, Boolean):
            cols[col.name] = pa.array(rng.random(n) < 0.99)
        elif isinstance(ty, JSONB):
            cols[col.name] = pc.binary_join_element_wise(
                '{"level": ', pc.cast(pa.array(rng.integers(0, 100, n)), pa.string()), "}", ""
            )
        elif isinstance(ty, Double):
            cols[col.name] = pa.array(rng.random(n))
        else:
            raise TypeError(f"no generator for {ty!r}")
    return pa.table(cols)


def section_factories(args, results: dict) -> None:
    repeat = args.repeat
    n = args.factory_rows
    sa = _optional("sqlalchemy")
    if sa is None:
        emit("d. ORM factories", "sqlalchemy not installed")
        return
    _, LoadRow = build_model()
    rows = []

    factory = _optional("factory")
    if factory is not None:
        from factory.alchemy import SQLAlchemyModelFactory

        class RowFactory(SQLAlchemyModelFactory):
            class Meta:
                model = LoadRow
                sqlalchemy_session = None

            id = factory.Sequence(lambda i: i + 1)
            uid = factory.LazyFunction(uuid.uuid4)
            name = factory.Faker("user_name")
            body = factory.Faker("text", max_nb_chars=100)
            created_at = factory.Faker(
                "date_time_between", start_date=TS_START, end_date=TS_START + dt.timedelta(days=143)
            )
            active = factory.Faker("pybool")
            attrs = factory.LazyFunction(lambda: {"level": random.randint(0, 99)})
            score = factory.Faker("pyfloat", min_value=0, max_value=1)

        import factory.random as factory_random

        factory_random.reseed_random(args.seed)
        t, out = bench(lambda: RowFactory.build_batch(n), repeat)
        assert len(out) == n and isinstance(out[0], LoadRow)
        rows.append(
            (
                f"factory_boy `SQLAlchemyModelFactory.build_batch({n:,})` (Faker fields)",
                f"{t:.2f}",
                fmt_rate(n / t),
            )
        )
    else:
        rows.append(("factory_boy", "not installed", ""))

    try:
        from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory
    except Exception as exc:  # noqa: BLE001
        rows.append((f"polyfactory: {exc.__class__.__name__}: {exc}", "", ""))
    else:

        class PolyRowFactory(SQLAlchemyFactory[LoadRow]):
            __model__ = LoadRow
            __set_relationships__ = False
            __random_seed__ = args.seed

        t, out = bench(lambda: PolyRowFactory.batch(n), repeat)
        assert len(out) == n and isinstance(out[0], LoadRow)
        rows.append((f"polyfactory `SQLAlchemyFactory.batch({n:,})`", f"{t:.2f}", fmt_rate(n / t)))

    t, out = bench(lambda: introspect_generate(LoadRow, n, args.seed), repeat)
    assert out.num_rows == n
    rows.append(
        (
            f"direct introspection of `Model.__table__.columns` → Arrow table of {n:,}",
            f"{t:.3f}",
            fmt_rate(n / t),
        )
    )
    big = n * 20
    t, out = bench(lambda: introspect_generate(LoadRow, big, args.seed), repeat)
    rows.append(
        (
            f"direct introspection, {big:,} rows (per-{n:,} time shown)",
            f"{t / 20:.3f}",
            fmt_rate(big / t),
        )
    )

    results["factories"] = rows
    emit(
        f"d. Building {n:,} rows for the 8-column model (median of {repeat})",
        md_table(["method", f"seconds per {n:,}", "rows/s"], rows),
        "Factories build ORM instances in memory (no INSERT); the introspection path builds an "
        "Arrow table ready for COPY, so it also skips section a's per-row prep.",
    )


# --------------------------------------------------------------------------- e. concurrency


def shard_task(spec: tuple[int, int, str, int]) -> int:
    """A seedgen-like shard: a pool filled in Python, numpy sampling, pyarrow assembly, CSV file.

    faker_pool > 0 fills that many pool values with Faker (GIL-bound Python, as seedgen's
    per-shard pools are); 0 uses a tiny pure-Python pool so nearly all work is numpy/pyarrow.
    """
    shard, n, outdir, faker_pool = spec
    rng = np.random.default_rng(1000 + shard)
    if faker_pool:
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(shard)
        pool = pa.array([fake.user_name() for _ in range(faker_pool)])
    else:
        r = random.Random(shard)
        pool = pa.array(
            ["".join(r.choice("abcdefghijklmnop") for _ in range(8)) for _ in range(2000)]
        )
    m = len(pool)
    k = 12
    offs = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    text = pc.binary_join(
        pa.ListArray.from_arrays(offs, pool.take(pa.array(rng.integers(0, m, n * k)))), ", "
    )
    tbl = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64) + shard * n),
            "name": pool.take(pa.array(rng.integers(0, m, n))),
            "text": text,
            "score": pa.array(np.round(rng.random(n), 2)),
            "ts": pa.array(rng.integers(0, TS_SPAN_S, n).astype("datetime64[s]")),
        }
    )
    pacsv.write_csv(tbl, os.path.join(outdir, f"shard_{shard}.csv"))
    return tbl.num_rows


def run_serial(specs) -> list[int]:
    return [shard_task(s) for s in specs]


def run_pool(ex, specs) -> list[int]:
    return list(ex.map(shard_task, specs))


def run_cold_processes(workers: int, specs) -> list[int]:
    with ProcessPoolExecutor(workers) as ex:
        return list(ex.map(shard_task, specs))


def section_concurrency(args, results: dict) -> None:
    repeat = args.repeat
    shards, per = 4, args.shard_rows
    workers = os.cpu_count() or 2
    tmpdir = tempfile.mkdtemp(prefix="landscape_shards_")
    variants = [("numpy/pyarrow only", 0)]
    if _optional("faker") is not None:
        variants.append(
            (f"+ {args.shard_faker_pool:,} Faker values per shard", args.shard_faker_pool)
        )
    rows = []
    try:
        for vlabel, fpool in variants:
            specs = [(i, per, tmpdir, fpool) for i in range(shards)]
            t_serial, out = bench(partial(run_serial, specs), repeat)
            assert sum(out) == shards * per
            rows.append((vlabel, "serial", f"{t_serial:.2f}", "1.00x"))
            with ThreadPoolExecutor(workers) as ex:
                t, _ = bench(partial(run_pool, ex, specs), repeat)
            rows.append(
                (vlabel, f"ThreadPoolExecutor({workers})", f"{t:.2f}", f"{t_serial / t:.2f}x")
            )

            t, _ = bench(partial(run_cold_processes, workers, specs), repeat)
            rows.append(
                (
                    vlabel,
                    f"ProcessPoolExecutor({workers}), pool start included",
                    f"{t:.2f}",
                    f"{t_serial / t:.2f}x",
                )
            )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    results["concurrency"] = rows
    emit(
        f"e. Concurrency: {shards} shards × {per:,} rows (pool + numpy sampling + pyarrow join "
        f"+ CSV file), {workers} CPUs (median of {repeat})",
        md_table(["shard work", "executor", "wall seconds", "speed-up vs serial"], rows),
    )


# --------------------------------------------------------------------------- f. CLI / config


def section_cli(args, results: dict) -> None:
    repeat = max(args.repeat, 5)  # interpreter start-up is noisy and cheap: take more runs
    py = sys.executable

    def run(code):
        return bench(lambda: subprocess.run([py, "-c", code], check=True), repeat)[0]

    base = run("pass")
    rows = [("`python -c pass` (baseline)", f"{base * 1000:.0f}", "0")]
    for code in [
        "import argparse",
        "import typer",
        "from pydantic import BaseModel",
        "import typer; from pydantic import BaseModel",
    ]:
        try:
            t = run(code)
            rows.append((f"`{code}`", f"{t * 1000:.0f}", f"{(t - base) * 1000:.0f}"))
        except subprocess.CalledProcessError:
            rows.append((f"`{code}`", "not installed", ""))

    pyd = _optional("pydantic")
    if pyd is not None:

        class Cfg(pyd.BaseModel):
            dsn: str
            rows: int = pyd.Field(gt=0)
            shards: int = pyd.Field(default=4, ge=1)
            formats: list[str] = ["parquet"]

        payload = {
            "dsn": "postgresql://x@y/z",
            "rows": 1000,
            "shards": 8,
            "formats": ["csv", "parquet"],
        }
        t, _ = bench(lambda: [Cfg.model_validate(payload) for _ in range(10_000)], repeat)
        rows.append(
            ("pydantic `model_validate` of a 4-field config, ×10,000", f"{t * 1000:.0f}", "-")
        )
    results["cli"] = rows
    emit(
        f"f. CLI/config start-up cost (fresh interpreter each run, median of {repeat})",
        md_table(["what", "ms", "ms over baseline"], rows),
    )


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dsn",
        default="postgresql://root@127.0.0.1:5432/postgres",
        help="maintenance DB to connect to",
    )
    ap.add_argument("--rows", type=int, default=200_000, help="rows to bulk-load (section a)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    ap.add_argument(
        "--batch", type=int, default=10_000, help="record-batch size for the COPY CSV stream"
    )
    ap.add_argument(
        "--field-rows",
        type=int,
        default=100_000,
        help="per-row Faker/mimesis calls (pool samples 10x)",
    )
    ap.add_argument("--prompt-rows", type=int, default=100_000)
    ap.add_argument(
        "--tracery-rows",
        type=int,
        default=20_000,
        help="tracery is ~30x slower per prompt: its sample is capped",
    )
    ap.add_argument("--factory-rows", type=int, default=10_000)
    ap.add_argument("--shard-rows", type=int, default=1_000_000)
    ap.add_argument(
        "--shard-faker-pool",
        type=int,
        default=5_000,
        help="Faker values per shard, GIL-bound variant",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--only",
        default="abcdef",
        help="sections to run, e.g. 'ad' "
        "(a=loading b=fields c=prompts d=factories e=concurrency f=cli)",
    )
    ap.add_argument("--json", help="also write the raw results to this JSON file")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    print("## seedgen library landscape — measured\n")
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}, PostgreSQL {server}.  "
    )
    libs = [
        "sqlalchemy", "psycopg", "asyncpg", "faker", "mimesis", "jinja2", "tracery",
        "pyarrow", "numpy", "factory_boy", "polyfactory", "typer", "pydantic",
    ]  # fmt: skip
    print("Versions: " + ", ".join(f"{d} {_version(d)}" for d in libs) + ".  ")
    cmd = " ".join(["python bench/landscape.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"Command: `{cmd}`\n")
    sys.stdout.flush()

    results: dict = {}
    target = make_conninfo(args.dsn, dbname=BENCH_DB)
    need_db = any(s in args.only for s in "a")
    if need_db:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    try:
        if "a" in args.only:
            section_loading(args, target, results)
        if "b" in args.only:
            section_fields(args, results)
        if "c" in args.only:
            section_prompts(args, results)
        if "d" in args.only:
            section_factories(args, results)
        if "e" in args.only:
            section_concurrency(args, results)
        if "f" in args.only:
            section_cli(args, results)
    finally:
        if need_db:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(BENCH_DB)
                    )
                )
    total = time.perf_counter() - t_start
    la = os.getloadavg()
    print(
        f"\nTotal benchmark wall time: {total:.0f} s. Load average at start {load_start[0]:.2f}, "
        f"at end {la[0]:.2f} (1 min): other work on this {os.cpu_count()}-CPU machine "
        "skews every figure."
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"total_s": total, **results}, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
