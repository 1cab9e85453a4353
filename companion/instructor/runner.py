"""Run a notebook in its own kernel with a time limit per cell and per notebook, come what may.

Errors do not stop the run (each cell's outcome is recorded and the next cell runs). A cell
that exceeds its time limit, or that kills the kernel (``os._exit``, a segfault, running out
of memory), is marked and skipped: the kernel is replaced by a fresh one and the notebook is
run again from the top without that cell, because the old kernel may be stuck (a loop that
catches ``KeyboardInterrupt`` ignores an interrupt) and its state is gone anyway. The
notebook's time limit bounds everything, re-runs included; cells not reached in time are
marked ``"not run"``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

MAX_RESTARTS = 5


@dataclass
class CellOutcome:
    """What happened to one code cell: ``status`` is ok, error, timeout, died or not run."""

    index: int
    status: str
    error: str = ""  # "ValueError: ..." for an error
    stdout: str = ""

    @property
    def ok(self) -> bool:
        """True if the cell ran to its end without an error."""
        return self.status == "ok"


def _summary(index: int, cell: nbformat.NotebookNode) -> CellOutcome:
    stdout = "".join(
        o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"
    )
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if errors:
        error = f"{errors[-1].ename}: {errors[-1].evalue}"
        return CellOutcome(index, "error", error, stdout)
    return CellOutcome(index, "ok", "", stdout)


def _client(nb: nbformat.NotebookNode, cwd: str, kernel_name: str) -> NotebookClient:
    return NotebookClient(
        nb,
        kernel_name=kernel_name,
        allow_errors=True,
        interrupt_on_timeout=False,  # a timeout raises; the kernel is then replaced
        shutdown_kernel="immediate",
        record_timing=False,
        startup_timeout=120,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not a warning per kernel started
        resources={"metadata": {"path": cwd}},
    )


def run_notebook(
    nb: nbformat.NotebookNode,
    cwd: str,
    cell_timeout: float,
    notebook_timeout: float,
    kernel_name: str = "python3",
) -> dict[int, CellOutcome]:
    """Execute the code cells of ``nb`` in place; return the outcome of each, by cell index.

    ``cwd`` is the kernel's working directory. The outputs are stored in ``nb``'s cells.
    """
    deadline = time.monotonic() + notebook_timeout
    failed: dict[int, CellOutcome] = {}  # cells skipped from now on: timed out or fatal
    for _ in range(MAX_RESTARTS + 1):
        outcomes, fatal = _attempt(nb, cwd, cell_timeout, deadline, kernel_name, failed)
        if fatal is None:
            return outcomes
        failed[fatal.index] = fatal
    return {**outcomes, **failed}


def _attempt(
    nb: nbformat.NotebookNode,
    cwd: str,
    cell_timeout: float,
    deadline: float,
    kernel_name: str,
    skip: dict[int, CellOutcome],
) -> tuple[dict[int, CellOutcome], CellOutcome | None]:
    """One run in a fresh kernel; returns the outcomes and the cell that stopped it, if any."""
    outcomes: dict[int, CellOutcome] = dict(skip)
    client = _client(nb, cwd, kernel_name)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in skip]
    try:
        with client.setup_kernel():
            for count, (index, cell) in enumerate(code, start=1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    for i, _ in code[count - 1 :]:
                        outcomes[i] = CellOutcome(i, "not run", "the notebook's time limit ran out")
                    return outcomes, None
                client.timeout = max(1, math.ceil(min(cell_timeout, remaining)))
                try:
                    client.execute_cell(cell, index, execution_count=count)
                except CellTimeoutError:
                    message = f"timed out after {client.timeout} s"
                    return outcomes, CellOutcome(index, "timeout", message)
                except DeadKernelError:
                    return outcomes, CellOutcome(index, "died", "the kernel died running it")
                outcomes[index] = _summary(index, cell)
    except RuntimeError as exc:  # the kernel would not start
        for i, _ in code:
            outcomes.setdefault(i, CellOutcome(i, "not run", f"no kernel: {exc}"))
    return outcomes, None
