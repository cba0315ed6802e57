"""The original lab's two services: a publisher on port 8000 and a subscriber on port 8001.

`GET /ping` on the publisher publishes a numbered, timestamped JSON message to
`my_channel`; the subscriber listens on that channel and reports what it heard at
`/messages` and `/stats`, including the sequence numbers it knows it missed. Both
answer `/health`.

Each runs two ways. In the kernel, `start_publisher()` / `start_subscriber()` run it
in background threads that a cell can re-run (the new one replaces the old) and
stop. As a process, the way it is deployed (`launch` starts one from a kernel):

    python -m helpers.services publisher --port 8000
    python -m helpers.services subscriber --port 8001

The map: `core` (what both share), `publisher`, `subscriber`, `in_kernel` (start_*),
`client` (request, wait_received), `process` (ServiceProcess, launch), `__main__`.
"""

from helpers.services.client import request, wait_received
from helpers.services.core import (
    CHANNEL,
    PUBLISHER_PORT,
    SUBSCRIBER_PORT,
    BadRequest,
    Service,
    check_port,
)
from helpers.services.in_kernel import start_publisher, start_subscriber
from helpers.services.process import PARENT_ENV, READY, ServiceProcess, launch
from helpers.services.publisher import REDIS_TIMEOUT, Publisher
from helpers.services.subscriber import (
    KEEP,
    KEEP_BYTES,
    KEEP_GAPS,
    KEEP_SOURCES,
    RECONNECT_EVERY,
    Subscriber,
)

__all__ = [
    "CHANNEL",
    "KEEP",
    "KEEP_BYTES",
    "KEEP_GAPS",
    "KEEP_SOURCES",
    "PARENT_ENV",
    "PUBLISHER_PORT",
    "READY",
    "RECONNECT_EVERY",
    "REDIS_TIMEOUT",
    "SUBSCRIBER_PORT",
    "BadRequest",
    "Publisher",
    "Service",
    "ServiceProcess",
    "Subscriber",
    "check_port",
    "launch",
    "request",
    "start_publisher",
    "start_subscriber",
    "wait_received",
]
