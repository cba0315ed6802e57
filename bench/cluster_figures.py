"""Cluster figures: what notebook 07 measures, repeated. How long a local Redis Cluster takes
to be ready, how long a killed master's slots have no owner, what that failover loses (one
contiguous range of sharded pub/sub messages; stream entries WAIT did not confirm), and the
cluster-bus messages one PUBLISH and one SPUBLISH cost against the node count.

Times swing with the machine's load; the counts (bus messages, lost ranges) do not.
"""

from __future__ import annotations

from report import Row, median

from helpers import background, cluster

RATE = 500  # messages per second, as in the notebook
CHANNEL = "orders:live"  # the notebook's sharded channel and stream, on two shards
STREAM = "orders:log"


def _range(result) -> str:
    """The lost sequence numbers as the notebook shows them: one range, or how many."""
    if len(result.gaps) == 1:
        first, last = result.gaps[0]
        return f"{last - first + 1} (seq {first}-{last})"
    return f"{len(result.lost)} in {len(result.gaps)} ranges"


def failovers(repeats: int, count: int) -> list[Row]:
    """Start a 3 x (master + replica) cluster, kill the channel's master under load, then the
    stream's master with its replica cut off, `repeats` times."""
    starts, downs, lost, contiguous, streams = [], [], [], 0, []
    server = ""
    for _ in range(repeats):
        cl = cluster.start(3, 1, name="bench-cluster")
        server = cl.server
        try:
            starts.append(cl.ready_seconds)
            result = cluster.pubsub_failover(cl, CHANNEL, count=count, rate=RATE, kill_at=RATE // 2)
            downs.append(result.settings["failover_s"])
            lost.append(_range(result))
            contiguous += len(result.gaps) == 1
            streams.append(cluster.stream_failover(cl, STREAM))
        finally:
            background.stop("bench-cluster")
    acked_lost = [len(s.lost) for s in streams]
    confirmed_lost = sum(len(s.lost_confirmed) for s in streams)
    confirmed = sum(len(s.confirmed) for s in streams)
    return [
        Row(
            figure=f"Redis Cluster start, 3 masters + 3 replicas, to ready (median of {repeats})",
            pack=f"{median(starts):.1f} s",
            verdict="no target; about 2 s of it is a delay inside Redis",
            data={"seconds": starts, "server": server},
        ),
        Row(
            figure=f"Failover: a master killed under {RATE} SPUBLISH/s, until the new master "
            f"accepted one (median of {repeats})",
            pack=f"{median(downs):.1f} s (cluster-node-timeout {cluster.NODE_TIMEOUT_MS} ms)",
            verdict="no target",
            data={"seconds": downs},
        ),
        Row(
            figure=f"Failover: sharded pub/sub messages lost, of {count} (each repeat)",
            pack=", ".join(lost),
            target="one contiguous range",
            verdict=f"{contiguous} of {repeats} repeats lost one contiguous range",
            data={"lost": lost},
        ),
        Row(
            figure="Failover: stream entries lost, the replica cut off for 2 of 4 batches",
            pack=f"acknowledged: {', '.join(map(str, acked_lost))}; confirmed by WAIT: "
            f"{confirmed_lost} of {confirmed}",
            target="none that WAIT confirmed",
            verdict="met" if confirmed and not confirmed_lost else "**MISSED**",
            data={"acked_lost": acked_lost, "confirmed_lost": confirmed_lost},
        ),
    ]


def bus_cost(sizes: list[int]) -> list[Row]:
    """Bus messages per PUBLISH and per SPUBLISH on clusters of `sizes` masters, 1 replica each."""
    clusters = cluster.start_each(sizes, replicas=1, name="bench-sweep")
    try:
        costs = {len(c.nodes): cluster.bus_cost(c) for c in clusters.values()}
    finally:
        for each in clusters.values():
            background.stop(each.name)
    shown = "; ".join(
        f"{nodes} nodes: {cost['PUBLISH']:g} / {cost['SPUBLISH']:g}"
        for nodes, cost in sorted(costs.items())
    )
    grows = [costs[n]["PUBLISH"] for n in sorted(costs)]
    return [
        Row(
            figure="Cluster-bus messages per PUBLISH / per SPUBLISH, by node count",
            pack=shown,
            target="PUBLISH grows, SPUBLISH does not",
            verdict="met"
            if grows == sorted(set(grows)) and len({c["SPUBLISH"] for c in costs.values()}) == 1
            else "**MISSED**",
            data={str(nodes): cost for nodes, cost in costs.items()},
        )
    ]


def measure(repeats: int, count: int, sizes: list[int]) -> tuple[list[Row], dict]:
    """Every cluster row; a binary too old for a cluster is one row saying so."""
    try:
        cluster.binary()
    except cluster.ClusterUnavailable as error:
        reason = str(error).splitlines()[0]
        return [Row("Redis Cluster (notebook 07)", f"skipped: {reason}", verdict="skipped")], {}
    return failovers(repeats, count) + bus_cost(sizes), {}
