"""The notebook setup helper seeds, limits threads and applies the style; activations."""

import importlib
import subprocess
import sys

import matplotlib as mpl
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from companion import setup
from companion.ref import activations


def test_setup_is_reproducible():
    rng = setup(seed=3)
    a = (rng.standard_normal(4), np.random.rand(2), torch.rand(2))  # noqa: NPY002
    rng = setup(seed=3)
    b = (rng.standard_normal(4), np.random.rand(2), torch.rand(2))  # noqa: NPY002
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert torch.equal(a[2], b[2])


def test_setup_limits_threads_and_applies_style():
    setup(seed=0, threads=1)
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert mpl.rcParams["savefig.transparent"] is False


@pytest.mark.parametrize("kw", [{"seed": -1}, {"seed": 1.5}, {"threads": 0}])
def test_setup_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        setup(**kw)


def test_ref_does_not_import_torch():
    code = "import sys, companion.ref, companion.ref.rnn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activation_derivatives_match_finite_differences(name):
    phi, dphi = activations.get(name)
    a = np.linspace(-4, 4, 81)
    a = a[np.abs(a) > 1e-3]  # relu has a kink at 0
    eps = 1e-6
    numeric = (phi(a + eps) - phi(a - eps)) / (2 * eps)
    np.testing.assert_allclose(dphi(a), numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_does_not_overflow():
    with np.errstate(all="raise"):
        s = activations.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        activations.get("gelu")


def test_package_has_a_version():
    import companion

    assert importlib.metadata.version("companion") == companion.__version__


def test_chinese_font_draws_chinese_glyphs_when_one_is_installed():
    import shutil
    import subprocess
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from companion.style import chinese_font

    name = chinese_font()
    listed = (
        shutil.which("fc-list")
        and subprocess.run(
            ["fc-list", ":lang=zh"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    if not listed:
        assert name is None
        return
    assert name
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "三十四万亿零", fontfamily=name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns
        fig.canvas.draw()
    plt.close(fig)
