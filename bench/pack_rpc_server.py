"""The pack's JSON-RPC server as the bench runs it: `helpers.rpc.start` serving `add` in
its background thread, in a process of its own whose main thread only waits, as a
kernel's does between cells.

Prints {"port": N} once serving, and stops when its stdin closes, so it never outlives
the bench that started it.
"""

from __future__ import annotations

import json
import sys

from helpers import rpc
from helpers.rpc import methods


def main() -> int:
    server = rpc.start({"add": methods.add}, port=0, name="bench json-rpc")
    print(json.dumps({"port": server.port}), flush=True)
    sys.stdin.read()  # blocks, without holding the interpreter lock, until the bench is done
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
