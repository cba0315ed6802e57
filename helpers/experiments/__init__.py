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

# Each module's __all__ says what it offers here: a new experiment is added in its own file.
from helpers.experiments import harness, latency, pubsub_loss, results, stream_reader, streams
from helpers.experiments.harness import *  # noqa: F403
from helpers.experiments.latency import *  # noqa: F403
from helpers.experiments.pubsub_loss import *  # noqa: F403
from helpers.experiments.results import *  # noqa: F403
from helpers.experiments.stream_reader import *  # noqa: F403
from helpers.experiments.streams import *  # noqa: F403

__all__ = [
    *harness.__all__,
    *latency.__all__,
    *pubsub_loss.__all__,
    *results.__all__,
    *stream_reader.__all__,
    *streams.__all__,
]
