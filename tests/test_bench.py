"""Smoke run of `make bench`: the real script, tiny counts, one notebook, as if Node.js were
missing. Proves the bench runs end to end and writes every row of its report; the
figures themselves are not asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

EXPECTED_ROWS = [
    "Embedded Redis start",
    "Redis PING round trip",
    "Pub/sub end-to-end latency",
    "JSON-RPC requests/s, one keep-alive connection",
    "JSON-RPC latency p50 / p99",
    "Redis Cluster start",
    "Failover: sharded pub/sub messages lost",
    "Cluster-bus messages per PUBLISH / per SPUBLISH",
    "Notebook `00_start_here` in a fresh kernel",
    "Whole course",
    "Peak kernel memory during the course",
]


def table_rows(markdown: str) -> dict[str, list[str]]:
    """The Figures table as {figure: [pack, peer, ratio, target, verdict]}."""
    rows = {}
    for line in markdown.split("## Figures", 1)[1].splitlines():
        if line.startswith("| ") and not line.startswith("| figure"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def find(rows: dict[str, list[str]], prefix: str) -> list[str]:
    matches = [cells for figure, cells in rows.items() if figure.startswith(prefix)]
    assert len(matches) == 1, f"expected one row starting {prefix!r}, found {list(rows)}"
    return matches[0]


def test_quick_bench_writes_every_row(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--without-node",
         "--notebooks", "00_*.ipynb", "--results", str(results), "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    text = results.read_text()
    assert text in done.stdout, "the table on stdout differs from bench/results.md"
    assert re.search(r"\*\*date\*\*: \d{4}-\d\d-\d\d", text), "the report names no date"
    assert "**cores**" in text and "**redis-server**" in text, "the machine is not described"

    assert "**FAILED**" not in text, text
    rows = table_rows(text)
    for prefix in EXPECTED_ROWS:
        find(rows, prefix)
    start = find(rows, "Embedded Redis start")
    assert re.fullmatch(r"\d+\.\d{3} s", start[0]), start
    assert start[4].startswith(("met", "**MISSED**")), "a target row must say met or missed"
    assert find(rows, "JSON-RPC requests/s")[1].startswith("Node.js missing"), (
        "without Node the jayson column must say so"
    )
    notebook = find(rows, "Notebook `00_start_here`")
    assert re.fullmatch(r"\d+\.\d s \(kernel peak \d+ MiB\)", notebook[0]), notebook
    assert "only 1 of" in find(rows, "Whole course")[4] or "met" in find(rows, "Whole course")[4]

    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["figure"] for row in document["rows"]] == list(rows)
    assert len(document["rows"][0]["data"]["seconds"]) == 3, "every repeat is kept in the JSON"
    assert (tmp_path / "out" / "latency.png").stat().st_size > 10_000
