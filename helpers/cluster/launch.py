"""Starting clusters from a cell: a re-run replaces the cluster of the same name.

Several sizes start side by side, which takes as long as one: most of a start is a
delay inside Redis, not work.
"""

from __future__ import annotations

from collections.abc import Iterable

from helpers import background
from helpers.cluster.core import Cluster
from helpers.cluster.nodes import NODE_TIMEOUT_MS


def start(
    masters: int = 3,
    replicas: int = 1,
    *,
    name: str = "cluster",
    node_timeout_ms: int = NODE_TIMEOUT_MS,
) -> Cluster:
    """Start a cluster of `masters` shards with `replicas` each, replacing one of that name."""

    def started() -> Cluster:
        return _start_together(
            [Cluster(masters, replicas, name=name, node_timeout_ms=node_timeout_ms)]
        )[0]

    return background.replace(name, started)


def start_each(
    sizes: Iterable[int],
    *,
    replicas: int = 0,
    name: str = "cluster",
    node_timeout_ms: int = NODE_TIMEOUT_MS,
) -> dict[int, Cluster]:
    """Start one cluster per number of masters, side by side: together they take as long as one
    (~2 s, a delay inside Redis). Registered as `name`, or `name-<size>` for several sizes."""
    sizes = list(sizes)
    if len(sizes) == 1:
        return {sizes[0]: start(sizes[0], replicas, name=name, node_timeout_ms=node_timeout_ms)}
    names = [f"{name}-{size}" for size in sizes]
    for each in names:  # all of them down before the new ones start, side by side
        background.stop(each)
    clusters = [
        Cluster(size, replicas, name=each, node_timeout_ms=node_timeout_ms)
        for size, each in zip(sizes, names, strict=True)
    ]
    for cluster in _start_together(clusters):
        background.register(cluster.name, cluster)
    return {cluster.masters_wanted: cluster for cluster in clusters}


def _start_together(clusters: list[Cluster]) -> list[Cluster]:
    """Spawn, build and wait for every cluster, each step for all at once; stop all on failure."""
    try:
        for cluster in clusters:
            cluster.spawn()
        for cluster in clusters:
            cluster.build()
        for cluster in clusters:
            cluster.wait_ready()
    except BaseException:
        for cluster in clusters:
            cluster.stop()
        raise
    return clusters
