"""`make bench`: is the pack fast, and how does it compare with its peers on this machine?

Measures, on a private embedded Redis on 127.0.0.1:
  - embedded Redis start time;
  - PING round trip from redis-py against redis-benchmark's single-client figure;
  - pub/sub end-to-end latency of the pack's harness against a minimal raw subscriber
    loop on the same message stream;
  - the pack's JSON-RPC server against jayson (Node.js), one keep-alive connection,
    both driven by the same load generator;
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
from pathlib import Path

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
    "ping": ((5, 3000, 20000), (3, 100, 1000)),
    "pubsub": ((5, 2000), (3, 50)),
    "rpc": ((5, 2000), (3, 50)),
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
    "**Notebooks**: each executed top to bottom in a fresh kernel with nbclient, timed from "
    "kernel start to the last cell; the course is all notebooks one after another. Peak memory "
    "is the kernel process's VmHWM (its redis-server not counted).",
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


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    began = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    info = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    info |= report.machine()
    rows: list[report.Row] = []

    def progress(what: str) -> None:
        print(f"bench: {what} ({time.monotonic() - began:.0f} s)", flush=True)

    progress("embedded Redis start")
    rows.append(redis_figures.start_time(pick("start", args.quick)))
    server = EmbeddedRedis().start()
    try:
        info["redis-server"] = f"{server.version()} ({server.origin})"
        progress("PING round trip")
        repeats, count, bench_count = pick("ping", args.quick)
        ping = redis_figures.ping(server, repeats, count, bench_count)
        rows.append(ping)
        progress("pub/sub latency")
        pubsub_rows, pubsub_latencies = pubsub_figures.measure(server, *pick("pubsub", args.quick))
        rows += pubsub_rows
    finally:
        server.stop()
    progress("JSON-RPC servers")
    rpc_rows, rpc_latencies = rpc_figures.measure(*pick("rpc", args.quick), args.without_node)
    rows += rpc_rows

    paths = sorted(course_figures.NOTEBOOKS.glob(args.notebooks))
    all_notebooks = len(list(course_figures.NOTEBOOKS.glob("*.ipynb")))
    if paths:
        progress(f"the course: {len(paths)} notebook(s), each in a fresh kernel")
        budget = TOTAL_BUDGET_S - (time.monotonic() - began)
        rounds = course_figures.course(paths, pick("course", args.quick), budget)
        rows += course_figures.rows(rounds, all_notebooks)
    else:
        rows.append(report.Row("Whole course", f"no notebook matches {args.notebooks!r}"))

    info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["bench took"] = f"{time.monotonic() - began:.0f} s" + (" (--quick)" if args.quick else "")
    text = report.markdown(rows, info, NOTES)
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    settings = {name: pick(name, args.quick) for name in COUNTS} | {"notebooks": args.notebooks}
    report.write_json(args.out / "results.json", rows, info, settings)
    plotted = report.plot(
        args.out / "latency.png",
        {
            "pub/sub end to end: the pack's harness vs a raw loop": pubsub_latencies,
            "JSON-RPC round trip, one keep-alive connection": rpc_latencies,
            "PING round trip from redis-py": {"redis-py PING": ping.data["latencies_s"]},
        },
    )
    print(
        f"bench: wrote {args.results}, {args.out / 'results.json'}"
        + (f", {plotted}" if plotted else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
