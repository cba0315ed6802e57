"""`python -m helpers.rpc --port 3000`: the course's and the spec's methods as a process."""

from __future__ import annotations

import argparse
import signal
import threading

from helpers.rpc import methods
from helpers.rpc.http import Server


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.rpc --port 3000`: the course's and the spec's methods as a process."""
    parser = argparse.ArgumentParser(prog="python -m helpers.rpc", description=main.__doc__)
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    args = parser.parse_args(argv)
    served = {**methods.spec_methods(), **methods.course_methods()}
    try:
        server = Server(served, port=args.port, host=args.host, fallback=False)
    except OSError as problem:
        parser.exit(1, f"{problem}\n")
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    print(f"JSON-RPC 2.0 on {server.url}/ methods: {', '.join(sorted(served))}", flush=True)
    done.wait()
    server.stop()
    methods.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
