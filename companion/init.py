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

- **Memory bias** (Gers, Schmidhuber and Cummins 2000; Jozefowicz et al. 2015): the bias of the
  gate that keeps the old state, the LSTM's forget gate f in c_t = f_t c_{t-1} + i_t g_t and
  the GRU's update gate z in torch's h_t = (1 - z_t) n_t + z_t h_{t-1}, set to b > 0, so that
  the gate starts near sigma(b) (0.95 for b = 3) and the state, and its gradient, survive
  many steps.

Functions come in two flavours: numpy (returning new arrays or a new parameter dict of
``companion.ref``) and torch (``init_torch_`` and ``set_memory_bias_``, modifying a module in
place). For gated cells with G stacked blocks (LSTM G = 4, GRU G = 3) each (H, H) block of
W_hh is set alike. The module imports numpy only; the torch functions import torch when
called, so that the numpy side needs no torch.
"""

from __future__ import annotations

import numpy as np

from companion import checks, families

METHODS = ("radius", "orthogonal", "identity")


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
    radius = checks.number("radius", radius, low=0.0)
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
    H, gain = checks.positive_int("H", H), checks.number("gain", gain)
    A = checks.generator(rng).standard_normal((H, H))
    Q, R = np.linalg.qr(A)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return gain * Q * signs  # scale column j by sign(R_jj)


def identity(H: int, gain: float = 1.0) -> np.ndarray:
    """``gain`` times the identity matrix (H, H), in float64."""
    return checks.number("gain", gain) * np.eye(checks.positive_int("H", H))


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
    checks.one_of("method", method, METHODS)
    H = checks.positive_int("H", H)
    if method == "identity":
        return identity(H, radius)
    if method == "orthogonal":
        return orthogonal(H, checks.generator(rng), radius)
    if W is None:
        W = checks.generator(rng).standard_normal((H, H))
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


def set_memory_bias_(module, value: float):
    """Set the bias of the gate that keeps the old state to ``value``, in place; return module.

    That gate is the LSTM's forget gate f (c = f c_prev + i g) and the GRU's update gate z in
    torch's convention (h = (1 - z) n + z h_prev): block ``blocks.index("f")`` or
    ``blocks.index("z")`` of ``companion.families`` (rows H:2H of the stacked biases in both).
    ``b_ih`` gets ``value`` there and ``b_hh`` 0, so that their sum, the bias of the
    equations, is ``value``; every layer and direction is set.

    ``module`` is a ``torch.nn.LSTM`` or ``GRU``, a ``companion.nn`` LSTM or GRU (cells,
    variants, ``Stacked``), or a model with one as its ``encoder`` (``SequenceModel``).
    Raises TypeError for a module without recurrent biases, ValueError for a family without
    such a gate (the plain RNN has one block) and for a ``value`` that is not a finite number.
    """
    import torch

    value = checks.number("value", value)
    encoder = getattr(module, "encoder", module)
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    params = dict(encoder.named_parameters())
    pairs = [(n, n.replace("bias_ih", "bias_hh")) for n in params if _is_bias_ih(n)]
    if not pairs or not all(hh in params for _, hh in pairs):
        raise TypeError(
            f"module must be an LSTM or a GRU (torch.nn or companion.nn), or hold one as "
            f".encoder; got {type(encoder).__name__}, which has no bias_ih and bias_hh"
        )
    H = encoder.hidden_size
    by_blocks = {family.G: family for family in families.FAMILIES.values()}
    with torch.no_grad():
        for ih, hh in pairs:
            family = by_blocks.get(params[ih].shape[0] // H)
            if family is None or family.keeps is None:
                raise ValueError(
                    f"a memory bias needs an LSTM (4 blocks) or a GRU (3 blocks); got "
                    f"{params[ih].shape[0] // H} block(s) of H={H} in {ih} of "
                    f"{type(encoder).__name__}"
                )
            k = family.blocks.index(family.keeps)
            params[ih][k * H : (k + 1) * H] = value
            params[hh][k * H : (k + 1) * H] = 0.0
    return module


def _is_bias_ih(name: str) -> bool:
    """Whether a parameter name is an input-side bias: bias_ih, bias_ih_l0, layers.1.bias_ih_l0."""
    last = name.rsplit(".", 1)[-1]
    return last == "bias_ih" or last.startswith("bias_ih_l")


def _square(name: str, W: object) -> np.ndarray:
    """``W`` if it is a square floating numpy matrix (H, H), H >= 1."""
    if not isinstance(W, np.ndarray) or not np.issubdtype(W.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating numpy array; got {getattr(W, 'dtype', type(W))}"
        )
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        raise ValueError(f"{name} must be a square matrix of shape (H, H); got shape {W.shape}")
    return W
