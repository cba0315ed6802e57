"""The experiments of notebooks 05 and 06, against real embedded Redis servers.

Each loss scenario must show the loss it claims, with counts that agree with each
other; the Streams versions must lose nothing. No absolute times, no exact counts
that depend on the machine's speed.
"""

from __future__ import annotations

import threading

import pytest
import redis

from helpers import experiments
from helpers.experiments import Arrival, LossResult, Published
from helpers.redis_server import EmbeddedRedis

LIMIT = "client-output-buffer-limit"


def config(server: EmbeddedRedis) -> str:
    with redis.Redis.from_url(server.url, decode_responses=True) as client:
        return client.config_get(LIMIT)[LIMIT]


def no_experiment_threads() -> bool:
    names = {t.name for t in threading.enumerate()}
    return not names & {"away subscriber", "slow subscriber", "redis restart"} and not any(
        n.startswith(("stream reader", "collector")) for n in names
    )


# ---------------------------------------------------------------- pure bookkeeping


def test_message_round_trip_and_padding() -> None:
    text = experiments.message(42, 123456789, payload=100)
    assert len(text) == 100
    assert experiments.parse(text) == (42, 123456789)
    assert experiments.parse(text.encode()) == (42, 123456789)


def test_gaps_and_counts_from_records() -> None:
    published = [Published(seq, seq, 1 if seq < 3 else 0) for seq in range(6)]
    published[5] = Published(5, 5, None)
    arrivals = [Arrival(seq, seq, seq + 1) for seq in (0, 2, 2)]
    result = LossResult("made up", "pub/sub", published, arrivals, 0)
    assert result.lost == [1, 3, 4, 5]
    assert result.gaps == [(1, 1), (3, 5)]
    counts = result.counts()
    assert counts["returned 0"] == 2
    assert counts["failed (error)"] == 1
    assert counts["lost though counted as delivered"] == 1  # seq 1: PUBLISH said 1
    assert counts["duplicates"] == 1


def test_lost_and_gaps_take_sequence_numbers_in_any_order() -> None:
    """The one definition LossResult and assignment 3's checks share."""
    assert experiments.lost(range(6), [0, 2, 2, 9]) == [1, 3, 4, 5]
    assert experiments.gaps([5, 3, 4, 1, 1]) == [(1, 1), (3, 5)]
    assert experiments.gaps([]) == []


def test_an_experiment_takes_a_url_or_the_server_and_says_so_otherwise(
    private_redis: EmbeddedRedis,
) -> None:
    assert experiments.ping_latency(private_redis, count=5).received == 5
    with (
        redis.Redis.from_url(private_redis.url) as client,
        pytest.raises(TypeError, match="Redis URL"),
    ):
        experiments.ping_latency(client, count=5)


def test_paced_publishing_keeps_the_rate_that_sleep_loses() -> None:
    drift = experiments.pacing_drift(rate=2000, count=400)
    assert drift["schedule"] > 0.8 * drift["asked"]
    assert drift["schedule"] > drift["sleep(1/rate)"]


# ---------------------------------------------------------------------------- latency


def test_latency_records_are_positive_and_ordered(private_redis: EmbeddedRedis) -> None:
    result = experiments.pubsub_latency(private_redis.url, count=300, rate=2000, payload=64)
    assert result.received == result.sent == 300
    assert all(sample > 0 for sample in result.samples_ns)
    assert result.seqs == sorted(result.seqs) == list(range(300))
    assert 0 < result.p50_us <= result.p99_us <= result.max_us
    assert no_experiment_threads()


def test_ping_rpc_style_and_stream_latency(private_redis: EmbeddedRedis) -> None:
    ping = experiments.ping_latency(private_redis.url, count=200)
    stream = experiments.stream_latency(private_redis.url, count=200, rate=2000)
    assert ping.received == 200 and min(ping.samples_ns) > 0
    assert stream.received == 200 and min(stream.samples_ns) > 0
    assert stream.seqs == list(range(200))


def test_sweeps_return_one_result_per_setting(private_redis: EmbeddedRedis) -> None:
    by_rate = experiments.rate_sweep(private_redis.url, [500, 2000], seconds=0.1)
    by_size = experiments.payload_sweep(private_redis.url, [16, 10_000], count=50)
    assert [r.rate for r in by_rate] == [500, 2000]
    assert [r.payload for r in by_size] == [16, 10_000]
    assert all(r.received == r.sent for r in by_rate + by_size)


# ---------------------------------------------------------------------- pub/sub loss


def test_late_subscriber_loses_everything_before_subscribe(private_redis: EmbeddedRedis) -> None:
    result = experiments.late_subscriber(private_redis.url, before=50, after=50, rate=2000)
    assert result.lost == list(range(50))
    assert result.received_seqs == set(range(50, 100))
    assert all(p.receivers == 0 for p in result.published[:50])
    assert result.counts()["returned 0"] == 50


def test_away_gap_is_contiguous_and_equals_zero_returns(private_redis: EmbeddedRedis) -> None:
    result = experiments.subscriber_away(
        private_redis.url, count=600, rate=1000, away_at=0.2, away_for=0.2
    )
    counts = result.counts()
    assert counts["lost"] > 0
    assert len(result.gaps) == 1
    first, last = result.gaps[0]
    assert last - first + 1 == counts["lost"] == counts["returned 0"]
    assert counts["lost though counted as delivered"] == 0
    assert {p.seq for p in result.published if p.receivers == 0} == set(result.lost)
    assert no_experiment_threads()


def test_slow_consumer_is_cut_off_and_settings_restored(private_redis: EmbeddedRedis) -> None:
    before = config(private_redis)
    result = experiments.slow_consumer(private_redis, payload=10_000, rate=5000, count=3000)
    counts = result.counts()
    assert result.error and "ConnectionError" in result.error
    assert counts["lost"] > 0
    assert counts["returned 0"] > 0  # Redis had dropped the subscriber
    assert counts["lost though counted as delivered"] > 0  # PUBLISH said 1, still lost
    assert config(private_redis) == before
    assert no_experiment_threads()


def test_slow_consumer_with_no_limit_runs_under_the_servers_own_setting(
    private_redis: EmbeddedRedis,
) -> None:
    """limit=None: notebook 05 makes the CONFIG SET call in a cell; the experiment keeps it."""
    with redis.Redis.from_url(private_redis.url, decode_responses=True) as client:
        client.config_set(LIMIT, "pubsub 1mb 256kb 1")
    set_by_the_cell = config(private_redis)
    result = experiments.slow_consumer(private_redis, 10_000, 5000, 3000, 0.001, limit=None)
    assert result.counts()["returned 0"] > 0  # cut off under the setting made outside
    assert result.settings["limit"] == "pubsub 1048576 262144 1"
    assert config(private_redis) == set_by_the_cell


def test_changed_settings_are_restored_when_the_block_fails(private_redis: EmbeddedRedis) -> None:
    before = config(private_redis)
    with pytest.raises(RuntimeError), experiments.buffer_limit(private_redis.url, "1mb 1mb 0"):
        assert "pubsub 1048576 1048576 0" in config(private_redis)
        raise RuntimeError("experiment failed half-way")
    assert config(private_redis) == before


def test_setting_changes_refuse_a_shared_server_url(private_redis: EmbeddedRedis) -> None:
    with pytest.raises(ValueError, match="embedded"):
        experiments.slow_consumer(private_redis.url)
    with pytest.raises(TypeError, match="embedded"):
        experiments.redis_restart(private_redis.url)


def test_restart_leaves_a_gap_behind_a_silent_reconnect(private_redis: EmbeddedRedis) -> None:
    pid = private_redis.pid
    result = experiments.redis_restart(
        private_redis, count=800, rate=1000, restart_at=0.2, down_for=0.2
    )
    counts = result.counts()
    assert private_redis.pid != pid  # it really was a new server process
    assert counts["lost"] > 0
    assert counts["failed (error)"] + counts["returned 0"] > 0
    last_lost = result.lost[-1]
    assert any(seq > last_lost for seq in result.received_seqs), "no reconnect after the gap"
    assert no_experiment_threads()


# --------------------------------------------------------------------------- streams


def test_stream_late_consumer_loses_nothing(private_redis: EmbeddedRedis) -> None:
    result = experiments.stream_late_consumer(private_redis.url, before=50, after=50, rate=2000)
    assert result.counts()["lost"] == 0
    assert result.received_seqs == set(range(100))


def test_stream_consumer_crash_is_recovered_from_the_pel(private_redis: EmbeddedRedis) -> None:
    result = experiments.stream_consumer_away(
        private_redis.url, count=600, rate=1000, away_at=0.2, away_for=0.2
    )
    assert result.counts()["lost"] == 0
    assert result.received_seqs == set(range(600))
    assert any("XAUTOCLAIM" in text for _, text in result.events)
    assert no_experiment_threads()


def test_stream_slow_consumer_loses_nothing(private_redis: EmbeddedRedis) -> None:
    before = config(private_redis)
    result = experiments.stream_slow_consumer(private_redis, count=400, rate=5000)
    assert result.counts()["lost"] == 0
    assert config(private_redis) == before


def test_stream_survives_a_restart(private_redis: EmbeddedRedis) -> None:
    pid = private_redis.pid
    result = experiments.stream_restart(
        private_redis, count=800, rate=1000, restart_at=0.2, down_for=0.2
    )
    counts = result.counts()
    assert private_redis.pid != pid
    assert counts["sent again after an error"] > 0  # the producer did meet the outage
    assert counts["lost"] == 0
    assert no_experiment_threads()


def test_maxlen_trims_unread_entries(private_redis: EmbeddedRedis) -> None:
    result = experiments.stream_trimmed(private_redis.url, count=500, maxlen=50)
    assert result.received_seqs == set(range(450, 500))
    assert result.gaps == [(0, 449)]


def test_a_stream_reader_is_a_worker_that_stops_and_says_so(private_redis: EmbeddedRedis) -> None:
    stream = experiments.unique_name("reader")
    with redis.Redis.from_url(private_redis.url) as client:
        client.xgroup_create(stream, "g", id="$", mkstream=True)
        reader = experiments.StreamReader(private_redis, stream, "g", "c1").start()
        client.xadd(stream, {"m": experiments.message(0, 1)})
        reader.wait_for(1)
        assert reader.running and [a.seq for a in reader.arrivals] == [0]
        reader.stop()
        reader.stop()  # a second stop (a re-run's clean-up) is harmless
        client.delete(stream)
    assert not reader.running and "stopped" in repr(reader)
    assert no_experiment_threads()


def test_restart_keeps_data_only_when_asked(private_redis: EmbeddedRedis) -> None:
    with redis.Redis.from_url(private_redis.url) as client:
        client.set("kept", "yes")
        private_redis.restart(keep_data=True)
        assert client.get("kept") == b"yes"
        private_redis.restart()
        assert client.get("kept") is None
