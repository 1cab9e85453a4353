"""The chapter 6 exercise checks accept right answers, reject wrong ones, and their reference
code agrees with the torch modules of companion.nn."""

import numpy as np
import pytest
import torch

from companion.exercises import ExerciseCheckFailed, ch06
from companion.nn import VARIANTS, lstm_variant
from companion.nn.minimal import log_scan


def not_implemented(*args):
    raise NotImplementedError


def sig(a):
    return 1 / (1 + np.exp(-a))


def _fails(check, fn, capsys=None):
    with pytest.raises(ExerciseCheckFailed):
        check(fn)


# --- peephole step ---------------------------------------------------------------------------
def peephole_right(x_t, h_prev, c_prev, W_ih, W_hh, b, p, o_reads_old=False):
    H = h_prev.shape[1]
    a = x_t @ W_ih.T + h_prev @ W_hh.T + b
    i = sig(a[:, :H] + p[:H] * c_prev)
    f = sig(a[:, H : 2 * H] + p[H : 2 * H] * c_prev)
    c = f * c_prev + i * np.tanh(a[:, 2 * H : 3 * H])
    o = sig(a[:, 3 * H :] + p[2 * H :] * (c_prev if o_reads_old else c))
    return o * np.tanh(c), c


def test_peephole_reference_matches_the_torch_module():
    torch.manual_seed(0)
    m = lstm_variant("V", 3, 4, dtype=torch.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 3))
    h0, c0 = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    with torch.no_grad():
        out, (h, c) = m(
            torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
        )
    W_ih, W_hh = m.W_ih.detach().numpy(), m.W_hh.detach().numpy()
    b = (m.b_ih + m.b_hh).detach().numpy()
    h_ref, c_ref = ch06.peephole_step(
        x[0], h0, c0, W_ih, W_hh, b, m.weight_peephole_l0.detach().numpy()
    )
    np.testing.assert_allclose(h_ref, h[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(c_ref, c[0].numpy(), rtol=1e-12)


def test_peephole_check(capsys):
    ch06.check_peephole_step(peephole_right)
    assert "All 3 cases passed." in capsys.readouterr().out
    for wrong in (
        not_implemented,
        lambda *a: peephole_right(*a, o_reads_old=True),
        lambda x, h, c, W, U, b, p: peephole_right(x, h, c, W, U, b, np.zeros_like(p)),
    ):
        _fails(ch06.check_peephole_step, wrong)


# --- parameter counts ------------------------------------------------------------------------
def test_variant_count_reference_matches_the_parameters_that_get_gradients():
    for name in VARIANTS:
        torch.manual_seed(0)
        m = lstm_variant(name, 3, 5)
        m.load_state_dict({k: torch.randn_like(v) for k, v in m.state_dict().items()})
        out, (h, c) = m(torch.randn(4, 2, 3))
        (out.sum() + c.sum()).backward()
        used = sum(int((p.grad != 0).sum()) for p in m.parameters())
        assert used == ch06.variant_param_count(name, 3, 5), name


def variant_count_right(name, D, H):
    block = H * D + H * H + 2 * H
    blocks = 3 if name in ("NIG", "NFG", "NOG", "CIFG") else 4
    return blocks * block + {"V": 3 * H, "FGR": 9 * H * H}.get(name, 0)


def test_variant_count_check(capsys):
    ch06.check_variant_param_count(variant_count_right)
    assert "cases passed." in capsys.readouterr().out
    _fails(ch06.check_variant_param_count, lambda n, D, H: 4 * (H * D + H * H + 2 * H))
    _fails(
        ch06.check_variant_param_count,
        lambda n, D, H: variant_count_right(n, D, H) + (9 * H * H if n == "V" else 0),
    )


def stacked_right(cell, D, H, L, bi):
    G, dirs = {"rnn": 1, "gru": 3, "lstm": 4}[cell], 1 + bool(bi)
    return sum(dirs * G * (H * (D if n == 0 else dirs * H) + H * H + 2 * H) for n in range(L))


def test_stacked_count_reference_matches_torch():
    for cell, cls in [("rnn", torch.nn.RNN), ("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)]:
        for L, bi in [(1, False), (2, True), (3, False)]:
            count = sum(p.numel() for p in cls(4, 6, num_layers=L, bidirectional=bi).parameters())
            assert ch06.stacked_param_count(cell, 4, 6, L, bi) == count


def test_stacked_count_check(capsys):
    ch06.check_stacked_param_count(stacked_right)
    assert "All 5 cases passed." in capsys.readouterr().out
    for wrong in (
        lambda c, D, H, L, bi: stacked_right(c, D, H, L, False) * (2 if bi else 1),  # D_l = H
        lambda c, D, H, L, bi: stacked_right(c, D, H, 1, bi) * L,  # every layer reads D
        not_implemented,
    ):
        _fails(ch06.check_stacked_param_count, wrong)


# --- bidirectional layer ---------------------------------------------------------------------
def _rnn(x, W, U, b):
    h, out = np.zeros((x.shape[1], U.shape[0])), []
    for x_t in x:
        h = np.tanh(x_t @ W.T + h @ U.T + b)
        out.append(h)
    return np.stack(out)


def bidi_right(x, W_f, U_f, b_f, W_r, U_r, b_r):
    return np.concatenate([_rnn(x, W_f, U_f, b_f), _rnn(x[::-1], W_r, U_r, b_r)[::-1]], -1)


def test_bidirectional_reference_matches_torch():
    rng = np.random.default_rng(0)
    t = torch.nn.RNN(3, 4, bidirectional=True).double()
    x = rng.standard_normal((6, 2, 3))
    w = [p.detach().numpy() for p in t.parameters()]  # W, U, b_ih, b_hh per direction
    ours = ch06.bidirectional_rnn(x, w[0], w[1], w[2] + w[3], w[4], w[5], w[6] + w[7])
    np.testing.assert_allclose(ours, t(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-12)


def test_bidirectional_check(capsys):
    ch06.check_bidirectional_rnn(bidi_right)
    assert "All 3 cases passed." in capsys.readouterr().out
    for wrong in (
        lambda x, *w: np.concatenate([_rnn(x, *w[:3]), _rnn(x[::-1], *w[3:])], -1),  # no flip
        lambda x, *w: np.concatenate([_rnn(x[::-1], *w[3:])[::-1], _rnn(x, *w[:3])], -1),
        lambda x, *w: bidi_right(x, *w[:3], *w[:3]),  # shared weights
    ):
        _fails(ch06.check_bidirectional_rnn, wrong)


# --- log-space scan --------------------------------------------------------------------------
def log_scan_right(log_a, log_b):
    A = np.cumsum(log_a, axis=0)
    return np.exp(A + np.logaddexp.accumulate(log_b - A, axis=0))


def log_scan_loop(log_a, log_b):
    a, b = np.exp(log_a), np.exp(log_b)
    h, out = np.zeros_like(a[0]), []
    for t in range(len(a)):
        h = a[t] * h + b[t]
        out.append(h)
    return np.stack(out)


def log_scan_naive(log_a, log_b):
    """Divides by the cumulative product in linear space: underflows for long sequences."""
    P = np.exp(np.cumsum(log_a, axis=0))
    with np.errstate(all="ignore"):
        return P * np.cumsum(np.exp(log_b) / P, axis=0)


def test_log_scan_reference_matches_the_torch_scan():
    rng = np.random.default_rng(0)
    log_a, log_b = -rng.uniform(0.1, 1, (300, 2, 3)), rng.normal(0, 1, (300, 2, 3))
    h = log_scan(torch.from_numpy(log_a), torch.from_numpy(log_b)).numpy()
    np.testing.assert_allclose(ch06.log_space_scan(log_a, log_b), h, rtol=1e-10)


def test_log_scan_check(capsys):
    for right in (log_scan_right, log_scan_loop):  # a loop is also a right answer
        ch06.check_log_space_scan(right)
        assert "All 5 cases passed." in capsys.readouterr().out
    for wrong in (log_scan_naive, lambda la, lb: np.exp(np.cumsum(la + lb, axis=0))):
        _fails(ch06.check_log_space_scan, wrong)


DELEGATED = "your function called {}, which is what this exercise asks you to write by hand"


def variant_count_by_building(name, D, H):
    return sum(p.numel() for p in lstm_variant(name, D, H).parameters())


@pytest.mark.parametrize(
    "check, delegating, called",
    [
        (
            ch06.check_variant_param_count,
            ch06.variant_param_count,
            "companion.exercises.ch06.variant_param_count",
        ),
        (
            ch06.check_variant_param_count,
            variant_count_by_building,
            "companion.nn.variants.lstm_variant",
        ),
        (ch06.check_log_space_scan, ch06.log_space_scan, "companion.exercises.ch06.log_space_scan"),
        (
            ch06.check_log_space_scan,
            lambda a, b: log_scan(torch.tensor(a), torch.tensor(b)).numpy(),
            "companion.nn.minimal.log_scan",
        ),
    ],
)
def test_delegating_to_the_reference_fails_and_says_why(check, delegating, called):
    with pytest.raises(ExerciseCheckFailed, match=DELEGATED.format(called)):
        check(delegating)
