"""The lesson cells of notebooks 03 and 04 (JSON-RPC), in a real kernel against a real Redis.

Two kinds of check, cell by cell, as a learner works:
- **safe to re-run:** a cell run again on its own gives the same answer. 04 once proved
  that `slow` ran with whatever message the listener had heard last; it must read the
  message it waits for, even with other messages on the channel.
- **open the box:** one line of a lesson cell edited, as a learner would edit it, changes
  what the cell shows. That proves the code in the cell is the code that runs: the server's
  handler calls `dispatch`, a method's body is the answer, the Redis worker sends the reply.
"""

from __future__ import annotations

import contextlib
import copy
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.support import NOTEBOOKS

NB03 = NOTEBOOKS / "03_json_rpc.ipynb"
NB04 = NOTEBOOKS / "04_json_rpc_failures_and_transports.ipynb"


class Lesson:
    """A notebook's cells, run by id in one live kernel."""

    def __init__(self, client: NotebookClient, nb: nbformat.NotebookNode) -> None:
        self.client, self.nb = client, nb
        # nbclient puts each executed cell into nb.cells: keep the notebook's own sources.
        self.sources = {cell.id: cell.source for cell in nb.cells}

    def index(self, cell_id: str) -> int:
        for index, cell in enumerate(self.nb.cells):
            if cell.id == cell_id:
                return index
        raise KeyError(f"{cell_id} is not a cell of this notebook: update the test")

    def source(self, cell_id: str) -> str:
        self.index(cell_id)  # a clear message for an id that is gone
        return self.sources[cell_id]

    def edited(self, cell_id: str, old: str, new: str) -> str:
        """The cell's source with one line changed; fails if `old` is no longer in it."""
        source = self.source(cell_id)
        assert source.count(old) == 1, f"cell {cell_id} no longer holds {old!r} once"
        return source.replace(old, new)

    def run(self, cell_id: str, source: str | None = None) -> str:
        """Run one cell (or an edited version of it) and return what it showed, as text."""
        index = self.index(cell_id)
        cell = copy.deepcopy(self.nb.cells[index])
        cell.source = self.sources[cell_id] if source is None else source
        self.client.execute_cell(cell, index)
        return shown(cell)

    def run_until(self, cell_id: str) -> str:
        """Run every code cell from the top through `cell_id`, none failing; its output."""
        last = self.index(cell_id)
        for cell in self.nb.cells[: last + 1]:
            if cell.cell_type == "code":
                out = self.run(cell.id)
                assert "ERROR" not in out and "STDERR" not in out, f"cell {cell.id}: {out}"
        return out


def shown(cell: nbformat.NotebookNode) -> str:
    """Printed text, displayed text, stderr and errors of a cell, in order."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text if output.name == "stdout" else f"STDERR {output.text}")
        elif output.output_type == "error":
            parts.append(f"ERROR {output.ename}: {output.evalue}")
        else:
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@contextlib.contextmanager
def lesson(path: Path) -> Iterator[Lesson]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    with client.setup_kernel():
        yield Lesson(client, nb)


@contextlib.contextmanager
def port_held(port: int) -> Iterator[bool]:
    """Listen on `port` for the duration; True if this test holds it (False: someone else does)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
    except OSError:
        holder.close()
        yield False
        return
    try:
        yield True
    finally:
        holder.close()


def test_03_the_server_cell_serves_its_handler_and_methods_and_reruns_on_a_busy_port() -> None:
    with lesson(NB03) as nb:
        with port_held(3000) as held_here:
            served = nb.run_until("2e88d009")  # the server written in the cell
            call = nb.run("f791c3f8")  # POST add(3, 4) by hand
        if held_here:
            assert "port 3000 is busy" in served, served
            assert ":3000/" not in served, "the server took a port it could not have"
        assert '200 {"jsonrpc": "2.0", "result": 7, "id": 1}' in call, call

        # Re-run the server cell alone: it replaces its own server, with no traceback.
        again = nb.run("2e88d009")
        assert "serving on http://127.0.0.1:" in again and "ERROR" not in again, again
        assert nb.run("f791c3f8") == call

        # Open the box: a method's body is the answer, with no restart of the server.
        methods_cell = nb.edited("6be2b1af", "return Success(a + b)", "return Success(a * b)")
        assert "ERROR" not in nb.run("6be2b1af", methods_cell)
        assert '"result": 12' in nb.run("f791c3f8")
        nb.run("6be2b1af")
        assert nb.run("f791c3f8") == call

        # The predict-then-run cell swaps in a bug and puts the right `add` back.
        assert "the running server answered 12" in nb.run("nb03-47")
        assert nb.run("f791c3f8") == call

        # Open the box: a handler that never calls dispatch answers nothing at all.
        handler = nb.edited(
            "2e88d009",
            "jsonrpcserver.dispatch(body.decode(), methods=methods).encode()",
            'b""',
        )
        assert "ERROR" not in nb.run("2e88d009", handler)
        silent = nb.run("f791c3f8")
        assert silent.rstrip().endswith("<-- 204"), silent
        assert "ERROR" not in nb.run("2e88d009")  # the real handler again
        assert nb.run("f791c3f8") == call

        # The hardened server takes over; the clean-up leaves nothing registered.
        nb.run("nb03-49")
        assert "add(3, 4) = 7" in nb.run("7fdc7749")
        assert "stopped: ['json-rpc']" in nb.run("f1d4c19f")


def test_04_rerun_cells_read_the_message_they_wait_for_and_the_worker_sends_the_reply() -> None:
    with lesson(NB04) as nb:
        first = nb.run_until("c5123e19")  # "did slow run?": the ticket's own message
        assert re.search(r"heard 'slow [0-9a-f]{8} finished': True", first), first

        # Other messages on the channel since then: a re-run alone still finds its own.
        decoys = "for n in range(3): r.publish(EVENTS, f'slow decoy{n} finished')"
        assert "ERROR" not in nb.run("nb04r-04", nb.source("nb04r-04") + "\n" + decoys)
        assert nb.run("c5123e19") == first
        assert nb.run("c5123e19") == first

        # The notification cell, re-run alone, hears its own new text.
        for _ in range(2):
            assert re.search(r"heard 'hello from a notification \w+': True", nb.run("915ad975"))

        # The Redis worker written in the cell: BRPOP, dispatch, LPUSH the reply.
        nb.run("e786f348")  # the server is back on its port after the restart cell
        assert "ERROR" not in nb.run("nb04r-27")
        calls = nb.run("193cf000")
        assert "Ok(result=7, id=" in calls and "ERROR" not in calls, calls

        # Open the box: a worker that never pushes the reply leaves the client waiting.
        mute = nb.edited("nb04r-27", 'conn.lpush(envelope["reply_to"], answer)', "pass")
        assert "ERROR" not in nb.run("nb04r-27", mute)  # the re-run replaces the worker
        quick = nb.edited("193cf000", "timeout=5.0", "timeout=0.5")
        waited = nb.run("193cf000", quick)
        assert "ERROR TimeoutError: no reply on" in waited, waited

        # The real worker again, re-run alone: the same replies as before.
        assert "ERROR" not in nb.run("nb04r-27")
        assert "Ok(result=7, id=" in nb.run("193cf000")

        # The hardened worker replaces it; the clean-up stops everything it started.
        assert "Error(code=-32600" in nb.run("nb04r-30")
        stopped = nb.run("nb04r-35")
        assert "json-rpc over redis" in stopped and "rpc-events listener" in stopped, stopped
