"""Lesson cells as a learner uses them: re-run alone, and edited, in a real kernel on real Redis.

A learner re-runs one cell out of order, or changes one line and runs it again. These
tests do the same with nbclient: a cell known to have gone stale on a re-run must give
the same kind of answer every time, and a one-line change to the code a lesson shows
must change what that code does (so the code in the cell is the code that runs).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import quiz
from tests.support import NOTEBOOKS

NB01 = "01_pubsub_fundamentals.ipynb"
NB02 = "02_publisher_subscriber_services.ipynb"


class Lesson:
    """One notebook's cells, run one at a time by id in a single real kernel."""

    def __init__(self, client: NotebookClient, nb: nbformat.NotebookNode) -> None:
        self.client, self.nb = client, nb
        self.sources = {cell.id: cell.source for cell in nb.cells}

    def source(self, cell_id: str, old: str | None = None, new: str = "") -> str:
        """The cell's source, with its one occurrence of `old` replaced by `new`."""
        text = self.sources[cell_id]
        if old is not None:
            assert text.count(old) == 1, f"cell {cell_id} no longer has {old!r} once:\n{text}"
            text = text.replace(old, new)
        return text

    def run(self, cell_id: str, source: str | None = None) -> str:
        """Run the cell (or `source` in its place); return its stdout, failing on any error."""
        return self.execute(source if source is not None else self.sources[cell_id], cell_id)

    def value(self, expression: str) -> Any:
        """Evaluate `expression` in the kernel and bring its value back through JSON."""
        out = self.execute(f"import json as _json\nprint(_json.dumps({expression}))", "probe")
        return json.loads(out.strip().splitlines()[-1])

    def execute(self, source: str, label: str) -> str:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        try:
            self.client.execute_cell(cell, len(self.nb.cells) - 1)
        finally:
            self.nb.cells.pop()
        errors = [
            f"{o['ename']}: {o['evalue']}" if o["output_type"] == "error" else o["text"]
            for o in cell.outputs
            if o["output_type"] == "error" or o.get("name") == "stderr"
        ]
        assert not errors, f"cell {label} failed:\n" + "\n".join(errors)
        return "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")


@contextmanager
def lesson(name: str) -> Iterator[Lesson]:
    """A fresh kernel with its own private Redis (REDIS_URL unset), for notebook `name`."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    with client.setup_kernel(env=env):
        yield Lesson(client, nb)


def test_01_fan_out_rerun_alone_counts_two_copies_and_reads_the_new_message() -> None:
    with lesson(NB01) as nb:
        for cell in ("nb01-01", "nb01-04", "nb01-06", "nb01-06", "nb01-08"):
            nb.run(cell)  # the listener cell twice: the first listener must not linger
        assert "PUBLISH returned 1" in nb.run("nb01-10")
        nb.run("nb01-10")  # two messages left unread in the listener's inbox
        for _ in range(3):
            out = nb.run("nb01-13")
            assert "PUBLISH returned 2" in out, out
            assert out.count("got one message, two copies") == 2, out
        assert nb.value("r.pubsub_numsub(CHANNEL)[0][1]") == 2
        nb.run("nb01-10")  # unread again: the latency cell must not trip over it
        assert "median of 200" in nb.run("nb01-15")


def test_01_pattern_and_late_subscriber_cells_rerun_alone_give_the_same_counts() -> None:
    with lesson(NB01) as nb:
        nb.run("nb01-01")
        nb.run("nb01-04")
        for _ in range(2):
            assert "PUBLISH returned 1" in nb.run("nb01-17")
            assert "PUBLISH returned 2" in nb.run("nb01-19")
        for _ in range(3):  # before, the last run's late subscriber heard the next run
            out = nb.run("nb01-23")
            assert "each PUBLISH returned: [0, 0, 0, 0, 0]" in out, out
            assert "received: None" in out, out
        assert "closed: ['late', 'news']" in nb.run("nb01-33")


def test_02_restart_cell_waits_for_the_subscribers_that_are_running() -> None:
    with lesson(NB02) as nb:
        for cell in ("nb02-01", "nb02-04", "nb02-05"):
            nb.run(cell)
        # Only one subscriber (the fan-out cell has not run): it used to wait for 3, in vain.
        for expected in (1, 3):
            if expected == 3:
                nb.run("nb02-14")  # two more subscribers
            out = nb.run("nb02-18")
            assert f"Redis stopped under {expected} subscribers." in out, out
            replies = nb.value("[reply.get('receivers') for reply in replies]")
            assert replies[-1] == expected and len(replies) < 200, replies
            assert "connected again: True" in nb.run("nb02-19")
        nb.run("nb02-32")


def test_02_open_the_box_one_changed_line_changes_who_hears() -> None:
    """Edit the hand-built services' code the way a learner would, and watch the result."""
    with lesson(NB02) as nb:
        for cell in ("nb02-01", "nb02-43", "nb02-45", "nb02-47"):
            nb.run(cell)
        nb.run("nb02-50")
        assert nb.value("answer['receivers']") == 1
        nb.run("nb02-52")
        assert nb.value("heard == [answer['published']]")

        # 1. The publisher publishes on another channel: nobody is queued a copy.
        elsewhere = 'r.publish(pubsub.channel("other_channel"), message)'
        nb.run("nb02-45", nb.source("nb02-45", "r.publish(CHANNEL, message)", elsewhere))
        nb.run("nb02-50")
        assert nb.value("answer['receivers']") == 0
        nb.run("nb02-45")  # put it back; the next ping arrives, so the one before would have
        nb.run("nb02-50")
        nb.execute("waiting.wait_until(lambda: len(heard) == 2, 'the second ping')", "wait")
        assert nb.value("heard[-1] == answer['published']")

        # 2. The subscriber subscribes to another channel: it hears that one, not ours.
        other = 'subscription.subscribe(pubsub.channel("other_channel"))'
        nb.run("nb02-47", nb.source("nb02-47", "subscription.subscribe(CHANNEL)", other))
        nb.run("nb02-50")
        assert nb.value("answer['receivers']") == 0
        nb.execute("r.publish(pubsub.channel('other_channel'), 'marker')", "publish")
        nb.execute("waiting.wait_until(lambda: heard, 'the marker')", "wait")
        assert nb.value("heard") == ["marker"]

        # Each re-run replaced what the cell started before: one listener, two HTTP servers.
        threads = nb.value("[t.name for t in threading.enumerate()]")
        assert sum(name.endswith("(listen)") for name in threads) == 1, threads
        assert sum(name.endswith("(serve_forever)") for name in threads) == 2, threads
        assert sorted(nb.value("background.running()")) == ["my publisher", "my subscriber"]


def test_02_busy_port_gets_a_short_message_and_a_free_port() -> None:
    with socket.socket() as holder, lesson(NB02) as nb:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        nb.run("nb02-01")
        nb.run("nb02-43")
        out = nb.run(
            "nb02-45", nb.source("nb02-45", "serve(Publisher, 8000,", f"serve(Publisher, {busy},")
        )
        assert re.search(rf"Port {busy} is busy \(.+\): the publisher uses port \d+\.", out), out
        assert nb.value("pub_server.server_port") != busy
        assert nb.value("services.request(f'{PUBLISHER}/ping')[0]") == 200
        nb.run("nb02-59")


@pytest.mark.parametrize("name", [NB01, NB02])
def test_01_02_self_checks_show_their_choices_and_there_is_a_prediction(name: str) -> None:
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    checks = 0
    for before, cell in zip(cells, cells[1:], strict=False):
        found = re.search(r'quiz\.check\("([\w-]+)"', cell.source)
        if cell.cell_type != "code" or not found:
            continue
        checks += 1
        question = quiz.QUESTIONS[found.group(1)]
        assert before.cell_type == "markdown" and question.text in before.source
        for letter, choice in question.choices.items():
            assert f"**{letter})** {choice}" in before.source, (name, found.group(1), letter)
    assert checks >= 2, f"{name} has {checks} self-checks"
    assert any("guess = None" in c.source for c in cells), "no predict-then-run cell"
