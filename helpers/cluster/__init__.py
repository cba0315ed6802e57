"""A real Redis Cluster on this machine, started from a notebook cell.

Notebook 07 measures what classic pub/sub costs as a cluster grows, shows sharded
pub/sub, and kills a master to see what a failover loses. That needs several
server processes wired into a cluster, started and stopped as reliably as the
kernel's own embedded server:

- every node on free 127.0.0.1 ports, with its own temporary directory and no
  persistence, from the same binary as the embedded server (Redis >= 7 or Valkey);
- the cluster built with `CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET` and `CLUSTER REPLICATE`
  from redis-py (no `redis-cli --cluster`);
- registered in `helpers.background`, so a re-run replaces the cluster and kernel exit
  stops every node; nodes left by a killed kernel are reaped at the next start;
- always local and private, whatever REDIS_URL says.

The lesson's commands (`CLUSTER INFO`, `SSUBSCRIBE`, the publish loop, the kill) stay
in the notebook. Here is the plumbing, and the hardened versions of the notebook's
loops that the tests and `make bench` run, one file per job:

- `server_binary`: which server binary the nodes run, and why an old one will not do;
- `nodes`: one node's process, and the nodes a killed kernel left behind;
- `core`: the `Cluster`, built, waited for, looked at and stopped;
- `launch`: `start` and `start_each`, which replace a cluster of the same name;
- `sharded`: what PUBLISH and SPUBLISH cost the bus, and the `ShardSubscriber`;
- `failover`: kill a master, and count what pub/sub and a stream lost.
"""

from helpers.cluster.core import READY_TIMEOUT, SLOTS, Cluster, Shard
from helpers.cluster.failover import (
    StreamFailover,
    failover_result,
    pubsub_failover,
    stream_failover,
)
from helpers.cluster.launch import start, start_each
from helpers.cluster.nodes import NODE_TIMEOUT_MS, ClusterError, Node, reap_orphans, state_dir
from helpers.cluster.server_binary import (
    FIXES,
    MIN_VERSION,
    ClusterUnavailable,
    binary,
    binary_version,
    check_binary,
    requirements,
)
from helpers.cluster.sharded import ShardSubscriber, bus_cost, bus_sent, follow

__all__ = [
    "FIXES",
    "MIN_VERSION",
    "NODE_TIMEOUT_MS",
    "READY_TIMEOUT",
    "SLOTS",
    "Cluster",
    "ClusterError",
    "ClusterUnavailable",
    "Node",
    "Shard",
    "ShardSubscriber",
    "StreamFailover",
    "binary",
    "binary_version",
    "bus_cost",
    "bus_sent",
    "check_binary",
    "failover_result",
    "follow",
    "pubsub_failover",
    "reap_orphans",
    "requirements",
    "start",
    "start_each",
    "state_dir",
    "stream_failover",
]
