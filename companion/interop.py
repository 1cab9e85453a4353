"""Move weights between single-layer ``torch.nn.RNN``/``LSTM``/``GRU`` modules and the
parameter dicts of ``companion.ref``.

torch stores a layer's weights as ``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0`` and ``bias_hh_l0`` (G*H,), gates stacked in the order i, f, g, o (LSTM) and
r, z, n (GRU). ``companion.ref`` uses the same layout under the names of ``conventions.md``
(``companion.families.PARAMETERS`` maps one to the other), so each direction is a copy with
shape checks, no reshuffling.

What is assumed, and checked: one layer, one direction, ``bias=True``, and for an LSTM no
projection (``proj_size=0``). A module that has more parameters than those four is rejected
with the names of the ones that would be left behind; ``batch_first`` does not matter (it
changes the input's layout, not the weights'). numpy has no bfloat16: a bfloat16 module's
weights are converted exactly through float32 when ``dtype`` is given, and rejected with
``dtype=None``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from companion import families
from companion.families import PARAMETERS


def params_from_torch(module, dtype: type | None = np.float64) -> dict[str, np.ndarray]:
    """Copy a single-layer torch RNN/LSTM/GRU's weights into a ``companion.ref`` dict.

    Args:
        module: ``torch.nn.RNN``, ``LSTM`` or ``GRU`` with one layer, one direction, biases
            and (LSTM) no projection.
        dtype: numpy floating dtype of the copies (float64 by default, for gradient checks);
            None keeps the module's dtype, which numpy must have (not bfloat16).

    Returns:
        ``{"W_ih": (G*H, D), "W_hh": (G*H, H), "b_ih": (G*H,), "b_hh": (G*H,)}``, copies.

    Raises:
        TypeError: not such a module; ``dtype`` not a floating dtype; ``dtype=None`` with a
            bfloat16 module.
        ValueError: a module with more parameters than one layer's four (the message names
            them).
    """
    import torch

    _check_module(module)
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a numpy floating dtype or None; got {dtype!r}")
    out = {}
    for ours, theirs in PARAMETERS.items():
        weight = getattr(module, theirs).detach().cpu()
        if weight.dtype == torch.bfloat16:
            if dtype is None:
                raise TypeError(
                    f"{theirs} is bfloat16, which numpy has no dtype for; pass dtype=np.float32 "
                    "or np.float64 (either holds every bfloat16 value exactly)"
                )
            weight = weight.float()  # exact: bfloat16 is float32 with a shorter mantissa
        a = weight.numpy()
        out[ours] = a.astype(dtype) if dtype is not None else a.copy()
    return out


def params_to_torch(params: dict[str, np.ndarray], module) -> None:
    """Copy a ``companion.ref`` parameter dict into a single-layer torch module, in place.

    ``params`` is keyed ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``, shapes exactly the module's;
    values are cast to the module's dtype. Raises TypeError for a module that is not a
    ``torch.nn.RNN``, ``LSTM`` or ``GRU``, and ValueError for a module with more parameters
    than one layer's four, for missing keys (naming the expected ones, and saying so when the
    dict uses torch's names), and for a wrong shape.
    """
    import torch

    _check_module(module)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict keyed {tuple(PARAMETERS)}; got {type(params)}")
    missing = [k for k in PARAMETERS if k not in params]
    if missing:
        torch_keys = [k for k in params if k in PARAMETERS.values()]
        hint = (
            f"; it has torch's names {torch_keys}, which companion.families.PARAMETERS maps "
            "(or copy a state_dict with module.load_state_dict)"
            if torch_keys
            else ""
        )
        raise ValueError(
            f"params is missing {missing}; expected companion.ref's names {tuple(PARAMETERS)}"
            + hint
        )
    with torch.no_grad():
        for ours, theirs in PARAMETERS.items():
            target = getattr(module, theirs)
            value = np.asarray(params[ours])
            if value.shape != tuple(target.shape):
                raise ValueError(
                    f"params[{ours!r}] must have shape {tuple(target.shape)} to fit "
                    f"{type(module).__name__}.{theirs}; got {value.shape}"
                )
            target.copy_(torch.as_tensor(value, dtype=target.dtype))


def _check_module(module) -> families.Family:
    """The module's family, if its parameters are exactly one layer's four."""
    family = families.of_torch_module(module)
    extra = [name for name, _ in module.named_parameters() if name not in PARAMETERS.values()]
    if extra or not module.bias:
        lstm = family.name == "lstm"
        settings = (
            f"num_layers={module.num_layers}, bidirectional={module.bidirectional}, "
            f"bias={module.bias}" + (f", proj_size={module.proj_size}" if lstm else "")
        )
        what = f"has {', '.join(extra)}" if extra else "has no biases"
        raise ValueError(
            f"this {family.torch_name} {what} ({settings}), but a companion.ref dict holds one "
            f"layer of one direction: {', '.join(PARAMETERS.values())}; expected num_layers=1, "
            "bidirectional=False, bias=True" + (", proj_size=0" if lstm else "")
        )
    return family
