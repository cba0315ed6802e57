"""The grader's line to one learner kernel: nbclient and jupyter_client, bounded.

A kernel runs in its submission's box (IPC sockets in its folder, the sandbox around
it). Whatever it sends is capped: output per cell, the size of one message, the time a
send may wait. A cell that times out is interrupted; a kernel that then still does not
answer is reported as lost, and the caller replays the notebook without that cell.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from typing import Any

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_event_loop, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from helpers import remote, sandbox
from helpers.grading.gradebook import MESSAGE_LIMIT

PROBE_TIMEOUT = 5  # seconds for the grader's own code in the kernel (a probe, the guard)
OUTPUT_LIMIT = 100_000  # characters of output kept per cell; the rest is dropped
BRIDGE_LIMIT = 8 * 2**20  # characters a judge's request may print (a long list of numbers)
MAX_MESSAGE = 16 * 2**20  # bytes of one message from a kernel; a larger one loses the kernel
SEND_TIMEOUT = 5000  # milliseconds a request to a kernel may wait to be sent
IOPUB_TIMEOUT = 10  # seconds between a cell's reply and its last output, at most
KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
# What stops a kernel from answering: its messages are lost, it died, or zmq gave up on it.
LOST = (CellTimeoutError, DeadKernelError, RuntimeError, zmq.ZMQError)


class Client(NotebookClient):
    """nbclient with a cap on how much output a cell may keep (print in a loop, huge errors)."""

    limit = OUTPUT_LIMIT

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 - nbclient's
        kept = self._kept.setdefault(cell_index, 0)
        content = msg.get("content", {})
        if msg["msg_type"] == "error":
            msg = copy.deepcopy(msg)
            msg["content"]["ename"] = str(content.get("ename", ""))[:100]
            msg["content"]["evalue"] = str(content.get("evalue", ""))[:MESSAGE_LIMIT]
            msg["content"]["traceback"] = []
        else:
            size = len(str(content.get("text", content.get("data", ""))))
            if kept + size > self.limit:
                return None
            self._kept[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[int, int] = {}

    def forget_timed_out_cell(self) -> None:
        """Stop nbclient's IOPub reader of a cell that timed out.

        nbclient leaves it running on its event loop, where it would take (and drop)
        the outputs of the cells after it, a probe's or a judge's request included.
        """
        for task in asyncio.all_tasks(ensure_event_loop()):
            if task.get_coro().__qualname__.endswith("._async_poll_output_msg"):
                task.cancel()


class BoxedKernelManager(AsyncKernelManager):
    """A kernel in a submission's box: IPC sockets in its folder, the sandbox around it."""

    def __init__(self, box: sandbox.Box, **kwargs: Any) -> None:
        super().__init__(
            transport="ipc",
            ip=str(box.run / "k"),
            connection_file=str(box.run / "kernel.json"),
            **kwargs,
        )
        self.box = box
        self._spec = KernelSpec(
            argv=KERNEL_ARGV, language="python", display_name="Python 3", interrupt_mode="message"
        )

    @property
    def kernel_spec(self) -> KernelSpec:
        return self._spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.box.wrap(super().format_kernel_cmd(extra_arguments))

    def client(self, **kwargs: Any) -> Any:
        """The grader's client: a kernel message larger than MAX_MESSAGE is never read.

        ZeroMQ then drops that connection for good, so the kernel is lost: its reply never
        comes (the cell times out), a send to it fails after SEND_TIMEOUT instead of
        waiting forever, and the notebook is replayed without the cell, in a new kernel.
        """
        made = super().client(**kwargs)
        made.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        made.context.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT)
        made.context.setsockopt(zmq.LINGER, 0)
        return made


def new_client(nb: Any, box: sandbox.Box, cell_timeout: int) -> Client:
    """A client for `nb` whose kernel starts in `box` (started by client.setup_kernel)."""
    return Client(
        nb,
        km=BoxedKernelManager(box),
        timeout=cell_timeout,
        allow_errors=True,
        interrupt_on_timeout=False,
        raise_on_iopub_timeout=True,
        iopub_timeout=IOPUB_TIMEOUT,
        shutdown_kernel="immediate",
        startup_timeout=60,
        resources={"metadata": {"path": str(box.home)}},
    )


def printed(cell: Any) -> str:
    """What a run cell printed on stdout."""
    return "".join(
        output.text
        for output in cell.get("outputs", [])
        if output.output_type == "stream" and output.name == "stdout"
    )


def silent(client: Client, source: str, timeout: float) -> str:
    """Run grader code that is not part of the notebook, out of the kernel's history.

    Returns what it printed; raises CellTimeoutError or DeadKernelError as nbclient does.
    """
    cell = nbformat.v4.new_code_cell(source)
    client.timeout = max(1, int(timeout))
    client.nb.cells.append(cell)  # nbclient stores the executed cell back at its index
    client.limit = BRIDGE_LIMIT
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    finally:
        client.limit = OUTPUT_LIMIT
        client._kept.pop(len(client.nb.cells) - 1, None)
        client.nb.cells.pop()
    return printed(cell)


def ask(client: Client, code: str, timeout: float) -> str:
    """The judge's request to the kernel; KernelLost when it stops answering."""
    try:
        return silent(client, code, timeout)
    except CellTimeoutError:
        client.forget_timed_out_cell()
        if recovers(client):
            raise TimeoutError(
                f"your code did not answer the check within {timeout:.0f} s"
            ) from None
        raise remote.KernelLost(
            "hung",
            "the check's call into your code never returned and the kernel ignored the "
            "interrupt, so the question was skipped and the notebook re-run without it",
        ) from None
    except (DeadKernelError, zmq.ZMQError):
        raise remote.KernelLost(
            "died",
            "your code stopped the Python kernel during the check, so the notebook "
            "was re-run without this check",
        ) from None


def recovers(client: Client) -> bool:
    """Interrupt the kernel; True if it then answers a trivial request."""
    try:
        run_sync(client.km.interrupt_kernel)()
        silent(client, "pass", PROBE_TIMEOUT)
    except LOST:
        client.forget_timed_out_cell()
        return False
    return True
