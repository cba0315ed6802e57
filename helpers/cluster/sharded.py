"""Pub/sub across a cluster: what each message costs the cluster bus, and a sharded subscriber.

Classic PUBLISH reaches every node over the bus; SPUBLISH stays inside the channel's
shard. `ShardSubscriber` is the notebook's SSUBSCRIBE loop, hardened to follow its
channel's slot through a failover.
"""

from __future__ import annotations

import contextlib
import threading
import time

import redis

from helpers import background
from helpers.cluster.core import Cluster
from helpers.cluster.nodes import ClusterError, Node
from helpers.experiments import Arrival, parse
from helpers.language import _


def bus_sent(cluster: Cluster, kind: str = "publish") -> int:
    """Cluster-bus messages of one type (`publish`, `publishshard`) sent so far, all nodes."""
    field_name = f"cluster_stats_messages_{kind}_sent"
    total = 0
    for node in cluster.live_nodes():
        with node.client() as client:
            total += int(client.cluster("info").get(field_name, 0))
    return total


def bus_cost(cluster: Cluster, *, count: int = 100, channel: str = "news") -> dict[str, float]:
    """Bus messages per published message: PUBLISH on one node, SPUBLISH on the channel's owner.

    Counts, not times: the same on any machine. Nobody needs to subscribe.
    """
    cost = {}
    for command, kind, node in [
        ("PUBLISH", "publish", cluster.live_nodes()[0]),
        ("SPUBLISH", "publishshard", cluster.owner(channel)),
    ]:
        before = bus_sent(cluster, kind)
        with node.client() as client, client.pipeline(transaction=False) as pipe:
            for seq in range(count):  # one round trip: the count does not depend on timing
                pipe.execute_command(command, channel, seq)
            pipe.execute()
        cost[command] = (bus_sent(cluster, kind) - before) / count
    return cost


class ShardSubscriber(background.Worker):
    """A sharded subscriber that follows its channel's slot, recording what arrives.

    The notebook's SSUBSCRIBE loop, hardened: SSUBSCRIBE on the master that owns the
    channel's slot; when that connection drops (the master died) or the server ends the
    subscription (the slot moved), note it, find the slot's owner now and SSUBSCRIBE
    there. What is published in between is gone: pub/sub keeps nothing.
    """

    def __init__(self, cluster: Cluster, channel: str, *, name: str = "shard-subscriber") -> None:
        super().__init__(f"{name} ({channel})")
        self.cluster = cluster
        self.channel = channel
        self.received: list[tuple[str, int]] = []  # (data, perf_counter_ns on arrival)
        self.events: list[tuple[int, str]] = []  # (perf_counter_ns, what happened)
        self.subscribed = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen(self.cluster.owner(self.channel))
            except (redis.RedisError, ClusterError, OSError):
                self.stopping.wait(0.02)  # no reachable owner yet: a failover is under way

    def _listen(self, node: Node) -> None:
        client = node.client(socket_timeout=None)
        pubsub = client.pubsub()
        try:
            pubsub.ssubscribe(self.channel)
            while not self.stopping.is_set():
                try:
                    item = pubsub.get_message(timeout=0.1)
                except (redis.ConnectionError, OSError):
                    self._note(_("subscriber dropped (:{port} gone)").format(port=node.port))
                    raise
                if item is None:
                    continue
                if item["type"] == "smessage":
                    self.received.append((item["data"], time.perf_counter_ns()))
                elif item["type"] == "ssubscribe":
                    self._note(_("SSUBSCRIBE on :{port}").format(port=node.port))
                    self.subscribed.set()
                elif item["type"] == "sunsubscribe":  # the server moved the slot away
                    self._note(_("unsubscribed by :{port}").format(port=node.port))
                    return
        finally:
            with contextlib.suppress(redis.RedisError, OSError):
                pubsub.close()
            client.close()

    def _note(self, what: str) -> None:
        self.events.append((time.perf_counter_ns(), what))

    def arrivals(self) -> list[Arrival]:
        """What arrived, as numbered messages built by `experiments.message`."""
        return [Arrival(*parse(data), received) for data, received in self.received]

    def describe(self) -> str:
        return f"{self.channel!r}, {len(self.received)} received"


def follow(cluster: Cluster, channel: str, *, name: str = "shard-subscriber") -> ShardSubscriber:
    """Start a `ShardSubscriber` registered as `name`; return once its SSUBSCRIBE is confirmed."""
    subscriber = background.replace(
        name, lambda: ShardSubscriber(cluster, channel, name=name).start()
    )
    if not subscriber.subscribed.wait(5):
        background.stop(name)
        raise ClusterError(
            _("SSUBSCRIBE {channel!r} was not confirmed within 5 s").format(channel=channel)
        )
    return subscriber
