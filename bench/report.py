"""The bench's figures, and the three forms they are written in: a Markdown table
(stdout and bench/results.md, committed so that a change shows in review), a JSON
file for plotting over time, and a plot of the latency distributions.

Every figure is a median over repeats, and every comparison a ratio measured in
the same run: the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import hiredis
import redis


@dataclass
class Row:
    """One line of the table: the pack's figure, its peer's, and how it compares."""

    figure: str
    pack: str
    peer: str = "—"
    ratio: str = "—"
    target: str = "—"
    verdict: str = ""
    data: dict = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(ratios: list[float]) -> str:
    """The range of a ratio over the repeats: how far one run's figure can be trusted."""
    return f" (repeats {min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""


def us(seconds: float) -> str:
    """Seconds as microseconds, for latencies."""
    return f"{seconds * 1e6:,.0f} µs"


def verdict(met: bool, shown: str, target: str) -> str:
    """Say plainly whether a target was met, with the figure next to it."""
    return f"met ({shown} vs {target})" if met else f"**MISSED**: {shown}, target {target}"


def _command_output(command: list[str]) -> str:
    if not shutil.which(command[0]):
        return "not found"
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return (
        (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else ""
    )


def _jayson_version() -> str:
    manifest = Path(__file__).resolve().parent / "node_modules" / "jayson" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else "not installed"


def machine() -> dict:
    """What the figures were measured on, to read them against."""
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    if Path("/proc/meminfo").exists():
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kib / 2**20:.0f} GiB"
    return {
        "os": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "redis-py": f"{redis.__version__} (hiredis {hiredis.__version__})",
        "node": _command_output(["node", "--version"]),
        "jayson": _jayson_version(),
        "redis-benchmark": _command_output(["redis-benchmark", "--version"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(rows: list[Row], info: dict, notes: list[str]) -> str:
    """The report as Markdown: machine, table, notes."""
    lines = [
        "# `make bench` results",
        "",
        "Written by `make bench` (`bench/run.py`). Every figure is a median over repeats; "
        "every ratio is measured in the same run. Targets are reported, not asserted.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- **{key}**: {value}" for key, value in info.items()]
    lines += [
        "",
        "## Figures",
        "",
        "| figure | the pack | peer | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.figure, row.pack, row.peer, row.ratio, row.target, row.verdict or "—"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    if notes:
        lines += ["", "## How each figure is measured", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_json(path: Path, rows: list[Row], info: dict, settings: dict) -> dict:
    """The full figures (every repeat) as JSON, and one line appended to history.jsonl."""
    document = {"machine": info, "settings": settings, "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")
    summary = {
        "date": info.get("date"),
        "rows": {
            row.figure: {"pack": row.pack, "peer": row.peer, "ratio": row.ratio} for row in rows
        },
    }
    with (path.parent / "history.jsonl").open("a") as history:
        history.write(json.dumps(summary) + "\n")
    return document


def plot(path: Path, distributions: dict[str, dict[str, list[float]]]) -> Path | None:
    """Latency distributions as cumulative curves on a log axis, one panel per comparison.

    `distributions` maps a panel title to {label: latencies in seconds}; empty
    panels (a peer that was missing) are left out.
    """
    panels = {title: series for title, series in distributions.items() if any(series.values())}
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for axis, (title, series) in zip(axes[0], panels.items(), strict=True):
        for label, values in series.items():
            if not values:
                continue
            ordered = sorted(v * 1e6 for v in values)
            fraction = [(i + 1) / len(ordered) for i in range(len(ordered))]
            p50 = percentile(ordered, 50)
            axis.step(ordered, fraction, where="post", label=f"{label} (p50 {p50:,.0f} µs)")
        axis.set_xscale("log")
        axis.set_xlabel("latency (µs, log scale)")
        axis.set_ylabel("fraction of messages / requests")
        axis.axhline(0.99, color="grey", linewidth=0.6, linestyle=":")
        axis.set_title(title, fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")
    figure.suptitle("Latency distributions, all repeats pooled (dotted line: p99)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
