"""Every committed notebook is one that a reader can trust: run in order, cleanly, here."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
MACHINE_PATH = re.compile(
    r"(/root/|/home/\w+|/Users/\w+|/tmp/ipykernel_|/work/|site-packages/|C:\\\\Users)"
)
IGNORE_MARKERS = re.compile(r"NBVAL_(IGNORE_OUTPUT|SKIP|RAISES_EXCEPTION)")


def _code_cells(path):
    nb = json.loads(path.read_text())
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_is_python3(path):
    nb, _ = _code_cells(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_ran_in_order_from_one(path):
    _, cells = _code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}; re-run the notebook top to bottom in a fresh "
        "kernel (jupyter nbconvert --execute --inplace)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_and_no_machine_paths(path):
    _, cells = _code_cells(path)
    for k, cell in enumerate(cells):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}, code cell {k}: {out['ename']}"
            text = json.dumps(out.get("text", "")) + json.dumps(
                out.get("data", {}).get("text/plain", "")
            )
            match = MACHINE_PATH.search(text)
            assert not match, f"{path.name}, code cell {k}: output shows {match.group(0)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(path):
    """An nbval ignore marker is allowed only with a comment on the same cell saying why."""
    _, cells = _code_cells(path)
    for k, cell in enumerate(cells):
        src = "".join(cell["source"])
        if IGNORE_MARKERS.search(src) or set(cell["metadata"].get("tags", [])) & {
            "nbval-ignore-output",
            "nbval-skip",
        }:
            reason = re.search(r"#.*(because|why|varies|timing|wall-clock)", src, re.I)
            assert reason, f"{path.name}, code cell {k}: ignored output without a reason"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_calls_setup(path):
    _, cells = _code_cells(path)
    assert "setup(" in "".join(cells[0]["source"]), f"{path.name}: first cell must call setup"
