"""What an experiment returns: plain records and their summaries, no Redis and no threads.

`LatencyResult` holds latency samples; `LossResult` holds what was published and what
arrived, and counts the loss exactly. `lost()` and `gaps()` are that arithmetic as plain
functions on sequence numbers, so assignment 3's checks use the very same definition.
"""

from __future__ import annotations

# What `helpers.experiments` offers from this module (its __init__ imports them all).
__all__ = [
    "Arrival",
    "LatencyResult",
    "LossResult",
    "Published",
    "gaps",
    "lost",
]

from collections.abc import Iterable
from dataclasses import dataclass, field

from helpers.language import N_, _


def lost(sent: Iterable[int], received: Iterable[int]) -> list[int]:
    """The sequence numbers in `sent` that are not in `received`, in order, each once."""
    return sorted(set(sent) - set(received))


def gaps(lost_seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Lost sequence numbers (any order, repeats allowed) as contiguous (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(lost_seqs)):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


@dataclass
class LatencyResult:
    """Latency samples of one run, in ns, in the order the messages were sent."""

    label: str
    samples_ns: list[int] = field(repr=False)
    sent: int
    seconds: float
    rate: float | None = field(default=None, kw_only=True)
    payload: int = field(default=0, kw_only=True)
    seqs: list[int] = field(default_factory=list, repr=False, kw_only=True)

    @property
    def received(self) -> int:
        return len(self.samples_ns)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile in microseconds."""
        import numpy as np  # here, not at the top: the checks use lost() without numpy

        if not self.samples_ns:
            raise ValueError(f"{self.label}: no samples, so no percentiles")
        return float(np.percentile(np.asarray(self.samples_ns), q)) / 1000

    @property
    def p50_us(self) -> float:
        return self.percentile(50)

    @property
    def p99_us(self) -> float:
        return self.percentile(99)

    @property
    def max_us(self) -> float:
        return max(self.samples_ns) / 1000

    def summary(self) -> dict[str, object]:
        """The figures a printout or a figure title states, by the names their texts use."""
        return {
            "label": self.label,
            "received": self.received,
            "sent": self.sent,
            "p50": self.p50_us,
            "p99": self.p99_us,
            "max": self.max_us,
            "rate": self.achieved_rate,
        }

    def __str__(self) -> str:
        return _(
            "{label}: {received} of {sent} samples, "
            "p50 {p50:.0f} µs, p99 {p99:.0f} µs, max {max:.0f} µs ({rate:.0f} per s)"
        ).format(**self.summary())


@dataclass(frozen=True)
class Published:
    """One publish attempt: `receivers` is what PUBLISH returned, None if the call failed."""

    seq: int
    sent_ns: int
    receivers: int | None


@dataclass(frozen=True)
class Arrival:
    """One message as the subscriber or consumer got it."""

    seq: int
    sent_ns: int
    received_ns: int


@dataclass
class LossResult:
    """What was published and what arrived in one fault experiment, with exact counts.

    Times are `perf_counter_ns()` values; `start_ns` is the experiment's zero.
    `events` are (time, what happened) marks for the timeline.
    """

    name: str
    transport: str
    published: list[Published]
    arrivals: list[Arrival]
    start_ns: int
    events: list[tuple[int, str]] = field(default_factory=list, kw_only=True)
    error: str | None = field(default=None, kw_only=True)
    settings: dict[str, object] = field(default_factory=dict, kw_only=True)

    @property
    def received_seqs(self) -> set[int]:
        return {a.seq for a in self.arrivals}

    @property
    def lost(self) -> list[int]:
        """Sequence numbers the publisher tried to send that never arrived, in order."""
        return lost((p.seq for p in self.published), self.received_seqs)

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """The lost sequence numbers as contiguous (first, last) ranges."""
        return gaps(self.lost)

    @property
    def duplicates(self) -> int:
        """Messages that arrived more than once (at-least-once delivery can repeat)."""
        return len(self.arrivals) - len(self.received_seqs)

    def _final_attempts(self) -> dict[int, Published]:
        """The last publish attempt of each seq (a producer may retry a failed one)."""
        return {p.seq: p for p in self.published}

    def counts(self) -> dict[str, int]:
        """The exact tally: attempts, arrivals, and the lost split by what the send returned."""
        final = self._final_attempts()
        lost_seqs = self.lost
        tally = {  # the keys stay English (code reads them); N_: __str__ shows them translated
            N_("published"): len(final),
            N_("received"): len(self.received_seqs),
            N_("lost"): len(lost_seqs),
            N_("returned 0"): sum(1 for p in final.values() if p.receivers == 0),
            N_("failed (error)"): sum(1 for p in final.values() if p.receivers is None),
            N_("sent again after an error"): sum(
                1 for p in self.published if p.receivers is None and final[p.seq].receivers
            ),
            N_("lost though counted as delivered"): sum(
                1 for seq in lost_seqs if (final[seq].receivers or 0) > 0
            ),
            N_("duplicates"): self.duplicates,
            N_("gaps"): len(self.gaps),
        }
        if self.transport == "stream":  # XADD counts no receivers: say what it did say
            renamed = {"lost though counted as delivered": N_("lost though XADD succeeded")}
            tally = {renamed.get(k, k): v for k, v in tally.items() if k != "returned 0"}
        return tally

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.start_ns) / 1e9

    def __str__(self) -> str:
        counts = [(_(key), value) for key, value in self.counts().items()]
        notes = []
        if self.gaps:
            shown = ", ".join(f"{a}-{b}" for a, b in self.gaps[:5])
            if len(self.gaps) > 5:
                shown += _(" and {count} more").format(count=len(self.gaps) - 5)
            notes.append((_("lost ranges (seq)"), shown))
        if self.error:
            notes.append((_("error seen by the subscriber"), self.error))
        width = max(34, *(len(name) for name, _value in counts + notes))
        lines = [f"{self.name} ({self.transport})"]
        lines += [f"  {name:{width}} {value:>6}" for name, value in counts]
        lines += [f"  {name:{width}} {value}" for name, value in notes]
        return "\n".join(lines)
