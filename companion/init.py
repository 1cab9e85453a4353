"""Initialisations of the recurrent matrix W_hh: a target spectral radius, orthogonal, identity.

Backpropagation multiplies the gradient by W_hh^T once per step (chapter 3), so the spectrum
of W_hh at initialisation decides whether early gradients shrink or grow with distance.

- **Spectral radius.** ``rho(W) = max_i |lambda_i(W)|``. Scaling W by s scales every eigenvalue by
  s, so ``scale_to_radius(W, r)`` returns W * r / rho(W), whose radius is exactly r (up to
  rounding). For a non-normal W the largest singular value sigma_max(W) >= rho(W) can be
  larger; the powers W^k still behave like rho^k for large k (Gelfand's formula).
- **Orthogonal** (Saxe, McClelland and Ganguli 2014): Q with Q^T Q = I, drawn uniformly (Haar)
  as the Q factor of a Gaussian matrix with the signs of R's diagonal folded into Q. Every
  singular value is 1, so ||Q^k v|| = ||v|| for every k: W_hh alone neither shrinks nor grows.
- **Identity** (the IRNN of Le, Jaitly and Hinton 2015): W_hh = I (optionally scaled), biases
  zero, used with relu, so that with zero input the state is copied unchanged.

Functions come in two flavours: numpy (returning new arrays or a new parameter dict of
``companion.ref``) and torch (``init_torch_``, modifying a module's ``weight_hh_l0`` in place).
For gated cells with G stacked blocks (LSTM G = 4, GRU G = 3) each (H, H) block is set alike.
"""

from __future__ import annotations

import numpy as np

METHODS = ("radius", "orthogonal", "identity")


def _square(name: str, W: object) -> np.ndarray:
    if not isinstance(W, np.ndarray) or not np.issubdtype(W.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating numpy array; got {getattr(W, 'dtype', type(W))}"
        )
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        raise ValueError(f"{name} must be a square matrix of shape (H, H); got shape {W.shape}")
    return W


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{name} must be a positive integer; got {v!r}")
    return int(v)


def _rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng


def spectral_radius(W: np.ndarray) -> float:
    """rho(W), the largest absolute eigenvalue of a square matrix W (H, H), in float64."""
    W = _square("W", W)
    return float(np.max(np.abs(np.linalg.eigvals(W.astype(np.float64)))))


def largest_singular_value(W: np.ndarray) -> float:
    """sigma_max(W) = ||W||_2, the spectral norm; sigma_max(W) >= rho(W), equal if W is normal."""
    W = _square("W", W)
    return float(np.linalg.norm(W.astype(np.float64), ord=2))


def scale_to_radius(W: np.ndarray, radius: float) -> np.ndarray:
    """Return W * radius / rho(W), a copy of W (H, H) with spectral radius ``radius``.

    Raises ValueError if ``radius`` is negative or not finite, or if rho(W) = 0 (a nilpotent
    matrix, e.g. strictly triangular, cannot be scaled to a non-zero radius).
    """
    W = _square("W", W)
    if not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius must be a finite number >= 0; got {radius!r}")
    rho = spectral_radius(W)
    if rho < 1e-12 * max(1.0, float(np.abs(W).max())):
        raise ValueError(f"W has spectral radius {rho:.3g} (nilpotent); it cannot be rescaled")
    W64 = W.astype(np.float64) * (radius / rho)
    return W64.astype(W.dtype)


def orthogonal(H: int, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """A Haar-random orthogonal matrix (H, H), times ``gain``, in float64.

    Q, R = qr(A) with A standard normal; multiplying column j of Q by sign(R_jj) makes the
    distribution exactly uniform over the orthogonal group (Mezzadri 2007).
    """
    H = _positive_int("H", H)
    A = _rng(rng).standard_normal((H, H))
    Q, R = np.linalg.qr(A)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return gain * Q * signs  # scale column j by sign(R_jj)


def identity(H: int, gain: float = 1.0) -> np.ndarray:
    """``gain`` times the identity matrix (H, H), in float64."""
    return gain * np.eye(_positive_int("H", H))


def recurrent_matrix(
    H: int,
    method: str,
    rng: np.random.Generator | None = None,
    radius: float = 1.0,
    W: np.ndarray | None = None,
) -> np.ndarray:
    """One (H, H) recurrent matrix by ``method``, in float64.

    - 'radius': ``W`` (or, if None, a standard normal matrix drawn from ``rng``) scaled to
      spectral radius ``radius``;
    - 'orthogonal': ``radius`` times a random orthogonal matrix (every singular value = radius);
    - 'identity': ``radius`` times the identity.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    H = _positive_int("H", H)
    if method == "identity":
        return identity(H, radius)
    if method == "orthogonal":
        return orthogonal(H, _rng(rng), radius)
    if W is None:
        W = _rng(rng).standard_normal((H, H))
    if _square("W", W).shape != (H, H):
        raise ValueError(f"W must have shape (H, H) = ({H}, {H}); got {W.shape}")
    return scale_to_radius(W.astype(np.float64), radius)


def init_params(
    params: dict[str, np.ndarray],
    method: str,
    rng: np.random.Generator | None = None,
    radius: float = 1.0,
    zero_bias: bool | None = None,
) -> dict[str, np.ndarray]:
    """A new ``companion.ref`` parameter dict with W_hh (G*H, H) re-initialised by ``method``.

    Each (H, H) block of W_hh gets ``recurrent_matrix(H, method, rng, radius, W=block)``; for
    'radius' the existing block is rescaled, so the direction of the weights is kept. Biases
    are set to zero if ``zero_bias`` (default: True for 'identity', as in the IRNN, else False).
    The dtype of every array is kept; the input dict is not modified.
    """
    if not isinstance(params, dict) or "W_hh" not in params:
        raise TypeError("params must be a dict with 'W_hh' (G*H, H), as companion.ref uses")
    W_hh = params["W_hh"]
    if not isinstance(W_hh, np.ndarray) or W_hh.ndim != 2 or W_hh.shape[0] % W_hh.shape[1]:
        raise ValueError(f"params['W_hh'] must have shape (G*H, H); got {np.shape(W_hh)}")
    H = W_hh.shape[1]
    blocks = [
        recurrent_matrix(H, method, rng, radius, W=W_hh[k : k + H].astype(np.float64))
        for k in range(0, W_hh.shape[0], H)
    ]
    out = {k: v.copy() for k, v in params.items()}
    out["W_hh"] = np.concatenate(blocks).astype(W_hh.dtype)
    if zero_bias if zero_bias is not None else method == "identity":
        for k in ("b_ih", "b_hh"):
            if k in out:
                out[k] = np.zeros_like(out[k])
    return out


def init_torch_(
    module,
    method: str,
    rng: np.random.Generator | None = None,
    radius: float = 1.0,
    zero_bias: bool | None = None,
):
    """Re-initialise ``weight_hh_l0`` of a torch RNN/GRU/LSTM in place, as ``init_params`` does.

    ``module`` is a ``torch.nn.RNN``, ``GRU`` or ``LSTM`` (one layer), or any module with such
    a one in its ``encoder`` attribute (``companion.models.SequenceModel``). The matrices are
    drawn in numpy from ``rng``, so numpy and torch get the same weights from the same seed.
    Returns the module.
    """
    import torch

    from companion.interop import params_from_torch, params_to_torch

    rnn = getattr(module, "encoder", module)
    if not isinstance(rnn, torch.nn.RNNBase):
        raise TypeError(
            f"module must be a torch.nn.RNN, GRU or LSTM, or have one as .encoder; "
            f"got {type(module).__name__}"
        )
    params = params_from_torch(rnn, dtype=np.float64)
    params_to_torch(init_params(params, method, rng, radius, zero_bias), rnn)
    return module
