"""README's "Your own schema in five minutes" runs as written: the commands between its
``five-minutes`` markers, with scratch databases and a scratch directory substituted, from the
checkout's root (the models module is imported from there). The docs cannot rot unnoticed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.conftest import ROOT

BLOCK = re.compile(r"<!-- five-minutes:begin -->\n```sh\n(.*?)```\n<!-- five-minutes:end -->", re.S)
URL = re.compile(r"postgresql://localhost/(\w+)")


def readme_commands() -> list[str]:
    block = BLOCK.search((ROOT / "README.md").read_text())
    assert block, "README lost its five-minutes markers"
    return [
        line.split("  #")[0].strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _count(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_five_minutes_commands_run_as_written(tmp_path: Path, make_db: Callable[..., str]) -> None:
    commands = readme_commands()
    assert commands[0] == "pip install -e ."  # the test runs in that installed environment
    names = sorted({m for c in commands for m in URL.findall(c)})
    assert names == ["shop_copy_demo", "shop_custom_demo", "shop_demo"]
    urls = {name: make_db(with_schema=False) for name in names}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands[1:]:
        assert command.startswith("seedgen "), command
        command = URL.sub(lambda m: urls[m.group(1)], command)
        command = command.replace("seed-data/", f"{tmp_path}/seed-data/")
        (tmp_path / "seed-data" / "sets").mkdir(parents=True, exist_ok=True)
        run = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, f"{command}\n{run.stderr}"
    assert "customers:" in (tmp_path / "seed-data/sets/shop-inferred.yaml").read_text()
    for name in ("shop_demo", "shop_copy_demo"):
        counts = _count(
            urls[name],
            "SELECT (SELECT count(*) FROM customers), "
            "(SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines)",
        )
        assert counts == [(100, 1000, 1000)], name
    custom = urls["shop_custom_demo"]
    tiers = dict(_count(custom, "SELECT tier, count(*) FROM customers GROUP BY tier"))
    assert tiers == {"gold": 30, "silver": 90, "bronze": 180}  # the override's exact quota
    notes = dict(_count(custom, "SELECT coalesce(note, '-'), count(*) FROM orders GROUP BY 1"))
    assert set(notes) == {"-", "leave at the door", "call first", "gift wrap"}
    assert 350 < notes["-"] < 650  # share 0.5 of 1000 orders
