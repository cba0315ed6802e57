"""The helpers that make lesson cells safe to re-run: background.on_stop for the servers
and threads a cell builds itself, pubsub.replace / leave / drain for its subscriptions.
Against a real Redis server."""

from __future__ import annotations

import redis

from helpers import background, pubsub


def test_on_stop_runs_the_steps_in_order_when_the_name_is_stopped_or_registered_again() -> None:
    calls: list[str] = []
    background.on_stop(
        "lesson test", lambda: calls.append("shutdown"), lambda: calls.append("join")
    )
    background.on_stop("lesson test", lambda: calls.append("second run"))
    assert calls == ["shutdown", "join"], "registering the name again stops the first run"
    assert background.stop("lesson test") is True
    assert calls == ["shutdown", "join", "second run"]
    assert "lesson test" not in background.running()


def test_replace_leaves_the_old_subscriber_before_the_next_publish(private_redis) -> None:
    """Closing a socket alone lets Redis count it in a PUBLISH it runs first: leave() waits."""
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    try:
        for _ in range(50):
            late = pubsub.replace("lesson late", client.pubsub())
            assert client.publish("lesson-late", "nobody listens") == 0
            late.subscribe("lesson-late")
            pubsub.wait_subscribed(late, 1)
        assert client.pubsub_numsub("lesson-late")[0][1] == 1
        background.stop("lesson late")
        assert client.pubsub_numsub("lesson-late")[0][1] == 0
        assert late.connection is None
    finally:
        background.stop("lesson late")
        client.close()


def test_leave_undoes_channels_and_patterns_and_opens_nothing_when_unsubscribed(
    private_redis,
) -> None:
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    try:
        both = client.pubsub()
        both.subscribe("lesson-a", "lesson-b")
        both.psubscribe("lesson-*")
        pubsub.wait_subscribed(both, 3)
        pubsub.leave(both)
        assert client.pubsub_numsub("lesson-a", "lesson-b") == [("lesson-a", 0), ("lesson-b", 0)]
        assert client.pubsub_numpat() == 0
        idle = client.pubsub()
        pubsub.leave(idle)
        assert idle.connection is None, "leaving a subscriber that never subscribed connects"
    finally:
        client.close()


def test_drain_drops_what_waits_and_the_next_read_is_new(private_redis) -> None:
    client = redis.Redis.from_url(private_redis.url, decode_responses=True)
    listener = client.pubsub()
    try:
        listener.subscribe("lesson-drain")
        pubsub.wait_subscribed(listener, 1)
        for text in ("old 1", "old 2", "old 3"):
            client.publish("lesson-drain", text)
        assert pubsub.drain(listener) == 3
        assert listener.get_message(timeout=0.05) is None
        client.publish("lesson-drain", "new")
        assert listener.get_message(timeout=2)["data"] == "new"
    finally:
        listener.close()
        client.close()
