"""Figures for notebooks 05 and 06, drawn from the plain data of `helpers.experiments`.

Each function returns a matplotlib `Figure` that no pyplot state holds on to: a
notebook shows it by ending a cell with the call, a test saves it with `savefig`.
Axes carry units; titles state the result measured, not just what is plotted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.pylabtools import select_figure_formats
from matplotlib.figure import Figure

from helpers.experiments.results import LatencyResult, LossResult
from helpers.language import N_, _

if InteractiveShell.initialized():
    # These figures belong to no pyplot backend: tell IPython to show any Figure as a PNG.
    select_figure_formats(InteractiveShell.instance(), {"png"}, bbox_inches="tight")

SAME_PROCESS = N_("publisher and subscriber are threads of this kernel")
COLORS = {"sent": "#9e9e9e", "zero": "#ef6c00", "failed": "#c62828", "got": "#1565c0"}


def _us(result: LatencyResult) -> np.ndarray:
    return np.asarray(result.samples_ns, dtype=float) / 1000


def _log_bins(values: np.ndarray, count: int = 60) -> np.ndarray:
    low, high = max(values.min(), 1.0), max(values.max(), 2.0)
    return np.logspace(np.log10(low), np.log10(high * 1.01), count)


def _mark_percentiles(ax, result: LatencyResult) -> None:
    for q, style in ((50, "-"), (99, "--")):
        value = result.percentile(q)
        ax.axvline(value, color="black", linestyle=style, linewidth=1)
        ax.annotate(
            f" p{q} {value:.0f} µs",
            (value, 1),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
            rotation=90,
        )


def latency(result: LatencyResult, note: str = SAME_PROCESS) -> Figure:
    """Histogram and CDF of one run's latencies, log scale, with p50 and p99 marked."""
    values = _us(result)
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    hist, cdf = fig.subplots(1, 2)
    hist.hist(values, bins=_log_bins(values), color=COLORS["got"])
    hist.set(xscale="log", xlabel=_("latency (µs, log scale)"), ylabel=_("messages"))
    hist.set_title(_("how many messages took how long"), fontsize=10)
    ordered = np.sort(values)
    cdf.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), color=COLORS["got"])
    cdf.set(xscale="log", xlabel=_("latency (µs, log scale)"), ylabel=_("fraction of messages ≤ x"))
    cdf.set_title(_("cumulative: read off any percentile"), fontsize=10)
    cdf.grid(alpha=0.3)
    for ax in (hist, cdf):
        _mark_percentiles(ax, result)
    fig.suptitle(
        _(
            "{label}: p50 {p50:.0f} µs, p99 {p99:.0f} µs ({received} of {sent} messages; {note})"
        ).format(**result.summary(), note=_(note)),
        fontsize=11,
    )
    return fig


def compare(results: Sequence[LatencyResult], title: str | None = None) -> Figure:
    """The CDFs of several runs on one axis, to compare like with like from the same run."""
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    for result in results:
        ordered = np.sort(_us(result))
        ax.plot(
            ordered,
            np.arange(1, len(ordered) + 1) / len(ordered),
            label=f"{result.label}: p50 {result.p50_us:.0f} µs, p99 {result.p99_us:.0f} µs",
        )
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xscale="log", xlabel=_("latency (µs, log scale)"), ylabel=_("fraction of messages ≤ x"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fastest = min(results, key=lambda r: r.p50_us)
    slowest = max(results, key=lambda r: r.p50_us)
    ratio = slowest.p50_us / fastest.p50_us
    headline = _("p50 of {slow} is {ratio:.1f}× that of {fast}").format(
        slow=slowest.label, ratio=ratio, fast=fastest.label
    )
    ax.set_title(title or headline, fontsize=10)
    return fig


def sweep(results: Sequence[LatencyResult], by: str = "rate") -> Figure:
    """p50 and p99 against the achieved publish rate (by="rate") or message size ("payload")."""
    if by not in ("rate", "payload"):
        raise ValueError(_('by must be "rate" or "payload", not {by!r}').format(by=by))
    xs = [r.achieved_rate if by == "rate" else r.payload for r in results]
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    p50 = [r.p50_us for r in results]
    p99 = [r.p99_us for r in results]
    ax.plot(xs, p50, "o-", label=_("p50 (median)"), color=COLORS["got"])
    ax.plot(xs, p99, "s--", label="p99", color=COLORS["zero"])
    if by == "rate":
        xlabel, what = _("achieved publish rate (msg/s), log scale"), _("publish rate")
    else:
        xlabel, what = _("message size (bytes), log scale"), _("message size")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=_("latency (µs, log)"))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    title = _(
        "Pub/sub latency vs {what}: p50 {p50_low:.0f}-{p50_high:.0f} µs, "
        "p99 {p99_low:.0f}-{p99_high:.0f} µs"
    ).format(what=what, p50_low=min(p50), p50_high=max(p50), p99_low=min(p99), p99_high=max(p99))
    ax.set_title(title, fontsize=10)
    return fig


def _headline(result: LossResult) -> str:
    c = result.counts()
    text = _("{name} ({transport}): {lost} of {published} lost").format(
        name=result.name, transport=result.transport, lost=c["lost"], published=c["published"]
    )
    if c["lost"] and result.transport == "pub/sub":
        parts = []
        if c["returned 0"]:
            parts.append(_("{count} PUBLISH returned 0").format(count=c["returned 0"]))
        if c["failed (error)"]:
            parts.append(_("{count} PUBLISH failed").format(count=c["failed (error)"]))
        if c["lost though counted as delivered"]:
            count = c["lost though counted as delivered"]
            parts.append(_("{count} counted as delivered").format(count=count))
        text += " (" + ", ".join(parts) + ")"
    if c["duplicates"]:
        text += _(", {count} delivered twice").format(count=c["duplicates"])
    return text


def _mark_events(ax, events: list[tuple[float, str]]) -> None:
    """A dotted line at each event, its label on a row of its own from the top down."""
    low, high = ax.get_xlim()
    for row, (x, text) in enumerate(sorted(events)):
        ax.axvline(x, color="black", linewidth=0.8, linestyle=":")
        right_half = x > low + 0.6 * (high - low)
        ax.annotate(
            f"{text} " if right_half else f" {text}",
            (x, 0.96 - 0.08 * row),
            xycoords=("data", "axes fraction"),
            ha="right" if right_half else "left",
            va="top",
            fontsize=8,
            backgroundcolor=(1, 1, 1, 0.8),
        )


def timeline(result: LossResult, ax=None) -> Figure | None:
    """Sequence number against time: sent, received, lost ranges shaded, events marked."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax = fig.subplots()
    groups = {
        "sent": [p for p in result.published if p.receivers],
        "zero": [p for p in result.published if p.receivers == 0],
        "failed": [p for p in result.published if p.receivers is None],
    }
    labels = {
        "sent": _("sent") if result.transport == "stream" else _("sent, PUBLISH ≥ 1"),
        "zero": _("sent, PUBLISH returned 0"),
        "failed": _("send failed (error)"),
    }
    for key, items in groups.items():
        if items:
            ax.scatter(
                [result.seconds(p.sent_ns) for p in items],
                [p.seq for p in items],
                s=6 if key == "sent" else 10,
                marker="o" if key == "sent" else "x",
                color=COLORS[key],
                label=f"{labels[key]} ({len(items)})",
                linewidths=0.8,
            )
    ax.scatter(
        [result.seconds(a.received_ns) for a in result.arrivals],
        [a.seq for a in result.arrivals],
        s=2,
        color=COLORS["got"],
        label=_("received ({count})").format(count=len(result.arrivals)),
    )
    for index, (first, last) in enumerate(result.gaps):
        ax.axhspan(
            first - 0.5,
            last + 0.5,
            color="red",
            alpha=0.15,
            label=_("lost ({count})").format(count=len(result.lost)) if index == 0 else None,
        )
    _mark_events(ax, [(result.seconds(when), text) for when, text in result.events])
    ax.set(xlabel=_("time since start (s)"), ylabel=_("sequence number"))
    ax.legend(fontsize=8, loc="lower right", markerscale=2)
    ax.set_title(_headline(result), fontsize=10)
    return fig


def timelines(results: Sequence[LossResult]) -> Figure:
    """Several timelines side by side, two to a row."""
    rows = (len(results) + 1) // 2
    fig = Figure(figsize=(13, 3.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 2)).ravel()
    for ax, result in zip(axes, results, strict=False):
        timeline(result, ax)
    for ax in axes[len(results) :]:
        ax.set_visible(False)
    return fig


def bus_cost(costs: dict[int, dict[str, float]]) -> Figure:
    """Cluster-bus messages per published message against the number of nodes (notebook 07).

    `costs` maps a node count to {command: bus messages per message}, as
    `cluster.bus_cost` measures them: counts, so the figure is the same on any machine.
    """
    fig = Figure(figsize=(7, 3.8), layout="constrained")
    ax = fig.subplots()
    nodes = sorted(costs)
    styles = {"PUBLISH": ("o-", COLORS["failed"]), "SPUBLISH": ("s--", COLORS["got"])}
    for command, (style, color) in styles.items():
        values = [costs[n][command] for n in nodes]
        label = _("classic PUBLISH") if command == "PUBLISH" else _("sharded SPUBLISH")
        ax.plot(nodes, values, style, color=color, label=label)
        above = command == "PUBLISH"
        for n, value in zip(nodes, values, strict=True):
            ax.annotate(f"{value:g}", (n, value), textcoords="offset points",
                        xytext=(-8, 6) if above else (8, -12), ha="center", fontsize=8,
                        color=color)  # fmt: skip
    ax.set(xlabel=_("nodes in the cluster"), ylabel=_("bus messages per published message"))
    ax.set_xticks(nodes)
    ax.set_ylim(-1, max(max(c.values()) for c in costs.values()) * 1.15 + 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    largest = nodes[-1]
    title = _(
        "One PUBLISH costs {publish:g} bus messages on {nodes} nodes, one SPUBLISH {spublish:g}"
    ).format(publish=costs[largest]["PUBLISH"], nodes=largest, spublish=costs[largest]["SPUBLISH"])
    ax.set_title(title, fontsize=10)
    return fig


def failover(result: LossResult) -> Figure:
    """The timeline of a failover run (notebook 07), the time without a master shaded.

    `result.settings` holds `killed_ns` and `took_over_ns`, as `cluster.failover_result`
    records them.
    """
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    timeline(result, ax)
    down = result.settings["failover_s"]
    ax.axvspan(
        result.seconds(result.settings["killed_ns"]),
        result.seconds(result.settings["took_over_ns"]),
        color=COLORS["zero"],
        alpha=0.12,
        label=_("no master for the slot ({seconds:.1f} s)").format(seconds=down),
    )
    for artist in ax.collections:  # the sharded command is SPUBLISH
        artist.set_label(artist.get_label().replace(" PUBLISH", " SPUBLISH"))
    ax.legend(fontsize=8, loc="lower right", markerscale=2)
    c = result.counts()
    first, last = result.gaps[0] if len(result.gaps) == 1 else (None, None)
    if first is not None:
        where = _("seq {first}-{last}, one range").format(first=first, last=last)
    else:
        where = _("{count} ranges").format(count=len(result.gaps))
    title = _(
        "Master killed: {lost} of {published} messages lost ({where}); "
        "{failed} SPUBLISH failed, {zero} reached no subscriber"
    ).format(
        lost=c["lost"],
        published=c["published"],
        where=where,
        failed=c["failed (error)"],
        zero=c["returned 0"],
    )
    ax.set_title(title, fontsize=10)
    return fig
