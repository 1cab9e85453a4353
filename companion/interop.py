"""Move weights between single-layer ``torch.nn.RNN``/``LSTM``/``GRU`` modules and the
parameter dicts of ``companion.ref``.

torch stores a layer's weights as ``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0`` and ``bias_hh_l0`` (G*H,), gates stacked in the order i, f, g, o (LSTM) and
r, z, n (GRU). ``companion.ref`` uses the same layout under the names of ``conventions.md``,
so each direction is a copy with shape checks, no reshuffling.
"""

from __future__ import annotations

import numpy as np

_TORCH_NAMES = {
    "W_ih": "weight_ih_l0",
    "W_hh": "weight_hh_l0",
    "b_ih": "bias_ih_l0",
    "b_hh": "bias_hh_l0",
}
#: number of stacked blocks per torch module class name
BLOCKS = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _check_module(module) -> int:
    import torch

    if not isinstance(module, torch.nn.RNNBase):
        raise TypeError(f"module must be a torch.nn.RNN, LSTM or GRU; got {type(module).__name__}")
    kind = type(module).__name__
    if kind not in BLOCKS:
        raise TypeError(f"module must be a torch.nn.RNN, LSTM or GRU; got {kind}")
    if module.num_layers != 1 or module.bidirectional:
        raise ValueError(
            "only single-layer, unidirectional modules map onto one parameter dict; got "
            f"num_layers={module.num_layers}, bidirectional={module.bidirectional}"
        )
    if not module.bias:
        raise ValueError("module must have bias=True (the dicts always hold b_ih and b_hh)")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"LSTM with proj_size={module.proj_size} is not supported; expected 0")
    return BLOCKS[kind]


def params_from_torch(module, dtype: type | None = np.float64) -> dict[str, np.ndarray]:
    """Copy a single-layer torch RNN/LSTM/GRU's weights into a ``companion.ref`` dict.

    Args:
        module: ``torch.nn.RNN``, ``LSTM`` or ``GRU`` with ``num_layers=1``.
        dtype: numpy dtype of the copies (float64 by default, for gradient checks);
            None keeps the module's dtype.
    """
    _check_module(module)
    out = {}
    for ours, theirs in _TORCH_NAMES.items():
        a = getattr(module, theirs).detach().cpu().numpy()
        out[ours] = a.astype(dtype) if dtype is not None else a.copy()
    return out


def params_to_torch(params: dict[str, np.ndarray], module) -> None:
    """Copy a ``companion.ref`` parameter dict into a single-layer torch module, in place.

    Shapes must match the module's exactly; values are cast to the module's dtype.
    """
    import torch

    _check_module(module)
    missing = [k for k in _TORCH_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {tuple(_TORCH_NAMES)}")
    with torch.no_grad():
        for ours, theirs in _TORCH_NAMES.items():
            target = getattr(module, theirs)
            value = np.asarray(params[ours])
            if value.shape != tuple(target.shape):
                raise ValueError(
                    f"params[{ours!r}] must have shape {tuple(target.shape)} to fit "
                    f"{type(module).__name__}.{theirs}; got {value.shape}"
                )
            target.copy_(torch.as_tensor(value, dtype=target.dtype))
