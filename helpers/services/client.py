"""Talking to a running service over HTTP, as `curl` or a browser would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from helpers.waiting import wait_until


def request(url: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, Any]:
    """Send `method` to `url` and return (status, JSON body), error statuses included.

    Proxies from the environment are ignored: the services are on loopback.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def wait_received(subscriber_url: str, count: int, timeout: float = 5.0) -> dict:
    """The subscriber's /stats once it has received at least `count` messages in all.

    /ping returns when Redis has queued the message; the subscriber records it a
    moment later, so a cell that reads /messages right after /ping waits here first.
    """

    def stats() -> dict | None:
        body = request(f"{subscriber_url}/stats")[1]
        return body if body["received"] >= count else None

    return wait_until(stats, f"{count} messages at {subscriber_url}", timeout)
