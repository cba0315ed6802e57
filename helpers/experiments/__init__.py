"""The measurement harness of notebooks 05 and 06: latency and message-loss experiments.

Every experiment runs against a real Redis server, taken first as `server` (a URL or
`redis_server.embedded()`), and returns plain data (per-message records and their
summary); it draws nothing: the notebooks plot the results with `helpers.plots`, and
the tests assert on them. Long experiments accept `progress=`, a callable given the
fraction done (0..1), such as `controls.ProgressBar`.

- `results`: LatencyResult, LossResult and their records; the lost/gaps arithmetic.
- `harness`: messages, clocks, pacing, the server argument, buffer limits, restarts.
- `latency`: round trips, pub/sub and stream latency, rate and size sweeps.
- `pubsub_loss`: a subscriber late, away or too slow, and Redis restarted.
- `stream_reader`, `streams`: the same faults with a stream and a consumer group.
"""

from helpers.experiments.harness import (
    Progress,
    Server,
    buffer_limit,
    clock_cost,
    message,
    paced,
    pacing_drift,
    parse,
    unique_name,
)
from helpers.experiments.latency import (
    call_latency,
    payload_sweep,
    ping_latency,
    pubsub_latency,
    rate_sweep,
    stream_latency,
)
from helpers.experiments.pubsub_loss import (
    late_subscriber,
    redis_restart,
    slow_consumer,
    subscriber_away,
)
from helpers.experiments.results import Arrival, LatencyResult, LossResult, Published, gaps, lost
from helpers.experiments.stream_reader import StreamReader
from helpers.experiments.streams import (
    stream_consumer_away,
    stream_late_consumer,
    stream_restart,
    stream_slow_consumer,
    stream_trimmed,
)

__all__ = [
    "Arrival",
    "LatencyResult",
    "LossResult",
    "Progress",
    "Published",
    "Server",
    "StreamReader",
    "buffer_limit",
    "call_latency",
    "clock_cost",
    "gaps",
    "late_subscriber",
    "lost",
    "message",
    "paced",
    "pacing_drift",
    "parse",
    "payload_sweep",
    "ping_latency",
    "pubsub_latency",
    "rate_sweep",
    "redis_restart",
    "slow_consumer",
    "stream_consumer_away",
    "stream_late_consumer",
    "stream_latency",
    "stream_restart",
    "stream_slow_consumer",
    "stream_trimmed",
    "subscriber_away",
    "unique_name",
]
