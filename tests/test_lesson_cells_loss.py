"""Notebooks 05 (loss) and 06 (Streams), cell by cell, in a real kernel against a real Redis.

The lesson's mechanism is in the cells, so editing one line of it must change the
result: a subscriber that never subscribes loses everything, one that subscribes
first loses nothing, a consumer that never acknowledges leaves its entries pending.
Cells that learners re-run alone, or reach with a cell above skipped, must give the
same kind of answer: the summary tables say which cell to run instead of failing
with a NameError, and the Streams demo works in the learner's namespace only.

Each test runs the notebook's own cells, looked up by id; an edit names the exact
line it replaces, so a rewritten cell fails here loudly instead of passing quietly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import nbformat
import pytest
import redis
from nbclient import NotebookClient

from helpers.redis_server import EmbeddedRedis
from tests.support import NOTEBOOKS

LOSS = NOTEBOOKS / "05_latency_and_message_loss.ipynb"
STREAMS = NOTEBOOKS / "06_reliable_delivery_with_streams.ipynb"
NAMESPACE = "learner-a"
# Results the summary tables read; popping them is what skipping their cells leaves behind.
RESULTS = ("latency", "ping", "late", "away", "slow", "restart")
STREAM_RESULTS = ("stream_late", "stream_away", "stream_slow", "stream_restart")


def cells(path) -> dict[str, str]:
    """The notebook's code cells, by id."""
    nb = nbformat.read(path, as_version=4)
    return {c.id: c.source for c in nb.cells if c.cell_type == "code"}


def edited(source: str, line: str, replacement: str) -> str:
    """`source` with its one line `line` (stripped) replaced, keeping the indentation."""
    lines = source.splitlines()
    found = [i for i, text in enumerate(lines) if text.strip() == line]
    assert len(found) == 1, f"the cell no longer has exactly one line {line!r}"
    indent = lines[found[0]][: len(lines[found[0]]) - len(lines[found[0]].lstrip())]
    lines[found[0]] = indent + replacement if replacement else ""
    return "\n".join(lines)


class Kernel:
    """A real kernel that runs cell sources one at a time and returns their text output."""

    def __init__(self, client: NotebookClient) -> None:
        self.client = client

    def run(self, source: str) -> str:
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.client.nb.cells) - 1)  # raises on error
        text = []
        for output in cell.outputs:
            if output["output_type"] == "stream":
                assert output["name"] == "stdout", f"stderr: {output['text']}"
                text.append(output["text"])
            elif "data" in output:
                data = output["data"]
                text.append(data.get("text/markdown") or data.get("text/plain", ""))
        return "".join(text)

    def run_edited(self, cell: str, edited: str, then: str) -> str:
        """Run `edited` in place of the source `cell`, then `then`; what `then` shows.

        `cell` runs again afterwards, so the next test finds the notebook's own code."""
        self.run(edited)
        try:
            return self.run(then)
        finally:
            self.run(cell)

    def without_private_server(self, results: tuple[str, ...]) -> None:
        """Leave the kernel as a learner's is when no private Redis could be had and the
        cells making `results` were skipped."""
        self.run(f"for _name in {results}: globals().pop(_name, None)")
        self.run("private = None  # what the cell above leaves when no server can be had")


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedRedis]:
    """A redis-server of the test's own, which the kernels reach through REDIS_URL."""
    started = EmbeddedRedis().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def kernel(server: EmbeddedRedis) -> Iterator[Kernel]:
    """One kernel for this module, on the test's server, in the namespace of learner-a."""
    env = {**os.environ, "REDIS_URL": server.url, "COURSE_NAMESPACE": NAMESPACE}
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        nbformat.v4.new_notebook(),
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    with client.setup_kernel(env=env):
        yield Kernel(client)


@pytest.fixture(scope="module")
def client(server: EmbeddedRedis) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(server.url, decode_responses=True) as connection:
        yield connection


def lost(output: str) -> int:
    """The count from the gap cell's `sent N, received N, lost N: ...` line."""
    return int(re.search(r"lost (\d+):", output).group(1))


# ------------------------------------------------------------------- 05: loss, by hand


@pytest.fixture
def loss(kernel: Kernel) -> dict[str, str]:
    """Notebook 05's set-up and its publisher, subscriber and gap cells, run in the kernel."""
    source = cells(LOSS)
    for cid in ("8dd31ed3", "45933b45", "7e582bcb", "e30604f6"):
        kernel.run(source[cid])
    return source


def test_late_subscriber_loses_what_came_before_it_and_a_rerun_says_the_same(
    kernel: Kernel, loss: dict[str, str]
) -> None:
    late = edited(
        loss["b68a964c"], "guess = None  # how many will the subscriber receive?", "guess = 100"
    )
    for _run in range(2):
        output = kernel.run(late)
        assert "sent 200, received 100, lost 100: 0-99" in output
        assert "PUBLISH returned 0 (nobody subscribed) for 100 of them" in output
        assert "you guessed 100: right" in output


def test_a_subscriber_that_never_subscribes_loses_everything(
    kernel: Kernel, loss: dict[str, str]
) -> None:
    never = edited(
        loss["7e582bcb"],
        "self.listener.subscribe(channel)",
        'self.listener.subscribe("a-channel-nobody-publishes-to")',
    )
    output = kernel.run_edited(loss["7e582bcb"], never, then=loss["b68a964c"])
    assert lost(output) == 200
    assert "received 0" in output


def test_subscribing_before_the_first_publish_loses_nothing(
    kernel: Kernel, loss: dict[str, str]
) -> None:
    source = loss["b68a964c"]
    first = "subscriber = Subscriber(channel, got)  # SUBSCRIBE, confirmed"
    moved = edited(source, first, "")  # out from below the first publish ...
    moved = edited(moved, "got = []", "got = []\n" + first)  # ... and in above it
    assert moved.index("Subscriber(") < moved.index("publish(channel, range(BEFORE)")
    output = kernel.run(moved)
    assert lost(output) == 0
    assert "received 200" in output


def test_the_away_time_sets_the_gap(kernel: Kernel, loss: dict[str, str]) -> None:
    away = loss["2ca1282d"]
    output = kernel.run(away)
    assert "lost 400: 300-699" in output  # AWAY_FOR 0.4 s at 1,000 per second
    assert "returned 0 (nobody subscribed) for 400" in output
    back_at_once = edited(away, "AWAY_FOR = 0.4  # seconds", "AWAY_FOR = 0.0")
    assert lost(kernel.run(back_at_once)) == 0


def test_without_a_private_server_experiments_3_and_4_skip_and_the_summary_says_so(
    kernel: Kernel, loss: dict[str, str]
) -> None:
    kernel.without_private_server(RESULTS)
    assert kernel.run(loss["9a682eb2"]).startswith("skipped: no private server")
    assert kernel.run(loss["e7fb0ae2"]).startswith("skipped: no private server")
    kernel.run(loss["fa5f3887"])  # loss experiment 1, by the harness: the one result present
    table = kernel.run(loss["c9b11133"])
    assert re.search(r"late subscriber: 100 of 200 lost, all 100 `PUBLISH` returned 0", table)
    assert "no `latency`: run *The baseline* and *Pub/sub end-to-end latency* above" in table
    assert "no `away`: run *Loss experiment 2* above" in table
    assert "no `restart`: run *Loss experiment 4* above" in table
    assert "no `slow`: run *Loss experiment 3* above" in table


# ------------------------------------------------------------------ 06: Streams


@pytest.fixture
def streams(kernel: Kernel) -> dict[str, str]:
    """Notebook 06's set-up cell, run in the kernel."""
    source = cells(STREAMS)
    kernel.run(source["6fee3984"])
    return source


def test_orders_demo_lives_in_the_learners_namespace_and_reruns_alike(
    kernel: Kernel, streams: dict[str, str], client: redis.Redis
) -> None:
    neighbour = "orders-demo"  # someone without a namespace on the same server
    client.delete(neighbour)
    client.xgroup_create(neighbour, "billing", id="$", mkstream=True)
    client.xadd(neighbour, {"order": "theirs"})
    client.xreadgroup("billing", "their-worker", {neighbour: ">"})
    ours = f"{NAMESPACE}:orders-demo"
    for _run in range(2):  # the first cell alone, twice: the same three entries
        output = kernel.run(streams["3d1761d2"])
        assert output.count(f"XADD {ours} ->") == 3
        assert client.xlen(ours) == 3
    assert "pending: 3" in kernel.run(streams["eb42a4e8"])
    assert "pending: 0" in kernel.run(streams["98ba32b8"])
    assert not client.exists(ours)  # the demo cleans up after itself
    assert client.xlen(neighbour) == 1
    assert client.xpending(neighbour, "billing")["pending"] == 1  # their work untouched
    client.delete(neighbour)


def test_the_consumer_loop_takes_over_what_a_crash_left_and_acknowledges_all(
    kernel: Kernel, streams: dict[str, str]
) -> None:
    kernel.run(streams["5d0c8e61"])
    demo = edited(
        streams["e8d2b913"],
        "guess = None  # two numbers: (handled by worker-2, still pending at the end)",
        "guess = (10, 0)",
    )
    output = kernel.run(demo)
    assert "worker-2 handled 10 orders, in this order: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in output
    assert "still pending: 0" in output
    assert "you guessed (10, 0): right" in output


def test_a_consumer_that_never_acknowledges_leaves_every_entry_pending(
    kernel: Kernel, streams: dict[str, str]
) -> None:
    line = "r.xack(stream, group, entry_id)  # done: out of the pending entries list"
    consumer = streams["5d0c8e61"]
    output = kernel.run_edited(consumer, edited(consumer, line, ""), then=streams["e8d2b913"])
    assert "worker-2 handled 10 orders" in output
    assert "still pending: 10" in output


def test_waiting_for_a_longer_idle_time_leaves_the_crashed_work_pending(
    kernel: Kernel, streams: dict[str, str]
) -> None:
    kernel.run(streams["5d0c8e61"])
    patient = streams["e8d2b913"].replace("idle_ms=0)", "idle_ms=60_000)")
    assert patient != streams["e8d2b913"]
    output = kernel.run(patient)
    assert "worker-2 handled 6 orders" in output
    assert "still pending: 4" in output


def test_four_faults_table_says_which_fault_to_run_when_one_was_skipped(
    kernel: Kernel, streams: dict[str, str]
) -> None:
    kernel.without_private_server(RESULTS + STREAM_RESULTS)
    assert kernel.run(streams["2f2c76d4"]).startswith("skipped: no private server")
    assert kernel.run(streams["2d78dd73"]).startswith("skipped: no private server")
    kernel.run(streams["0a3190f6"])  # fault 1 only
    table = kernel.run(streams["6a87c448"])
    assert "| late consumer | 100 of 200 | 0 of 200 | 0 |" in table
    assert "no `away`: run *Fault 2* above" in table
    assert "no `slow`: run *Fault 3* above" in table
    assert "no `restart`: run *Fault 4* above" in table
