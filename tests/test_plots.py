"""Every plot kind, drawn from real experiment results and saved to test-output/ to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import experiments, plots
from helpers.redis_server import EmbeddedRedis


def texts(fig) -> str:
    """Every title and axis label of a figure, to check that units and results are stated."""
    found = [fig.get_suptitle()]
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    return " | ".join(found)


def test_latency_plots(private_redis: EmbeddedRedis, output_dir: Path) -> None:
    ping = experiments.ping_latency(private_redis, count=200)  # a URL or the server itself
    pubsub = experiments.pubsub_latency(private_redis.url, count=300, rate=2000)
    sweep = experiments.rate_sweep(private_redis.url, [500, 2000], seconds=0.1)

    fig = plots.latency(pubsub)
    assert f"p50 {pubsub.p50_us:.0f} µs" in texts(fig) and "(µs" in texts(fig)
    fig.savefig(output_dir / "plot-latency.png")

    fig = plots.compare([ping, pubsub])
    assert "×" in texts(fig) and len(fig.axes[0].get_lines()) >= 2
    fig.savefig(output_dir / "plot-compare.png")

    fig = plots.sweep(sweep, by="rate")
    assert "msg/s" in texts(fig) and "µs" in texts(fig)
    fig.savefig(output_dir / "plot-sweep.png")


def test_timeline_shades_the_lost_range(private_redis: EmbeddedRedis, output_dir: Path) -> None:
    result = experiments.late_subscriber(private_redis.url, before=30, after=30, rate=2000)
    fig = plots.timeline(result)
    title = texts(fig)
    assert "30 of 60 lost" in title and "30 PUBLISH returned 0" in title
    assert "sequence number" in title and "(s)" in title
    shaded = [p for p in fig.axes[0].patches if p.get_label().startswith("lost")]
    assert shaded, "the lost range is not shaded"
    fig.savefig(output_dir / "plot-timeline.png")

    both = plots.timelines([result, result, result])
    assert sum(ax.get_visible() for ax in both.axes) == 3


def test_sweep_rejects_an_unknown_axis() -> None:
    with pytest.raises(ValueError, match="rate"):
        plots.sweep([], by="colour")
