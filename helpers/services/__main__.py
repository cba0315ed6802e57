"""`python -m helpers.services publisher|subscriber`: one service in the foreground, as
deployed (docker compose runs it this way), until SIGINT (Ctrl+C) or SIGTERM.

Exit codes: 0 after a signal, 1 when Redis or the port is not usable (stderr says
why), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from helpers import pubsub
from helpers.redis_server import RedisUnavailable
from helpers.services.core import CHANNEL, check_port, where
from helpers.services.process import PARENT_ENV
from helpers.services.publisher import Publisher
from helpers.services.subscriber import Subscriber


def _port_argument(text: str) -> int:
    try:
        return check_port(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.services",
        description="The lab's publisher (GET /ping publishes) or subscriber (prints, "
        "and reports at /messages and /stats).",
    )
    parser.add_argument("kind", choices=["publisher", "subscriber"])
    parser.add_argument(
        "--port", type=_port_argument, help="default 8000 (publisher) or 8001 (subscriber)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 inside a container)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="default: $REDIS_URL, else redis://127.0.0.1:6379/0",
    )
    parser.add_argument(
        "--channel",
        default=CHANNEL,
        help="channel name; $COURSE_NAMESPACE or $JUPYTERHUB_USER is put in front of it",
    )
    parser.add_argument(
        "--no-fallback",
        action="store_true",
        help="exit if the port is taken (default: use a free one)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one service in the foreground until SIGINT (Ctrl+C) or SIGTERM."""
    args = _parser().parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    cls = Publisher if args.kind == "publisher" else Subscriber
    channel = pubsub.channel(args.channel)
    try:
        service = cls(
            args.kind,
            args.redis_url,
            channel=channel,
            port=args.port,  # None: the kind's default port
            host=args.host,
            fallback=not args.no_fallback,
            echo=True,
        )
    except RedisUnavailable as error:
        print(error, file=sys.stderr, flush=True)
        return 1
    except OSError as error:  # PortInUse, or an address this machine does not have
        print(f"{args.kind}: {error}", file=sys.stderr, flush=True)
        return 1
    service.log(
        f"listening on {service.url}, channel {channel!r}, Redis at {where(args.redis_url)}. "
        "Ctrl+C stops."
    )
    parent = os.environ.get(PARENT_ENV)
    while not stopping.wait(0.5):
        if parent and str(os.getppid()) != parent:
            service.log(f"the process that started this one ({parent}) is gone")
            break
    service.stop()
    service.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
