"""Shared pytest configuration: the Agg backend, and how ``make test`` spreads the work.

``make test`` runs pytest on two workers with ``--dist loadgroup``. Every test file and every
notebook is one group, kept on one worker in order (nbval needs a notebook's cells in one
kernel), except that each chapter's student-edition run (tests/test_student_edition.py) joins
the group of the chapter's own notebook. The two executions of a chapter then go to one
worker together, and the groups, the largest first, balance across the workers far better
than one group holding every student run would.
"""

import pathlib

import matplotlib
import pytest

matplotlib.use("Agg")

STUDENT_RUN = "test_student_notebook_runs_to_its_first_check_which_fails_cleanly"


def _group(item: pytest.Item) -> str:
    path = pathlib.Path(str(item.path))
    if path.suffix == ".ipynb":
        return path.stem
    if getattr(item, "originalname", None) == STUDENT_RUN:
        return pathlib.Path(item.callspec.params["chapter"]).stem
    return path.name


def pytest_collection_modifyitems(config, items):
    if config.getoption("dist", "no") != "loadgroup":
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
