"""Shared pytest configuration: the Agg backend, and the order in which ``make test`` works.

``make test`` runs pytest on two workers with ``--dist loadscope --no-loadscope-reorder``: each
test module, each test class and each notebook (nbval needs a notebook's cells in one kernel)
is a unit that one worker runs whole, and the workers take units in the order of the
collection. Executing the chapters is almost all of the time, and each chapter runs twice (by
nbval, and as a student notebook, one class per chapter in tests/test_student_edition.py). So
the collection is reordered here, longest units first, from each notebook's run time as its
committed outputs record it: the workers then finish within one short unit of each other.
"""

import datetime
import json
import pathlib

import matplotlib

matplotlib.use("Agg")


def pytest_configure(config):
    # Before any test runs a torch kernel: the numerical environment the notebooks run in
    # (companion.setup() in a test would otherwise find torch's kernels already chosen).
    from companion import numerics

    numerics.apply()


def notebook_seconds(path: pathlib.Path) -> float:
    """Run time of a notebook, from the execution timestamps stored with its outputs."""
    total = 0.0
    for cell in json.loads(path.read_text())["cells"]:
        stamps = cell.get("metadata", {}).get("execution", {})
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if start and end:
            parse = datetime.datetime.fromisoformat
            total += (
                parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))
            ).total_seconds()
    return total


def _notebook_of(item) -> pathlib.Path | None:
    path = pathlib.Path(str(item.path))
    if path.suffix == ".ipynb":
        return path
    chapter = getattr(item.cls, "chapter", None) if getattr(item, "cls", None) else None
    return pathlib.Path(chapter) if chapter else None


def pytest_collection_modifyitems(config, items):
    cost: dict[pathlib.Path, float] = {}

    def seconds(item) -> float:
        path = _notebook_of(item)
        if path is None:
            return 0.0
        if path not in cost:
            cost[path] = notebook_seconds(path)
        return cost[path]

    items.sort(key=lambda item: -seconds(item))  # stable: a unit's tests keep their order
