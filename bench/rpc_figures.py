"""JSON-RPC figures: the pack's background server against jayson, the Node.js library the
original lab used, both serving `add` and both driven by bench/load.py in the same run.

Each server runs in a process of its own with nothing else to do, as a learner's
server does in the kernel while the cell that calls it waits, so neither shares
an interpreter lock with the load generator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import load
import placement
from report import Row, median, percentile, spread, us, verdict

BENCH = Path(__file__).resolve().parent
RPS_TARGET = 1.0


class PeerMissing(RuntimeError):
    """A peer cannot run here; the message is what the report says instead of a figure."""


@contextmanager
def server_process(command: list[str], name: str) -> Iterator[int]:
    """Run a server that prints {"port": N} when ready and exits when its stdin closes."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=BENCH,
        preexec_fn=placement.pin_server,
    )
    try:
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            raise PeerMissing(f"{name} did not start: {process.stderr.read().strip()[-300:]}")
        yield int(json.loads(line)["port"])
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def pack_command() -> list[str]:
    return [sys.executable, str(BENCH / "pack_rpc_server.py")]


def jayson_command(without_node: bool) -> list[str]:
    node = None if without_node else shutil.which("node")
    if node is None:
        raise PeerMissing("Node.js missing: no jayson figure (install nodejs and npm)")
    if not (BENCH / "node_modules" / "jayson").is_dir():
        raise PeerMissing("jayson missing: `bench/setup.sh` installs it from npm")
    return [node, str(BENCH / "jayson_server.js"), "0"]


def _alternating(commands: dict[str, list[str]], repeats: int, count: int) -> dict:
    """Run every server, then drive them in alternating chunks, `repeats` times over."""
    runs: dict[str, list[load.Run]] = {name: [] for name in commands}
    with ExitStack() as stack:
        stack.enter_context(placement.as_client())
        ports = {
            name: stack.enter_context(server_process(command, name))
            for name, command in commands.items()
        }
        for _ in range(repeats):
            try:
                found = load.interleaved(ports, count, warmup=min(1000, count))
            except (load.LoadError, OSError) as error:
                raise PeerMissing(f"a server failed under load: {error}") from error
            for name, run in found.items():
                runs[name].append(run)
    return runs


def _latency_figures(runs: list[load.Run]) -> dict[str, list[float]]:
    return {
        "rps": [run.requests_per_s for run in runs],
        "p50_s": [percentile(run.latencies, 50) for run in runs],
        "p99_s": [percentile(run.latencies, 99) for run in runs],
    }


def measure(repeats: int, count: int, without_node: bool) -> tuple[list[Row], dict]:
    """Rows for requests/s and latency, and the pooled latencies for the plot."""
    rps = Row(
        figure=f"JSON-RPC requests/s, one keep-alive connection ({count} × {repeats})",
        pack="",
        target=f"≥ {RPS_TARGET:.1f}× jayson",
    )
    latency = Row(figure="JSON-RPC latency p50 / p99", pack="", verdict="no target")
    commands, missing = {}, {}
    for name, command in (("pack", pack_command), ("jayson", lambda: jayson_command(without_node))):
        try:
            commands[name] = command()
        except PeerMissing as error:
            missing[name] = str(error)
    try:
        runs = _alternating(commands, repeats, count)
    except PeerMissing as error:
        runs, missing = {}, {"pack": str(error), "jayson": str(error)}
    figures = {name: _latency_figures(found) for name, found in runs.items()}
    pooled = {}
    if "pack" in figures:
        pack = figures["pack"]
        rps.pack = f"{median(pack['rps']):,.0f} req/s"
        latency.pack = f"{us(median(pack['p50_s']))} / {us(median(pack['p99_s']))}"
        pooled["the pack's RPC server"] = [x for run in runs["pack"] for x in run.latencies]
    else:
        rps.pack = latency.pack = missing["pack"]
    if "jayson" in figures:
        peer = figures["jayson"]
        rps.peer = f"jayson: {median(peer['rps']):,.0f} req/s"
        latency.peer = f"jayson: {us(median(peer['p50_s']))} / {us(median(peer['p99_s']))}"
        pooled["jayson (Node.js)"] = [x for run in runs["jayson"] for x in run.latencies]
    else:
        rps.peer = latency.peer = missing["jayson"]
    rps.data = latency.data = figures
    if "pack" in figures and "jayson" in figures:
        pack, peer = figures["pack"], figures["jayson"]
        ratios = [a / b for a, b in zip(pack["rps"], peer["rps"], strict=True)]
        p50_ratios = [a / b for a, b in zip(pack["p50_s"], peer["p50_s"], strict=True)]
        shown = f"{median(ratios):.2f}×"
        rps.ratio = f"{shown} jayson's" + spread(ratios)
        rps.verdict = verdict(median(ratios) >= RPS_TARGET, shown, f"≥ {RPS_TARGET:.1f}×")
        latency.ratio = f"p50 {median(p50_ratios):.2f}× jayson's" + spread(p50_ratios)
        figures["ratio_rps"], figures["ratio_p50"] = ratios, p50_ratios
    else:
        rps.verdict = latency.verdict = "not measured: " + (
            "the pack's server is missing" if "pack" not in figures else "the peer is missing"
        )
    return [rps, latency], pooled
