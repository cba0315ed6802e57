"""A Redis Cluster of nodes on 127.0.0.1: built, waited for, looked at, stopped.

Built with `CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET` and `CLUSTER REPLICATE` from redis-py
(no `redis-cli --cluster`), registered in `helpers.background` so a re-run replaces it
and kernel exit stops every node.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from helpers import server_process
from helpers.cluster.nodes import (
    NODE_TIMEOUT_MS,
    ClusterError,
    Node,
    reap_orphans,
    spawn_node,
    state_dir,
)
from helpers.cluster.server_binary import binary
from helpers.language import _

READY_TIMEOUT = 30.0  # seconds for the whole cluster to agree
SLOTS = 16384


@dataclass(frozen=True)
class Shard:
    """A slot range, the master that owns it, and its replicas, as the cluster sees it now."""

    slots: tuple[int, int]
    master: Node
    replicas: tuple[Node, ...]


class Cluster:
    """Nodes on 127.0.0.1 wired into one Redis Cluster; `stop()` removes every trace."""

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        name: str = "cluster",
        node_timeout_ms: int = NODE_TIMEOUT_MS,
    ) -> None:
        if masters < 1 or replicas < 0:
            raise ValueError(
                _("need masters >= 1 and replicas >= 0, not {masters} and {replicas}").format(
                    masters=masters, replicas=replicas
                )
            )
        self.path, self.server = binary()
        self.masters_wanted = masters
        self.replicas_wanted = replicas
        self.name = name
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[Node] = []
        self.folder: Path | None = None
        self.ready_seconds: float | None = None
        self._began = time.perf_counter()

    # -------------------------------------------------------------- start, stop

    def spawn(self) -> Cluster:
        """Start every node process, all at once, and wait until each answers."""
        reap_orphans()
        self._began = time.perf_counter()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=state_dir()))
        server_process.claim(self.folder)
        count = self.masters_wanted * (1 + self.replicas_wanted)
        self.nodes = [self._spawn(index) for index in range(count)]
        for index in range(count):
            self._wait_answers(index)
        return self

    def _spawn(self, index: int) -> Node:
        workdir = self.folder / f"node-{index}"
        return spawn_node(self.path, workdir, index=index, node_timeout_ms=self.node_timeout_ms)

    def _wait_answers(self, index: int, attempts: int = 5) -> None:
        """Wait for node `index` to answer; if its port was taken meanwhile, start it elsewhere."""
        for _attempt in range(attempts):
            node = self.nodes[index]
            if node.wait_answers():
                return
            node.terminate()
            node.reap()
            tail = node.log_tail()
            if "in use" not in tail:
                break
            self.nodes[index] = self._spawn(index)
        self.stop()
        raise ClusterError(
            _(
                "Cluster node {index} ({server}, port {port}) did not start. "
                "The end of its log:\n{tail}"
            ).format(index=index, server=self.server, port=node.port, tail=tail)
        )

    def build(self) -> Cluster:
        """Give each master its slot range, introduce every node, attach the replicas."""
        masters = self.nodes[: self.masters_wanted]
        for index, node in enumerate(masters):
            low = index * SLOTS // len(masters)
            high = (index + 1) * SLOTS // len(masters) - 1
            node.client().execute_command("CLUSTER ADDSLOTSRANGE", low, high)
        first = self.nodes[0].client()
        for node in self.nodes[1:]:
            # With the bus port: without it some versions answer "Invalid node address".
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port, node.bus_port)
        self._wait(self._all_known, _("every node to know every other"))
        for index, node in enumerate(self.nodes[self.masters_wanted :]):
            master_id = masters[index % len(masters)].client().execute_command("CLUSTER MYID")
            node.client().execute_command("CLUSTER REPLICATE", master_id)
        return self

    def wait_ready(self) -> Cluster:
        """Wait until every node says ok, every bus link is up and every replica is in sync.

        `cluster_state:ok` alone is not enough: a PUBLISH sent while bus links are still
        coming up can miss a node.
        """
        self._wait(self._ready, _("the cluster to be ready"))
        self.ready_seconds = time.perf_counter() - self._began
        return self

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not condition():
            dead = [node for node in self.nodes if not node.alive()]
            if dead or time.monotonic() > deadline:
                if dead:
                    problem = _("node {index} exited").format(index=dead[0].index)
                else:
                    problem = f"{READY_TIMEOUT:.0f} s"
                label = _("node {index}")
                tails = "\n".join(
                    f"{label.format(index=n.index)}: {n.log_tail(3)}" for n in dead or self.nodes
                )
                self.stop()
                raise ClusterError(
                    _("Waiting for {what}: {problem}.").format(what=what, problem=problem)
                    + "\n"
                    + tails
                )
            time.sleep(0.02)

    def _all_known(self) -> bool:
        """Every node knows every other by its real id (a handshake is still under way while a
        node is known only by a temporary one, and CLUSTER REPLICATE would not find it)."""
        for node in self.nodes:
            seen = node.client().cluster("nodes").values()
            known = [entry for entry in seen if "handshake" not in entry["flags"]]
            if len(known) != len(self.nodes) or len(seen) != len(self.nodes):
                return False
        return True

    def _ready(self) -> bool:
        replicas = self.masters_wanted * self.replicas_wanted
        for node in self.nodes:
            client = node.client()
            info = client.cluster("info")
            if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != len(self.nodes):
                return False
            seen = client.cluster("nodes").values()
            if not all(entry["connected"] for entry in seen):
                return False
            if sum("slave" in entry["flags"] for entry in seen) != replicas:
                return False
            is_replica = node.index >= self.masters_wanted
            if is_replica and client.info("replication")["master_link_status"] != "up":
                return False
        return True

    def stop(self) -> None:
        """Stop every node (a frozen or killed one too) and remove the folder; safe twice."""
        for node in self.nodes:
            node.terminate()
        for node in self.nodes:
            node.reap()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # ------------------------------------------------------------ looking at it

    def live_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.alive()]

    def shards(self) -> list[Shard]:
        """Slot ranges with their master and replicas, as a live node sees them right now.

        A master flagged as failed owns nothing: its slots wait for a replica to take over.
        """
        for node in self.live_nodes():
            try:
                seen = node.client(socket_timeout=1).cluster("nodes")
            except redis.RedisError:
                continue
            ours = {f"127.0.0.1:{node.port}": node for node in self.nodes}
            by_id = {  # a node that never met another does not know its own address
                entry["node_id"]: node if "myself" in entry["flags"] else ours.get(address)
                for address, entry in seen.items()
            }
            shards = []
            for entry in seen.values():
                if "master" not in entry["flags"] or "fail" in entry["flags"]:
                    continue
                replicas = tuple(
                    by_id[other["node_id"]]
                    for other in seen.values()
                    if other["master_id"] == entry["node_id"]
                    and "fail" not in other["flags"]
                    and by_id[other["node_id"]] is not None
                )
                for low, *high in entry["slots"]:
                    slots = (int(low), int(high[0]) if high else int(low))
                    shards.append(Shard(slots, by_id[entry["node_id"]], replicas))
            return sorted(shards, key=lambda shard: shard.slots)
        raise ClusterError(_("no node of {name} answers").format(name=self.name))

    def masters(self) -> list[Node]:
        found = []
        for shard in self.shards():
            if shard.master not in found:
                found.append(shard.master)
        return found

    def owner(self, key: str) -> Node:
        """The master that owns `key`'s (or channel's) hash slot, as the cluster sees it now."""
        slot = key_slot(key.encode())
        for shard in self.shards():
            if shard.slots[0] <= slot <= shard.slots[1]:
                return shard.master
        raise ClusterError(_("no master owns slot {slot} right now").format(slot=slot))

    def master_and_replica(self, key: str) -> tuple[Node, Node]:
        """The master that owns `key`'s slot and one of its replicas, for a failover."""
        master = self.owner(key)
        replicas = self.replicas_of(master)
        if not replicas:
            raise ClusterError(
                _(
                    "The master of {key!r} (:{port}) has no replica left to take over: a "
                    "failover above used it up, and a killed master does not come back. Run the "
                    "cell that starts the cluster again for a fresh one."
                ).format(key=key, port=master.port)
            )
        return master, replicas[0]

    def replicas_of(self, master: Node) -> list[Node]:
        for shard in self.shards():
            if shard.master is master:
                return list(shard.replicas)
        return []

    def topology(self) -> str:
        """Nodes, ports, pids, roles and slot ranges, one line per node."""
        lines = [
            _("{name}: {count} nodes, {server}").format(
                name=self.name, count=len(self.nodes), server=self.server
            )
        ]
        if self.ready_seconds is not None:
            lines[0] += _(", ready in {seconds:.1f} s").format(seconds=self.ready_seconds)
        roles = {}
        for shard in self.shards():
            low, high = shard.slots
            roles[shard.master.port] = _("master   slots {low}-{high}").format(low=low, high=high)
            for replica in shard.replicas:
                roles[replica.port] = _("replica  of :{port}").format(port=shard.master.port)
        row = _("  node {index}  port {port}  pid {pid:>7}  {role}")
        for node in self.nodes:
            role = roles.get(node.port, _("no slots") if node.alive() else _("down"))
            lines.append(row.format(index=node.index, port=node.port, pid=node.pid, role=role))
        return "\n".join(lines)

    def client(self, *, retries: int = 3, **options) -> RedisCluster:
        """A cluster client, which follows MOVED; with retries=0 a failure raises at once."""
        options.setdefault("decode_responses", True)
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 5)
        startup = [ClusterNode("127.0.0.1", node.port) for node in self.live_nodes()]
        return RedisCluster(startup_nodes=startup, retry=Retry(NoBackoff(), retries), **options)

    def wait_for_new_owner(self, key: str, old: Node, timeout: float = 30.0) -> Node:
        """Wait until a node other than `old` owns `key`'s slot and answers as a master."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, ClusterError):
                owner = self.owner(key)
                if owner is not old and owner.client(socket_timeout=1).role()[0] == "master":
                    return owner
            time.sleep(0.02)
        raise ClusterError(
            _("no replica took over {key!r} within {timeout:.0f} s").format(
                key=key, timeout=timeout
            )
        )

    def __repr__(self) -> str:
        return f"<Cluster {self.name}: {len(self.live_nodes())} of {len(self.nodes)} nodes up>"
