"""`make bench`: is the pack fast, and how does it compare with its peers on this machine?

Measures, on a private embedded Redis on 127.0.0.1:
  - embedded Redis start time;
  - PING round trip from redis-py against redis-benchmark's single-client figure;
  - pub/sub end-to-end latency of the pack's harness against a minimal raw subscriber
    loop on the same message stream;
  - the pack's JSON-RPC server against jayson (Node.js), one keep-alive connection,
    both driven by the same load generator;
  - a local Redis Cluster (notebook 07): its start time, a failover's duration and what
    it loses, and the cluster-bus messages per PUBLISH / SPUBLISH against the node count;
  - each notebook, and the whole course, executed in fresh kernels, and the kernel's
    peak memory.
Writes a table to stdout and to bench/results.md, every figure with every repeat to
bench/out/results.json (and a line to bench/out/history.jsonl), and the latency
distributions to bench/out/latency.png. Targets are reported, never asserted.

    python bench/run.py            # the full bench, well within 10 minutes
    python bench/run.py --quick    # tiny counts: proves the script works (the smoke test)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import cluster_figures
import course_figures
import pubsub_figures
import redis_figures
import report
import rpc_figures

from helpers.redis_server import EmbeddedRedis

BENCH = Path(__file__).resolve().parent
TOTAL_BUDGET_S = 540  # `make bench` must finish within 10 minutes, set-up included

# (repeats, count per repeat) for each measurement: full, then --quick
COUNTS = {
    "start": (10, 3),
    "ping": ((15, 1000, 3000), (3, 100, 1000)),
    "pubsub": ((5, 2000), (3, 50)),
    "rpc": ((7, 5000), (3, 50)),
    "cluster": ((3, 2500, [1, 3, 6]), (1, 2000, [1, 3])),
    "course": (3, 1),
}

NOTES = [
    "**Embedded Redis start**: `EmbeddedRedis().start()` until the server answers PING, "
    "then stopped; what the first `redis_server.connect()` in a kernel costs.",
    "**PING**: sequential PINGs on one redis-py connection (hiredis parser) against "
    "`redis-benchmark -c 1 -t ping` (PING_MBULK, mean = 1 / requests per second), alternating, "
    "on the same server. The ratio is redis-py's mean over redis-benchmark's.",
    "**Pub/sub**: one publisher at a fixed rate; the pack's harness and a minimal raw "
    "redis-py `listen()` loop in its own process subscribe to the same channel and receive the "
    "same messages; latency is publish time to receipt (`time.time_ns()` on both sides). "
    "The ratio is the harness's p50 over the raw loop's, per repeat.",
    "**JSON-RPC**: each server in its own process serving `add`; `bench/load.py` sends "
    "`add(3, 4)` one request at a time on one keep-alive connection, checking every answer, "
    "to each server in turn, repeat after repeat. The ratio is the pack's requests/s over "
    "jayson's.",
    "**Redis Cluster**: `helpers.cluster`, as notebook 07 uses it: 3 masters with a replica "
    "each on 127.0.0.1, ready when every node says ok, every bus link is up and every replica "
    "in sync. Failover: numbered SPUBLISHes at 500/s on a sharded channel, its master killed "
    "with SIGKILL; the time runs to the first SPUBLISH the promoted replica accepted. Stream: "
    "4 batches of 100 XADDs with `WAIT 1 100` after each, the replica frozen and its link "
    "dropped for the last 2, then the master killed. Bus messages are the `CLUSTER INFO` "
    "counters `cluster_stats_messages_publish(shard)_sent`, summed over the nodes, per message, "
    "on clusters of 1, 3 and 6 masters with a replica each.",
    "**Notebooks**: each executed top to bottom in a fresh kernel with nbclient, timed from "
    "kernel start to the last cell; the course is all notebooks one after another. Peak memory "
    "is the kernel process's VmHWM (its redis-server not counted).",
    "**Placement**: for PING and JSON-RPC every client (redis-py, redis-benchmark, the load "
    "generator) runs on the first CPU and every server on the last (`bench/placement.py`): left "
    "to the scheduler, a server woken on the client's core answers about twice as fast as one "
    "woken on the other core, and the ratio would measure placement, not the software.",
    "The machine may be shared with other work: absolute figures swing 2-4× between runs; "
    "ratios measured in the same run are the figures to compare.",
]


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts (the smoke test)")
    parser.add_argument(
        "--notebooks", default="*.ipynb", help="glob of notebooks/ to time (default: all)"
    )
    parser.add_argument(
        "--without-node", action="store_true", help="behave as if Node.js were missing"
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results.md", help="where the Markdown goes"
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH / "out", help="folder for results.json and the plot"
    )
    return parser.parse_args(argv)


def pick(name: str, quick: bool):
    full, tiny = COUNTS[name]
    return tiny if quick else full


class Bench:
    """One run: the measurements in order, each guarded so that one failure is one row."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.began = time.monotonic()
        self.info = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
        self.info |= report.machine()
        self.rows: list[report.Row] = []
        self.latencies: dict[str, dict[str, list[float]]] = {}

    def counts(self, name: str):
        return pick(name, self.args.quick)

    def measure(self, name: str, measure: Callable[[], tuple[list[report.Row], dict]]) -> None:
        """Run one measurement and keep its rows; a failure becomes a row saying so."""
        print(f"bench: {name} ({time.monotonic() - self.began:.0f} s)", flush=True)
        try:
            rows, latencies = measure()
        except Exception as error:  # the table says it failed; the traceback goes to stderr
            traceback.print_exc()
            failed = f"**FAILED**: {type(error).__name__}: {error}".replace("\n", " ")[:300]
            rows, latencies = [report.Row(name, failed, verdict="**FAILED**")], {}
        self.rows += rows
        if latencies:
            self.latencies[name] = latencies

    def ping(self, server: EmbeddedRedis) -> tuple[list[report.Row], dict]:
        row = redis_figures.ping(server, *self.counts("ping"))
        return [row], {"redis-py PING": row.data["latencies_s"]}

    def course(self) -> tuple[list[report.Row], dict]:
        paths = sorted(course_figures.NOTEBOOKS.glob(self.args.notebooks))
        if not paths:
            return [report.Row("Whole course", f"no notebook matches {self.args.notebooks!r}")], {}
        all_notebooks = len(list(course_figures.NOTEBOOKS.glob("*.ipynb")))
        budget = TOTAL_BUDGET_S - (time.monotonic() - self.began)
        rounds = course_figures.course(paths, self.counts("course"), budget)
        return course_figures.rows(rounds, all_notebooks), {}

    def run(self) -> None:
        self.measure(
            "Embedded Redis start", lambda: ([redis_figures.start_time(self.counts("start"))], {})
        )
        server = EmbeddedRedis().start()
        try:
            self.info["redis-server"] = f"{server.version()} ({server.origin})"
            self.measure("PING round trip from redis-py", lambda: self.ping(server))
            self.measure(
                "Pub/sub end to end: the pack's harness vs a raw loop",
                lambda: pubsub_figures.measure(server, *self.counts("pubsub")),
            )
        finally:
            server.stop()
        self.measure(
            "JSON-RPC round trip, one keep-alive connection",
            lambda: rpc_figures.measure(*self.counts("rpc"), self.args.without_node),
        )
        self.measure(
            "Redis Cluster: start, failover, bus messages",
            lambda: cluster_figures.measure(*self.counts("cluster")),
        )
        self.measure("The course, each notebook in a fresh kernel", self.course)

    def write(self) -> None:
        """The table to stdout and the results file, the JSON, the plot."""
        args = self.args
        self.info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        took = f"{time.monotonic() - self.began:.0f} s"
        self.info["bench took"] = took + (" (--quick)" if args.quick else "")
        text = report.markdown(self.rows, self.info, NOTES)
        print(text)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text)
        args.out.mkdir(parents=True, exist_ok=True)
        settings = {name: self.counts(name) for name in COUNTS} | {"notebooks": args.notebooks}
        report.write_json(args.out / "results.json", self.rows, self.info, settings)
        written = [args.results, args.out / "results.json"]
        written.append(report.plot(args.out / "latency.png", self.latencies))
        print("bench: wrote " + ", ".join(str(path) for path in written if path))


def main(argv: list[str] | None = None) -> int:
    bench = Bench(arguments(argv))
    bench.run()
    bench.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
