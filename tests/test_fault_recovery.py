"""Fault injection as a user would recover (issue 7, "Test the promises").

Each scenario copies a reference database, runs one operation — an initial ``load``, an
``--append`` of a second set, ``reset --confirm``, ``repair`` of an interrupted load, or
``load --force`` — and kills it: SIGKILL at a fail point chosen at random among every point and
hit count an uninterrupted run of that operation passes (``SEEDGEN_FAILPOINT_TRACE``), or
SIGKILL/SIGINT at a random moment after it started writing. Only kills that landed count: the
process died of the signal and the database shows it unfinished (a ``running`` load, objects
missing), or the fail point fired inside the operation's transaction (``reset``). A kill that
missed is retried at a new random point.

Then the user's part: a random sequence (1-3) of the commands the tool printed (backticked
``seedgen …``, "pass --force", "without --resume", "the same command"), in random order, and the
plain re-run of the original command. After every command: no traceback; a non-zero exit has an
``error:`` line whose claims are true (``tests/faultkit.message_lies``) and whose commands exist;
an exit 0 leaves what it promises (a load: the uninterrupted run's rows and objects; a reset: the
state before the set; a repair: every object back); and never objects missing while no load is
unfinished. Last, the first printed command that completes, round after round, must lead to the
uninterrupted run's state or the state before the set — a hint that leads back to itself fails.

``make test``: 30 landed scenarios, fixed seed. ``make test-deep`` (``SEEDGEN_DEEP=1``): 200,
random seed. ``SEEDGEN_FAULT_SEED``, ``SEEDGEN_FAULT_SCENARIOS`` and ``SEEDGEN_FAULT_ONLY``
(scenario numbers, comma-separated) reproduce a failure; the failure message prints them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from seedgen import devdb
from tests.conftest import SCHEMA_SQL, make_set
from tests.faultkit import (
    Commands,
    Fingerprint,
    Run,
    fingerprint,
    orphans,
    printed_commands,
    run,
    start,
)
from tests.faultkit import message_lies as lies_in
from tests.test_load_failures import _add_user_trigger

DEEP = os.environ.get("SEEDGEN_DEEP") == "1"
SEED = int(os.environ.get("SEEDGEN_FAULT_SEED") or (random.randrange(10**6) if DEEP else 20261202))
SCENARIOS = int(os.environ.get("SEEDGEN_FAULT_SCENARIOS") or (200 if DEEP else 30))
ONLY = os.environ.get("SEEDGEN_FAULT_ONLY")
WORKERS = 2
ATTEMPTS = 4  # new random kill points per scenario before it counts as missed
FINISH_ROUNDS = 4
TINY = {  # ~1,000 rows; 28 shards and ~60 COPY batches, so kills land inside COPY
    "target_rows_users": 12,
    "target_rows_content_items": 60,
    "target_rows_content_items_auto": 120,
    "tags_per_item_max": 6,
    "admin_rows_per_content_table": 5,
    "shard_rows": 40,
    "batch_size_default": 16,
    "batch_size_content_items": 16,
    "batch_size_content_items_auto": 16,
}


class Databases:
    """Scratch databases ``seedgen_t_*_test``, made empty or as copies; all dropped at the end."""

    def __init__(self, server: str) -> None:
        self.server, self.made = server, []

    def url(self, name: str) -> str:
        return devdb.as_url(devdb.with_dbname(self.server, name))

    def create(self, template: str | None = None) -> str:
        name = f"seedgen_t_{uuid.uuid4().hex[:10]}_test"
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(stmt)
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.made.remove(name)


@dataclass
class Op:
    """An operation to interrupt, measured on an uninterrupted run."""

    name: str  # load, append, reset, force, repair
    label: str  # the set it concerns: A or B
    template: str  # database it starts from
    argv: list[str]  # URL as a placeholder
    trace: dict[str, int] = field(default_factory=dict)  # fail point -> hits
    to_probe: float = 0.0  # seconds until it wrote something
    duration: float = 0.0
    told: Run | None = None  # what the user was told before running it (repair: by the load)


@dataclass
class World:
    dbs: Databases
    sets: dict[str, Path]  # label -> set directory
    refs: dict[str, Fingerprint]
    ops: list[Op]
    cli: Commands

    @property
    def labels(self) -> dict[str, str]:
        return {str(path): label for label, path in self.sets.items()}

    def before(self, label: str) -> list[tuple[object, ...]]:
        """States with set ``label`` not loaded (a reset keeps the objects a load rebuilt)."""
        return [self.refs[r].state() for r in (("R0", "RA_reset") if label == "A" else ("RA",))]

    def after(self, label: str) -> tuple[object, ...]:
        return self.refs["RA" if label == "A" else "RAB"].state()


# ---------------------------------------------------------------------------- interrupting


def _probe(conn: psycopg.Connection, op: str) -> int:
    """A number that changes once ``op`` has written something."""
    if conn.execute("SELECT to_regclass('seedgen.loads')").fetchone()[0] is None:
        return 0
    if op == "repair":
        query = "SELECT count(*) FROM seedgen.saved_objects WHERE restored"
    else:
        query = "SELECT coalesce(max(id), 0) FROM seedgen.loads WHERE status = 'running'"
    return int(conn.execute(query).fetchone()[0])


def _wait_for_writes(url: str, op: str, proc: subprocess.Popen[str]) -> bool:
    """Wait until ``op`` has written something; False if it exited first."""
    with psycopg.connect(url, autocommit=True) as conn:
        start_value = _probe(conn, op)
        while proc.poll() is None:
            if _probe(conn, op) != start_value:
                return True
            time.sleep(0.02)
    return False


def _argv(op: Op, world: World, url: str) -> list[str]:
    return [str(world.sets[op.label]) if a == "SET" else url if a == "URL" else a for a in op.argv]


def interrupt(op: Op, world: World, url: str, cut: tuple[str, object]) -> Run:
    """Run ``op`` and kill it as ``cut`` says: (failpoint, "name:n") or (SIGKILL|SIGINT, 0..1)."""
    kind, where = cut
    env = {"SEEDGEN_FAILPOINT": str(where)} if kind == "failpoint" else None
    argv = _argv(op, world, url)
    proc = start(argv, env)
    sent = None
    if kind != "failpoint" and _wait_for_writes(url, op.name, proc):
        time.sleep(float(where) * max(op.duration - op.to_probe, 0.1))
        proc.send_signal(signal.SIGKILL if kind == "SIGKILL" else signal.SIGINT)
        sent = kind
    out, err = proc.communicate(timeout=180)
    return Run(argv, proc.returncode, out, err, str(where) if env else None, sent)


def landed(
    op: Op, killed: Run, before: Fingerprint, after: Fingerprint, whole: Fingerprint
) -> bool:
    """Died of the signal, leaving the operation unfinished: a running load, or objects missing
    against ``whole`` (a repair that completed before the signal did not land)."""
    died = killed.returncode == -signal.SIGKILL or (
        killed.signal_sent == "SIGINT" and killed.returncode != 0
    )
    if not died:
        return False
    if op.name == "reset":  # one transaction: the fail point fired inside it, nothing committed
        return killed.failpoint is not None and after.claims == before.claims
    return bool(after.running) or after.objects != whole.objects


def measure(op: Op, world: World) -> str:
    """Run ``op`` uninterrupted on a copy: its fail-point trace and timings; return the copy."""
    name = world.dbs.create(op.template)
    url = world.dbs.url(name)
    trace = Path(tempfile.mkstemp(prefix="seedgen-trace-")[1])
    t0 = time.monotonic()
    proc = start(_argv(op, world, url), {"SEEDGEN_FAILPOINT_TRACE": str(trace)})
    _wait_for_writes(url, op.name, proc)
    op.to_probe = time.monotonic() - t0
    out, err = proc.communicate(timeout=180)
    op.duration = time.monotonic() - t0
    for point in trace.read_text().split():
        op.trace[point] = op.trace.get(point, 0) + 1
    trace.unlink()
    if op.name != "repair":  # item 1: on the old code repair fails; its trace is still right
        assert proc.returncode == 0, f"uninterrupted {op.name} failed: {out}{err}"
    assert op.trace, f"{op.name} passes no fail point"
    return name


# ---------------------------------------------------------------------------- recovering


class ScenarioFailure(Exception):
    pass


class Recovery:
    """The user's part after a kill: printed commands, each judged against the database."""

    def __init__(self, world: World, op: Op, url: str, rng: random.Random) -> None:
        self.world, self.op, self.url, self.rng = world, op, url, rng
        self.set_dir = world.sets[op.label]
        self.original = _argv(op, world, url)
        self.transcript: list[str] = []
        self.known: list[list[str]] = [self.original]

    def fp(self) -> Fingerprint:
        return fingerprint(self.url, self.world.labels)

    def hints(self, done: Run) -> list[list[str]]:
        found, problems = printed_commands(
            done.text, done.argv, self.set_dir, self.url, self.world.cli
        )
        if problems:
            raise ScenarioFailure("; ".join(problems))
        self.known += [argv for argv in found if argv not in self.known]
        return found

    def step(self, argv: list[str]) -> tuple[Run, list[list[str]]]:
        before = self.fp()
        done = run(argv)
        after = self.fp()
        self.transcript.append(done.show(self.url))
        problems = self.judge(done, before, after)
        if problems:
            raise ScenarioFailure("; ".join(problems))
        return done, self.hints(done)

    def judge(self, done: Run, before: Fingerprint, after: Fingerprint) -> list[str]:
        problems = []
        if "Traceback" in done.stderr:
            problems.append("a traceback (a bug, not a message)")
        if done.returncode != 0:
            if "error:" not in done.text:
                problems.append(f"exit {done.returncode} without an error: line")
            problems += lies_in(done.text, self.op.label, before, after)
        else:
            problems += self.promise(done.argv, before, after)
        if not after.running:  # nothing unfinished: every object back, sequences ahead
            reference = self.world.refs["RA"]
            if after.objects != reference.objects or not all(ok for *_, ok in after.sequences):
                problems.append(f"no load is unfinished, yet {after.diff(reference)}")
        return problems

    def promise(self, argv: list[str], before: Fingerprint, after: Fingerprint) -> list[str]:
        """What an exit 0 of ``argv`` promises about the database."""
        label = self.op.label
        if argv[0] == "load" and after.state() != self.world.after(label):
            return [f"load exited 0, but against the uninterrupted run: {after.diff(self._ref())}"]
        if argv[0] == "reset" and after.state() not in self.world.before(label):
            return [f"reset exited 0, but {after.diff(self._ref(before=True))}"]
        if argv[0] == "repair" and after.running:
            return [f"repair exited 0, but loads {after.running} are still running"]
        if argv[0] == "verify" and after.content() != before.content():
            return ["verify changed the database"]
        return []

    def _ref(self, before: bool = False) -> Fingerprint:
        label = self.op.label
        if before:
            return self.world.refs["R0" if label == "A" else "RA"]
        return self.world.refs["RA" if label == "A" else "RAB"]

    def settled(self) -> bool:
        fp = self.fp()
        good = [self.world.after(self.op.label), *self.world.before(self.op.label)]
        return not fp.running and fp.state() in good

    def play(self, killed: Run) -> None:
        """A random sequence of printed commands, then the first that completes, round by round."""
        if self.op.told is not None:
            self.hints(self.op.told)
        last = self.hints(killed)
        for _ in range(self.rng.randint(1, 3)):
            _, last = self.step(self.rng.choice(self.known))
        for _ in range(FINISH_ROUNDS):
            if self.settled():
                return
            last = self.finish_round(last)
        if not self.settled():
            raise ScenarioFailure(
                f"after {FINISH_ROUNDS} rounds of printed commands the load is still not "
                f"finished or undone: {self.fp().diff(self._ref())}"
            )

    def finish_round(self, last: list[list[str]]) -> list[list[str]]:
        """Try the commands printed last, then the others, newest first, the original command
        last; the first that exits 0 and changes something (or settles) ends the round."""
        queue = [*last, *(argv for argv in reversed(self.known) if argv not in last)]
        for argv in queue:  # grows with what failing commands print
            before = self.fp()
            done, printed = self.step(argv)
            if done.returncode == 0 and (self.settled() or self.fp() != before):
                return printed
            queue += [a for a in printed if a not in queue]
        raise ScenarioFailure(
            "no printed command completes or changes anything: the hints go round"
        )


# ---------------------------------------------------------------------------- scenarios


def choose_cut(op: Op, rng: random.Random) -> tuple[str, object]:
    kinds = ["failpoint"] if op.name == "reset" else ["failpoint"] * 3 + ["SIGKILL", "SIGINT"]
    kind = rng.choice(kinds)
    if kind != "failpoint":
        return kind, round(rng.random(), 3)
    if rng.random() < 0.5:  # any hit of any point: mostly inside COPY and index builds
        hits = [
            (point, n) for point, count in sorted(op.trace.items()) for n in range(1, count + 1)
        ]
        point, n = rng.choice(hits)
        return kind, f"{point}:{n}"
    point = rng.choice(sorted(op.trace))  # any point: the once-only ones get their turn
    return kind, f"{point}:{rng.randint(1, op.trace[point])}"


@dataclass
class Outcome:
    number: int
    landed: bool
    story: str
    failure: str | None = None


def scenario(world: World, number: int) -> Outcome:
    rng = random.Random(SEED * 100_003 + number)
    op = rng.choice(world.ops)
    misses = []
    for _ in range(ATTEMPTS):
        cut = choose_cut(op, rng)
        name = world.dbs.create(op.template)
        url = world.dbs.url(name)
        try:
            before = fingerprint(url, world.labels)
            killed = interrupt(op, world, url, cut)
            after = fingerprint(url, world.labels)
            story = f"scenario {number}: {op.name} of set {op.label}, {cut[0]} {cut[1]}"
            story += f" ({len(misses)} missed before)" if misses else ""
            if not landed(op, killed, before, after, world.refs["RA"]):
                misses.append(f"{cut[0]} {cut[1]} (exit {killed.returncode})")
                continue
            recovery = Recovery(world, op, url, rng)
            recovery.transcript.append(killed.show(url))
            try:
                problems = lies_in(killed.text, op.label, before, after)
                if problems:
                    raise ScenarioFailure("; ".join(problems))
                recovery.play(killed)
            except ScenarioFailure as exc:
                return Outcome(number, True, story, f"{exc}\n" + "".join(recovery.transcript))
            return Outcome(
                number, True, story + " -> " + str(len(recovery.transcript) - 1) + " commands"
            )
        finally:
            world.dbs.drop(name)
    return Outcome(number, False, f"scenario {number}: {op.name}: missed {misses}")


# ---------------------------------------------------------------------------- the world


@pytest.fixture
def world(server: str, tmp_path: Path) -> Iterator[World]:
    dbs = Databases(server)
    try:
        yield build_world(dbs, tmp_path)
    finally:
        for name in list(dbs.made):
            dbs.drop(name)


def build_world(dbs: Databases, tmp: Path) -> World:
    sets = {
        "A": make_set(tmp / "A", **TINY),
        "B": make_set(tmp / "B", **TINY, seed=43, key_offset=1_000_000),
    }
    r0 = dbs.create()
    with psycopg.connect(dbs.url(r0), autocommit=True) as conn:
        conn.execute(SCHEMA_SQL.read_text())
    _add_user_trigger(dbs.url(r0))
    world = World(dbs, sets, {}, [], Commands.of_cli())
    load = ["load", "SET", "--database-url", "URL", "--jobs", "2"]
    templates = {"R0": r0}
    for ref, op in (
        ("RA", Op("load", "A", r0, load)),
        ("RAB", Op("append", "B", "RA", [*load, "--append"])),
        (
            "RA_reset",
            Op("reset", "A", "RA", ["reset", "SET", "--database-url", "URL", "--confirm"]),
        ),
        ("RA_force", Op("force", "A", "RA", [*load, "--force"])),
    ):
        op.template = templates.get(op.template, op.template)
        templates[ref] = measure(op, world)
        world.ops.append(op)
    for label, template, point in (
        ("A", templates["R0"], "copy-batch"),
        ("B", templates["RA"], "merge-table"),
    ):
        world.ops.append(_repair_op(world, label, template, point))
    world.refs = {ref: fingerprint(dbs.url(name), world.labels) for ref, name in templates.items()}
    _check_references(world)
    return world


def _repair_op(world: World, label: str, template: str, point: str) -> Op:
    """``repair`` of a load of ``label`` killed at ``point``: for the initial load, early
    enough in COPY that some child rows are in and their parents not (item 1 of issue 7); for
    an append, inside the last table's merge (the others merged, with keys past the sequences)."""
    into = next(op for op in world.ops if op.label == label and op.name in ("load", "append"))
    reference = fingerprint(world.dbs.url(template), world.labels)
    tenths = (2, 3, 4, 1, 5, 6)
    for tenth in tenths:  # the last cut is kept even without orphans: repair must undo it anyway
        name = world.dbs.create(template)
        url = world.dbs.url(name)
        hits = into.trace[point]
        cut = f"{point}:{hits if label == 'B' else max(1, hits * tenth // 10)}"
        killed = interrupt(into, world, url, ("failpoint", cut))
        assert killed.returncode == -signal.SIGKILL, f"fail point {cut} never fired"
        if label == "B" or orphans(url, reference) or tenth == tenths[-1]:
            break
        world.dbs.drop(name)
    op = Op("repair", label, name, ["repair", "--database-url", "URL"])
    op.told = run(_argv(into, world, url))  # refused (a load is unfinished): names the ways out
    assert op.told.returncode != 0 and "repair" in op.told.text, op.told.text
    measure(op, world)
    return op


def _check_references(world: World) -> None:
    refs = world.refs
    assert refs["RA_force"].state() == refs["RA"].state(), refs["RA_force"].diff(refs["RA"])
    assert refs["RA_reset"].content() == refs["R0"].content(), refs["RA_reset"].diff(refs["R0"])
    for ref in refs.values():  # the same objects everywhere: a rebuild re-prints them alike
        assert ref.objects == refs["R0"].objects, ref.diff(refs["R0"])
        assert all(ok for _, _, ok in ref.sequences), ref.sequences
    assert dict(refs["RAB"].claims) == {"A": "loaded", "B": "loaded"}
    assert refs["RAB"].rows != refs["RA"].rows != refs["R0"].rows


def test_kill_anywhere_then_follow_the_printed_commands(world: World) -> None:
    numbers = [int(n) for n in ONLY.split(",")] if ONLY else range(SCENARIOS)
    print(f"\nfault scenarios: SEEDGEN_FAULT_SEED={SEED}, {len(numbers)} scenario(s)")
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda n: scenario(world, n), numbers))
    print("\n".join(o.story for o in outcomes))
    failed = [o for o in outcomes if o.failure]
    again = f"SEEDGEN_FAULT_SEED={SEED} SEEDGEN_FAULT_SCENARIOS={SCENARIOS}"
    assert not failed, (
        f"{len(failed)} of {len(outcomes)} scenarios broke a promise ({again}):\n"
        + "\n".join(f"{o.story} [SEEDGEN_FAULT_ONLY={o.number}]\n{o.failure}" for o in failed[:5])
    )
    hits = sum(o.landed for o in outcomes)
    assert hits >= len(numbers), f"only {hits} of {len(numbers)} kills landed ({again})"
