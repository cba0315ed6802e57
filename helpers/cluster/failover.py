"""Kill a master and see what a failover loses: pub/sub messages, and acknowledged writes.

The notebook's publish loop and stream cells as functions, for the tests and `make bench`,
and the records they return.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

import redis

from helpers import background
from helpers.cluster.core import Cluster
from helpers.cluster.nodes import ClusterError
from helpers.cluster.sharded import ShardSubscriber, follow
from helpers.experiments import LossResult, Published, message, paced
from helpers.language import _


def failover_result(
    published: list[Published], subscriber: ShardSubscriber, events: list[tuple[int, str]]
) -> LossResult:
    """The loss record of a failover run: what was published, what the subscriber got, when.

    `events` holds the kill, first. Adds when the first SPUBLISH after it succeeded (the
    new master took over) and keeps the failover time in `settings["failover_s"]`.
    """
    if not subscriber.running:
        raise ClusterError(
            _(
                "The subscriber was stopped after an earlier run: run the cells again from the "
                "one that picks the master and starts the subscriber (`cl.master_and_replica`)."
            )
        )
    if not events:
        raise ClusterError(_("Nothing was killed: the loop ended before KILL_AT. Lower KILL_AT."))
    killed_ns = events[0][0]
    after = [p for p in published if p.sent_ns > killed_ns and p.receivers is not None]
    if not after:
        raise ClusterError(
            _(
                "No SPUBLISH succeeded after the kill: the replica had not taken over when the "
                "loop ended. Publish for longer (a larger COUNT) and run the cluster cell again."
            )
        )
    time.sleep(0.2)  # the last messages may still be on their way to the subscriber
    took_over = (after[0].sent_ns, _("first SPUBLISH accepted by the new master"))
    return LossResult(
        name=_("master killed"),
        transport="sharded pub/sub",
        published=published,
        arrivals=subscriber.arrivals(),
        start_ns=published[0].sent_ns,
        events=[*events, took_over, *subscriber.events],
        settings={
            "failover_s": (took_over[0] - killed_ns) / 1e9,
            "killed_ns": killed_ns,
            "took_over_ns": took_over[0],
        },
    )


def pubsub_failover(
    cluster: Cluster, channel: str, *, count: int = 2000, rate: float = 500, kill_at: int = 250
) -> LossResult:
    """Publish `count` numbered messages on a sharded channel and kill its master midway.

    The notebook's publish loop as a function, for the tests and `make bench`.
    """
    master, _replica = cluster.master_and_replica(channel)
    name = f"{cluster.name}-failover-subscriber"
    subscriber = follow(cluster, channel, name=name)
    publisher = cluster.client(retries=0)
    published: list[Published] = []
    events = []
    try:
        for seq in paced(count, rate):
            if seq == kill_at:
                killed = _("master :{port} killed").format(port=master.port)
                os.kill(master.pid, signal.SIGKILL)
                events.append((time.perf_counter_ns(), killed))
            sent = time.perf_counter_ns()
            try:
                receivers = publisher.spublish(channel, message(seq, sent))
            except redis.RedisError:
                receivers = None
            published.append(Published(seq, sent, receivers))
        return failover_result(published, subscriber, events)
    finally:
        background.stop(name)
        publisher.close()


@dataclass
class StreamFailover:
    """Stream entries the old master acknowledged, those a WAIT confirmed, and what survived."""

    acked: list[int]
    confirmed: list[int]
    survived: set[int]
    failover_seconds: float | None = None  # from the kill to the replica answering as master
    wait_replies: list[int] = field(default_factory=list)  # WAIT's answer, batch by batch

    @property
    def lost(self) -> list[int]:
        return [seq for seq in self.acked if seq not in self.survived]

    @property
    def lost_confirmed(self) -> list[int]:
        return [seq for seq in self.confirmed if seq not in self.survived]

    def __str__(self) -> str:
        took = f" ({self.failover_seconds:.1f} s)" if self.failover_seconds is not None else ""
        lost = self.lost
        where = f" (seq {lost[0]}-{lost[-1]})" if lost else ""
        return _(
            "XADD acknowledged {acked} entries; WAIT confirmed {confirmed}.\n"
            "After the failover{took} the stream holds {survived}: "
            "{lost} acknowledged entries lost{where}, "
            "{lost_confirmed} of them confirmed by WAIT."
        ).format(
            acked=len(self.acked),
            confirmed=len(self.confirmed),
            took=took,
            survived=len(self.survived),
            lost=len(lost),
            where=where,
            lost_confirmed=len(self.lost_confirmed),
        )


def stream_failover(
    cluster: Cluster, stream: str, *, batches: int = 4, batch: int = 100, cut_at: int = 2
) -> StreamFailover:
    """Write batches to a stream with a WAIT after each; from batch `cut_at` on the replica
    is cut off (frozen with SIGSTOP, its link dropped); then the master is killed.

    The notebook's stream cells as a function, for the tests and `make bench`.
    """
    master, replica = cluster.master_and_replica(stream)
    acked: list[int] = []
    confirmed: list[int] = []
    replies = []
    with master.client() as writer:
        try:
            for number in range(batches):
                if number == cut_at:
                    os.kill(replica.pid, signal.SIGSTOP)
                    writer.client_kill_filter(_type="replica")
                seqs = range(number * batch, (number + 1) * batch)
                for seq in seqs:
                    writer.xadd(stream, {"seq": seq})
                acked += seqs
                replies.append(writer.wait(1, 100))
                if replies[-1] >= 1:
                    confirmed += seqs
            killed = time.perf_counter()
            os.kill(master.pid, signal.SIGKILL)
        finally:
            os.kill(replica.pid, signal.SIGCONT)
    new_master = cluster.wait_for_new_owner(stream, master)
    seconds = time.perf_counter() - killed
    with new_master.client() as reader:
        survived = {int(fields["seq"]) for _id, fields in reader.xrange(stream)}
    return StreamFailover(acked, confirmed, survived, seconds, replies)
