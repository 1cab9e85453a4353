"""Checks for the code exercises of chapter 3 (vanishing and exploding gradients).

Each ``check_*`` takes the learner's function, runs it on several cases whose answers come
from the companion's reference code (``companion.init``, ``companion.clip``,
``companion.probe``), prints one line per case and raises ``ExerciseCheckFailed`` if any
case fails. Each declares what its exercise asks to be written by hand (``by_hand``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion import clip, init, probe
from companion.exercises.core import AUTOGRAD, Case, by_hand, run_cases
from companion.ref.activations import get as _activation


@by_hand(
    "the rescaling to a spectral radius",
    ["companion.init.scale_to_radius", "companion.init.spectral_radius"],
)
def check_spectral_scale(fn: Callable) -> None:
    """``fn(W, rho) -> W_scaled``: W (H, H) rescaled to spectral radius ``rho``.

    The spectral radius is the largest absolute eigenvalue, not the largest singular value; the
    cases include non-symmetric matrices with complex eigenvalues, where the two differ.
    """
    hint = (
        "rho(W) = max |eigenvalue| (np.linalg.eigvals, then abs: eigenvalues can be complex); "
        "return W * rho / rho(W). The largest singular value (norm ord=2) is a different number."
    )
    rng = np.random.default_rng(3)
    rotation = np.array([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues +-2i
    shear = np.array([[0.5, 3.0], [0.0, 0.5]])  # radius 0.5, largest singular value ~3.1
    cases = []
    for name, W, rho in [
        ("2x2 rotation (complex eigenvalues), rho=1", rotation, 1.0),
        ("2x2 shear (non-normal), rho=0.9", shear, 0.9),
        ("diagonal with a negative entry, rho=1.5", np.diag([0.2, -3.0, 1.0]), 1.5),
        ("random 8x8, rho=0.5", rng.standard_normal((8, 8)), 0.5),
        ("random 32x32, rho=1.1", rng.standard_normal((32, 32)) / 4, 1.1),
    ]:
        cases.append(Case(name, (W, rho), init.scale_to_radius(W, rho), hint, rtol=1e-9))
    run_cases("check_spectral_scale", fn, cases)


def jacobian_product(W_hh: np.ndarray, a_seq: np.ndarray, nonlinearity: str = "tanh"):
    """The reference: dh_T/dh_0 = prod_{k=T}^{1} diag(phi'(a_k)) W_hh, shape (H, H).

    ``a_seq`` (T, H) holds the pre-activations a_1..a_T of one example.
    """
    _, dphi = _activation(nonlinearity)
    J = np.eye(W_hh.shape[0])
    for a in a_seq:  # a_1 first: J <- diag(phi'(a_k)) W_hh J
        J = dphi(a)[:, None] * W_hh @ J
    return J


@by_hand(
    "the product of the Jacobians",
    [
        "companion.exercises.ch03.jacobian_product",
        "companion.ref.rnn.backward",
        "companion.ref.rnn_fast.backward",
        "companion.probe.grad_norms",
        *AUTOGRAD,
    ],
    allowed=["companion.ref.activations"],
)
def check_jacobian_product(fn: Callable) -> None:
    """``fn(W_hh, a_seq, nonlinearity) -> J``: the Jacobian dh_T/dh_0 (H, H).

    ``a_seq`` (T, H) are the pre-activations of one example; J = Phi_T W_hh ... Phi_1 W_hh with
    Phi_k = diag(phi'(a_k)). The order matters: the newest step multiplies on the left.
    """
    hint = (
        "start from J = I and, for k = 1..T, set J = diag(phi'(a_k)) @ W_hh @ J; "
        "tanh'(a) = 1 - tanh(a)^2, relu'(a) = 1 where a > 0, else 0"
    )
    rng = np.random.default_rng(5)
    cases = []
    for name, T, H, nl in [
        ("one step, tanh", 1, 3, "tanh"),
        ("T=4, H=3, tanh", 4, 3, "tanh"),
        ("T=6, H=5, relu", 6, 5, "relu"),
        ("T=20, H=4, tanh", 20, 4, "tanh"),
    ]:
        W_hh = rng.standard_normal((H, H)) * 0.8
        a_seq = rng.standard_normal((T, H))
        expected = jacobian_product(W_hh, a_seq, nl)
        cases.append(Case(name, (W_hh, a_seq, nl), expected, hint, rtol=1e-9, atol=1e-12))
    run_cases("check_jacobian_product", fn, cases)


def _wrap_grads(fn: Callable) -> Callable:
    """Call ``fn(grads, max_norm)`` on a list of arrays; fail if it modifies them."""

    def wrapped(*args):
        *arrays, max_norm = args
        originals = [a.copy() for a in arrays]
        clipped, norm = fn(list(arrays), max_norm)
        if any(not np.array_equal(a, o) for a, o in zip(arrays, originals, strict=True)):
            raise ValueError("the function modified the gradients it was given; return new ones")
        return tuple(clipped), norm

    return wrapped


@by_hand(
    "the clipping by the global norm",
    [
        "companion.clip.clip_by_global_norm",
        "companion.clip.global_norm",
        "companion.clip.clip_grad_norm_",
        "companion.clip.torch_global_norm",
        "torch.nn.utils.clip_grad_norm_",
    ],
)
def check_clip_by_global_norm(fn: Callable) -> None:
    """``fn(grads, max_norm) -> (clipped, norm)``: clip a list of arrays by their global norm.

    ``norm`` is the global norm before clipping; ``clipped`` has the same shapes, rescaled by
    max_norm / norm when norm > max_norm and unchanged otherwise; the inputs are not modified.
    """
    hint = (
        "norm = sqrt(sum of squares over every array); if norm > max_norm, multiply every array "
        "by max_norm / norm; return new arrays (a list) and the norm before clipping"
    )
    rng = np.random.default_rng(7)
    raw = [
        ("large gradient is rescaled", [rng.standard_normal((3, 3)) * 10, rng.standard_normal(3)]),
        ("small gradient is unchanged", [rng.standard_normal((2, 4)) * 0.01, np.ones(2) * 0.01]),
        ("zero gradient stays zero", [np.zeros((2, 2)), np.zeros(3)]),
        ("exactly at the threshold", [np.array([3.0]), np.array([4.0])]),
    ]
    cases = []
    for name, grads in raw:
        max_norm = 5.0 if "threshold" in name else 1.0
        ref, norm = clip.clip_by_global_norm({str(k): g for k, g in enumerate(grads)}, max_norm)
        expected = (tuple(ref[str(k)] for k in range(len(grads))), float(norm))
        cases.append(Case(name, (*grads, max_norm), expected, hint, rtol=1e-9, atol=1e-12))
    run_cases("check_clip_by_global_norm", _wrap_grads(fn), cases)


@by_hand("the fit of the rate", ["companion.probe.fit_rate"])
def check_fit_rate(fn: Callable) -> None:
    """``fn(norms) -> r``: the geometric rate per step of norms indexed by t = 0..T.

    ``norms[t]`` = ||dL/dh_t||, so the distance is k = T - t; fit log norms[t] = c + k log r
    by least squares and return r.
    """
    hint = (
        "the distance is k = T - t, so reverse the index: k = np.arange(len(norms))[::-1]; "
        "slope = np.polyfit(k, np.log(norms), 1)[0]; r = exp(slope)"
    )
    rng = np.random.default_rng(11)
    k = np.arange(30)[::-1]
    cases = [
        Case("exact decay 0.8", (0.8 ** k.astype(float),), 0.8, hint, rtol=1e-9),
        Case("exact growth 1.3", (2.0 * 1.3 ** k.astype(float),), 1.3, hint, rtol=1e-9),
    ]
    noisy = 0.9**k * np.exp(0.1 * rng.standard_normal(k.size))
    cases.append(Case("noisy decay", (noisy,), probe.fit_rate(noisy), hint, rtol=1e-9))
    run_cases("check_fit_rate", fn, cases)
