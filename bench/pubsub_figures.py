"""Pub/sub figures: the pack's latency harness (helpers.experiments.pubsub_latency, what
notebook 05 plots) against a minimal raw subscriber loop hearing the very same messages.

The harness publishes at a fixed rate and hears each message in a `Collector` thread of
the same process. The raw loop (bench/raw_subscriber.py) runs in a process of its own and
does nothing but `listen()`: it is the latency a subscriber sees when nothing gets in its
way. The ratio of the two is what the harness adds to what it reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis
from report import Row, median, percentile, spread, us, verdict

from helpers import experiments
from helpers.redis_server import EmbeddedRedis

BENCH = Path(__file__).resolve().parent
RATIO_TARGET = 1.2
RATE = 1000  # messages per second, notebook 05's default
PAYLOAD = 16  # bytes


def _raw_latencies(lines: str) -> list[float]:
    """Latency in seconds of each message the raw loop heard, from the stamp it carries."""
    return [(received - experiments.parse(data)[1]) / 1e9 for data, received in json.loads(lines)]


def _one_repeat(server: EmbeddedRedis, count: int) -> tuple[list[float], list[float]]:
    """(harness latencies, raw loop latencies) in seconds, for one stream of messages."""
    channel = experiments.unique_name("bench")
    raw = subprocess.Popen(
        [sys.executable, str(BENCH / "raw_subscriber.py"), server.url, channel],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if raw.stdout.readline().strip() != "ready":
            raise RuntimeError("the raw subscriber did not start")
        harness = experiments.pubsub_latency(server, count, RATE, PAYLOAD, channel=channel)
        with redis.Redis.from_url(server.url) as client:
            client.publish(channel, "stop")
        out, _ = raw.communicate(timeout=30)
    finally:
        if raw.poll() is None:
            raw.kill()
            raw.wait()
    return [ns / 1e9 for ns in harness.samples_ns], _raw_latencies(out)


def measure(server: EmbeddedRedis, repeats: int, count: int) -> tuple[list[Row], dict]:
    """One row: harness p50 / p99 against the raw loop's, and the ratio of the p50s."""
    figure = f"Pub/sub end-to-end latency p50 / p99 ({count} msgs at {RATE}/s × {repeats})"
    harness_runs, raw_runs = [], []
    for _ in range(repeats):
        harness, raw = _one_repeat(server, count)
        harness_runs.append(harness)
        raw_runs.append(raw)
    figures = {
        name: {
            "p50_s": [percentile(run, 50) for run in runs],
            "p99_s": [percentile(run, 99) for run in runs],
            "received": [len(run) for run in runs],
        }
        for name, runs in (("harness", harness_runs), ("raw", raw_runs))
    }
    ratios = [
        a / b for a, b in zip(figures["harness"]["p50_s"], figures["raw"]["p50_s"], strict=True)
    ]
    figures["ratio_p50"] = ratios
    harness, raw = figures["harness"], figures["raw"]
    shown = f"{median(ratios):.2f}×"
    row = Row(
        figure=figure,
        pack=f"harness: {us(median(harness['p50_s']))} / {us(median(harness['p99_s']))}",
        peer=f"raw listen() loop: {us(median(raw['p50_s']))} / {us(median(raw['p99_s']))}",
        ratio=f"p50 {shown} the raw loop's" + spread(ratios),
        target=f"≤ {RATIO_TARGET}×",
        verdict=verdict(median(ratios) <= RATIO_TARGET, shown, f"≤ {RATIO_TARGET}×"),
        data=figures,
    )
    lost = sum(count - n for n in harness["received"] + raw["received"])
    if lost:
        row.verdict += f"; {lost} messages not heard in time"
    pooled = {
        "harness (thread beside the publisher)": [x for run in harness_runs for x in run],
        "raw listen() loop, own process": [x for run in raw_runs for x in run],
    }
    return [row], pooled
