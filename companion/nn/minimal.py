"""Minimal gated units: minGRU and minLSTM (Feng et al. 2024), and GRU variants in brief.

minGRU and minLSTM drop h_{t-1} from the gates and the candidate, so every gate is a function
of x_t alone and the recurrence becomes linear in h::

    minGRU:   z_t = sigma(W_z x_t + b_z),   n_t = g(W_n x_t + b_n)
              h_t = (1 - z_t) * h_{t-1} + z_t * n_t      (Chung et al.'s convention)
    minLSTM:  i_t = sigma(W_i x_t + b_i),  f_t = sigma(W_f x_t + b_f),  n_t = g(W_g x_t + b_g)
              f'_t, i'_t = f_t / (f_t + i_t), i_t / (f_t + i_t)
              h_t = f'_t * h_{t-1} + i'_t * n_t

minGRU's update is written, as Feng et al. write it, in the convention of Chung et al. (2014):
z_t is the fraction written, so z_t near 1 replaces the state by n_t. That is the opposite of
the book's PyTorch convention, h_t = (1 - z_t) * n_t + z_t * h_{t-1} (``companion.nn.GRU``),
where z_t near 1 keeps the state; a positive bias on z means "overwrite" here.

Both are h_t = a_t * h_{t-1} + b_t with a_t, b_t known for all t before the recurrence runs:
a *linear scan*, h_t = sum_{k<=t} (a_{k+1} ... a_t) b_k + (a_1 ... a_t) h_0. ``linear_scan``
runs it as a loop over t (T sequential steps), as the units do in mode 'sequential' (the time
loop of ``companion.nn.base``, whose step is that line); ``log_scan`` computes it for all t at
once, in log space with ``torch.cumsum`` and ``torch.logcumsumexp`` (the form of Feng et al.'s
code, after Heinsen 2023), which needs a_t > 0 and b_t > 0. That is why the candidate goes
through g(v) = v + 1/2 for v >= 0, sigmoid(v) for v < 0 (positive, continuous, linear for
large v) in both forms here, so that the two are the same function. In float32 the log-space
form loses precision as T grows (it adds and subtracts sums of T logs); in float64 it agrees
with the loop.

The GRU variants subclass chapter 5's ``companion.nn.GRU``: ``MinimalGatedUnit`` (Zhou et al.
2016, one forget gate for both of the GRU's) and ``GateSimplifiedGRU`` (Dey and Salem 2017,
gates from fewer inputs). This module imports torch and never matplotlib.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from companion import checks
from companion.nn.base import RecurrentBase, State
from companion.nn.gru import GRU

MODES = ("parallel", "sequential")


def g(v: torch.Tensor) -> torch.Tensor:
    """The positive candidate activation: v + 1/2 for v >= 0, sigmoid(v) for v < 0."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v), computed without forming g(v) for v < 0 (there log sigmoid = -softplus(-v))."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t for t = 1..T, one step at a time; returns h (T, B, H).

    ``a``, ``b`` (T, B, H) with T >= 1 (else ValueError); ``h0`` (B, H) or None for zeros. T
    sequential steps, O(T B H) work.
    """
    if len(b) == 0:
        raise ValueError(f"b has T = 0 steps (shape {tuple(b.shape)}); T must be >= 1")
    h = torch.zeros_like(b[0]) if h0 is None else h0
    out = []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


def log_scan(
    log_a: torch.Tensor, log_b: torch.Tensor, log_h0: torch.Tensor | None = None
) -> torch.Tensor:
    """The same scan for positive a, b, h0, from their logs, for all t at once; returns h.

    With A_t = sum_{k<=t} log a_k (a cumulative sum),
    log h_t = A_t + log sum_{k<=t} exp(log b_k - A_k) (a cumulative log-sum-exp). ``log_h0``
    (B, H) or None for h_0 = 0. Both cumulative operations are scans themselves, which parallel
    hardware does in O(log T) depth.
    """
    if log_h0 is not None:
        log_a = torch.cat([torch.zeros_like(log_h0)[None], log_a])  # (T+1, B, H)
        log_b = torch.cat([log_h0[None], log_b])
    a_star = torch.cumsum(log_a, dim=0)  # log (a_1 ... a_t)
    log_h = a_star + torch.logcumsumexp(log_b - a_star, dim=0)
    h = torch.exp(log_h)
    return h if log_h0 is None else h[1:]


class MinimalBase(RecurrentBase):
    """The minimal units' parameters and calling convention, as ``torch.nn.GRU``'s.

    Parameters ``weight_ih_l0`` (G H, D) and ``bias_ih_l0`` (G H,) only: no h_{t-1} in the
    gates. ``forward(x, h0=None, mode=None) -> (h_seq, h_T)``: x (T, B, D), T >= 1; h0
    (1, B, H) or None for zeros; h_seq (T, B, H), h_T (1, B, H). ``mode`` 'parallel'
    (log-space scan; h0 must be positive) or 'sequential' (the time loop of
    ``companion.nn.base``, one ``step`` h_t = a_t h_{t-1} + b_t per t); None uses
    ``self.mode``. A unit writes ``coefficients`` and ``log_coefficients``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        mode: str = "parallel",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        mode = checks.one_of("mode", mode, MODES)
        super().__init__(input_size, hidden_size, device=device, dtype=dtype)
        self.mode = mode

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().parameter_shapes()
        return {k: shapes[k] for k in ("weight_ih", "bias_ih")}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode!r}"

    def coefficients(self, ax: torch.Tensor):
        """(a, b) of the scan h_t = a_t h_{t-1} + b_t, from ax = W x + b (..., G H)."""
        raise NotImplementedError

    def log_coefficients(self, ax: torch.Tensor):
        """(log a, log b), computed stably from the pre-activations."""
        raise NotImplementedError

    def step(self, ax_t: torch.Tensor, state: State) -> tuple[State, dict[str, torch.Tensor]]:
        """h_t = a_t * h_{t-1} + b_t."""
        a_t, b_t = self.coefficients(ax_t)
        return (a_t * state[0] + b_t,), {}

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, mode: str | None = None):
        mode = checks.one_of("mode", self.mode if mode is None else mode, MODES)
        x, state = self.check_forward_args(x, h0)
        if mode == "sequential":
            h_seq = self.scan(x, state)[0]
        else:
            if state is not None and not bool((state[0] > 0).all()):
                raise ValueError("the parallel (log-space) form needs h0 > 0, or h0=None")
            log_h0 = None if state is None else torch.log(state[0])
            h_seq = log_scan(*self.log_coefficients(self.input_projection(x)), log_h0)
        return h_seq, h_seq[-1:]


class MinGRU(MinimalBase):
    """minGRU (Feng et al. 2024): blocks z, n of ``weight_ih_l0`` (2H, D); see the module
    docstring. h_t = (1 - z_t) * h_{t-1} + z_t * n_t, Chung et al.'s convention (z_t near 1
    writes n_t; in torch's GRU z_t near 1 keeps h_{t-1}): a_t = 1 - z_t, b_t = z_t * g(a_n)."""

    blocks = ("z", "n")

    def coefficients(self, ax):
        a_z, a_n = ax.chunk(2, dim=-1)
        z = torch.sigmoid(a_z)  # update gate, from x_t alone: the fraction written
        return 1 - z, z * g(a_n)

    def log_coefficients(self, ax):
        a_z, a_n = ax.chunk(2, dim=-1)
        # log(1 - sigmoid(a)) = -softplus(a), log sigmoid(a) = -softplus(-a)
        return -F.softplus(a_z), -F.softplus(-a_z) + log_g(a_n)


class MinLSTM(MinimalBase):
    """minLSTM (Feng et al. 2024): blocks i, f, g of ``weight_ih_l0`` (3H, D); see the module
    docstring. a_t = f_t / (f_t + i_t), b_t = i_t / (f_t + i_t) * g(a_g)."""

    blocks = ("i", "f", "g")

    def coefficients(self, ax):
        a_i, a_f, a_g = ax.chunk(3, dim=-1)
        i, f = torch.sigmoid(a_i), torch.sigmoid(a_f)
        return f / (f + i), i / (f + i) * g(a_g)  # normalised: f' + i' = 1

    def log_coefficients(self, ax):
        a_i, a_f, a_g = ax.chunk(3, dim=-1)
        d = F.softplus(-a_f) - F.softplus(-a_i)  # log i - log f
        return -F.softplus(d), -F.softplus(-d) + log_g(a_g)  # log f', log i' + log g


class MinimalGatedUnit(GRU):
    """The minimal gated unit (Zhou et al. 2016): one forget gate f for both of the GRU's gates.

    ::

        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        n_t = tanh(W_in x_t + b_in + W_hn (f_t * h_{t-1}) + b_hn)
        h_t = (1 - f_t) * h_{t-1} + f_t * n_t

    That is chapter 5's GRU with reset="before", r = f and z = 1 - f (torch's convention
    h = (1 - z) n + z h_prev). Two blocks f, n (``weight_ih_l0`` (2H, D) ...): a third fewer
    parameters than the GRU; ``update_bias`` goes to the f block (there a negative value
    keeps the state). Reason: the smallest gated cell that still learns long dependencies.
    """

    blocks = ("f", "n")
    bias_block = "f"

    def __init__(self, input_size: int, hidden_size: int, **kwargs) -> None:
        super().__init__(input_size, hidden_size, reset="before", **kwargs)

    def gates(self, ax, ah):
        f = torch.sigmoid(self.block(ax, "f") + self.block(ah, "f"))  # forget gate
        return {"r": f, "z": 1 - f}


class GateSimplifiedGRU(GRU):
    """The gate-simplified GRUs of Dey and Salem (2017): the gates r, z see fewer inputs.

    With b = b_ih + b_hh (the candidate n is chapter 5's)::

        form 1:  r_t = sigma(W_hr h_{t-1} + b_r)      (no input in the gates)
        form 2:  r_t = sigma(W_hr h_{t-1})            (no input, no bias)
        form 3:  r_t = sigma(b_r)                     (a learned constant)

    and z_t likewise. The gate rows of ``weight_ih_l0`` (and for form 2 all gate biases, for
    form 3 ``weight_hh_l0`` too) are kept but unused. Reason: the gates hold about two thirds
    of a GRU's parameters; Dey and Salem found forms 1 and 2 close to the GRU on MNIST and IMDB.
    """

    def __init__(self, input_size: int, hidden_size: int, form: int = 1, **kwargs) -> None:
        form = checks.one_of("form", checks.integer("form", form), (1, 2, 3))
        super().__init__(input_size, hidden_size, **kwargs)
        self.form = form

    def extra_repr(self) -> str:
        return super().extra_repr() + f", form={self.form}"

    def gates(self, ax, ah):
        out = {}
        for name in ("r", "z"):
            ah_k, b_ih, b_hh = (self.block(v, name) for v in (ah, self.b_ih, self.b_hh))
            if self.form == 1:
                a = ah_k + b_ih  # W_h h + b_hh + b_ih
            elif self.form == 2:
                a = ah_k - b_hh  # W_h h
            else:
                a = (b_ih + b_hh).expand_as(ah_k)
            out[name] = torch.sigmoid(a)
        return out
