"""Redis figures: how long the embedded server takes to start, and a PING round trip
from redis-py against redis-benchmark's single-client figure, the floor on this machine.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import time

import placement
import redis
from report import Row, median, percentile, spread, us, verdict

from helpers.redis_server import EmbeddedRedis

START_TARGET = 0.5


def start_time(repeats: int) -> Row:
    """Start and stop a private embedded server `repeats` times: what `connect()` costs first."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        server = EmbeddedRedis().start()
        times.append(time.perf_counter() - began)
        server.stop()
    shown = f"{median(times):.3f} s"
    return Row(
        figure=f"Embedded Redis start (median of {repeats})",
        pack=shown,
        target=f"< {START_TARGET} s",
        verdict=verdict(median(times) < START_TARGET, shown, f"< {START_TARGET} s"),
        data={"seconds": times},
    )


def _redis_py_pings(url: str, count: int) -> tuple[float, list[float]]:
    """(mean round trip, each round trip) for `count` sequential PINGs on one connection."""
    client = redis.Redis.from_url(url)
    try:
        for _ in range(min(200, count)):
            client.ping()  # warm up: connection, hiredis parser, CPU caches
        latencies = []
        began = time.perf_counter()
        for _ in range(count):
            sent = time.perf_counter_ns()
            client.ping()
            latencies.append((time.perf_counter_ns() - sent) / 1e9)
        return (time.perf_counter() - began) / count, latencies
    finally:
        client.close()


def _redis_benchmark(port: int, count: int) -> float:
    """Mean PING round trip of redis-benchmark with one client: 1 / requests per second."""
    result = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-n", str(count),
         "-t", "ping", "--csv"],
        capture_output=True, text=True, timeout=120, check=True, preexec_fn=placement.pin_client,
    )  # fmt: skip
    for record in csv.DictReader(io.StringIO(result.stdout)):
        if record["test"] == "PING_MBULK":  # the RESP form redis-py sends
            return 1 / float(record["rps"])
    raise RuntimeError(f"redis-benchmark printed no PING_MBULK line:\n{result.stdout}")


def ping(server: EmbeddedRedis, repeats: int, count: int, bench_count: int) -> Row:
    """redis-py's PING round trip vs redis-benchmark's, alternating, in the same run."""
    have_benchmark = shutil.which("redis-benchmark") is not None
    means, p50s, pooled, floors, ratios = [], [], [], [], []
    placement.pin_running_server(server.pid)
    for _ in range(repeats):
        with placement.as_client():
            mean, latencies = _redis_py_pings(server.url, count)
        means.append(mean)
        p50s.append(percentile(latencies, 50))
        pooled += latencies
        if have_benchmark:
            floors.append(_redis_benchmark(server.port, bench_count))
            ratios.append(mean / floors[-1])
    row = Row(
        figure="Redis PING round trip, one connection (mean; p50)",
        pack=f"redis-py: {us(median(means))}; p50 {us(median(p50s))}",
        data={"redis_py_mean_s": means, "redis_py_p50_s": p50s, "latencies_s": pooled},
    )
    if have_benchmark:
        row.peer = f"redis-benchmark -c 1: {us(median(floors))}"
        row.ratio = f"{median(ratios):.2f}× the floor" + spread(ratios)
        row.verdict = "no target: the floor shows what the client library costs"
        row.data |= {"redis_benchmark_mean_s": floors, "ratio": ratios}
    else:
        row.peer = "redis-benchmark missing (Debian: apt-get install redis-tools)"
        row.verdict = "peer missing: no ratio"
    return row
