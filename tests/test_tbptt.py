"""Truncated BPTT: windows, the truncated numpy gradient, and the detach-and-carry driver."""

import numpy as np
import pytest
import torch

from companion import tbptt
from companion.gradcheck import numerical_gradient, relative_error
from companion.ref import rnn


def _problem(T, B=2, D=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng)
    params["W_hh"] *= 2.0  # a recurrent weight large enough that the past matters
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H)) * 0.5
    dh_seq = rng.standard_normal((T, B, H))
    return x, h0, params, dh_seq


@pytest.mark.parametrize("T, k", [(1, 1), (7, 3), (6, 3), (5, 1), (4, 10), (10, 10)])
def test_window_slices_cover_exactly(T, k):
    windows = tbptt.window_slices(T, k)
    covered = np.concatenate([np.arange(T)[w] for w in windows])
    np.testing.assert_array_equal(covered, np.arange(T))  # every step once, in order
    assert all(w.stop - w.start == k for w in windows[:-1])
    assert 1 <= windows[-1].stop - windows[-1].start <= k
    assert len(windows) == -(-T // k)


def test_window_slices_example():
    assert tbptt.window_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]


@pytest.mark.parametrize("dist", tbptt.DISTRIBUTIONS)
def test_random_window_slices_cover_and_vary(dist):
    T, k = 200, 8
    rng = np.random.default_rng(0)
    draws = [tbptt.random_window_slices(T, k, rng, dist) for _ in range(50)]
    for windows in draws:
        covered = np.concatenate([np.arange(T)[w] for w in windows])
        np.testing.assert_array_equal(covered, np.arange(T))
    starts = {w.start for windows in draws for w in windows}
    assert len(starts) > T // k + 20  # the cuts are not always at the same steps
    lengths = [w.stop - w.start for windows in draws for w in windows[:-1]]
    if dist == "offset":
        assert all(n == k for windows in draws for n in [w.stop - w.start for w in windows[1:-1]])
    else:
        assert np.mean(lengths) == pytest.approx(k, rel=0.15)
        assert max(lengths) > k  # longer windows than k do occur


def test_random_window_slices_are_seeded():
    a = tbptt.random_window_slices(50, 5, np.random.default_rng(1))
    b = tbptt.random_window_slices(50, 5, np.random.default_rng(1))
    assert a == b


@pytest.mark.parametrize("k", [4, 5, 100])
def test_truncated_grads_with_k_at_least_T_equal_full_bptt(k):
    x, h0, params, dh_seq = _problem(T=4)
    grads, h_T = tbptt.rnn_truncated_grads(x, h0, params, dh_seq, k)
    _, h_T_full, cache = rnn.forward(x, h0, params)
    _, _, full = rnn.backward(dh_seq, None, cache)
    for name in params:
        np.testing.assert_array_equal(grads[name], full[name], err_msg=name)
    np.testing.assert_array_equal(h_T, h_T_full)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_truncated_grads_differ_from_full_but_states_do_not(k):
    x, h0, params, dh_seq = _problem(T=12)
    grads, h_T = tbptt.rnn_truncated_grads(x, h0, params, dh_seq, k)
    h_seq_full, h_T_full, cache = rnn.forward(x, h0, params)
    _, _, full = rnn.backward(dh_seq, None, cache)
    assert relative_error(grads["W_hh"], full["W_hh"]) > 0.05  # a clear difference
    np.testing.assert_allclose(h_T, h_T_full, rtol=1e-14, atol=1e-15)
    # every carried state equals the full run's, window by window
    h = h0
    for w in tbptt.window_slices(12, k):
        h_w, h, _ = rnn.forward(x[w], h, params)
        np.testing.assert_allclose(h_w, h_seq_full[w], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("T, k", [(6, 2), (7, 3), (5, 1)])
def test_truncated_grads_match_finite_differences_of_the_windowed_loss(T, k):
    """Each window's loss, with the state entering it held at its full-run value."""
    x, h0, params, dh_seq = _problem(T, B=2, D=2, H=3, seed=T)
    h_seq, _, _ = rnn.forward(x, h0, params)
    windows = tbptt.window_slices(T, k)
    h_in = [h0] + [h_seq[w.start - 1] for w in windows[1:]]  # constants, not functions of W

    def windowed_loss(p):
        total = 0.0
        for w, h_start in zip(windows, h_in, strict=True):
            h_w, _, _ = rnn.forward(x[w], h_start, p)
            total += float(np.sum(dh_seq[w] * h_w))
        return total

    grads, _ = tbptt.rnn_truncated_grads(x, h0, params, dh_seq, k)
    for name in params:
        num = numerical_gradient(lambda q, n=name: windowed_loss({**params, n: q}), params[name])
        assert relative_error(grads[name], num) < 1e-7, name


def test_truncated_grads_accept_h0_none_and_relu():
    x, _, params, dh_seq = _problem(T=5)
    grads, h_T = tbptt.rnn_truncated_grads(x, None, params, dh_seq, 2, nonlinearity="relu")
    _, h_T_full, _ = rnn.forward(x, None, params, "relu")
    np.testing.assert_allclose(h_T, h_T_full, rtol=1e-14, atol=1e-15)
    assert set(grads) == set(params)


def test_truncated_grads_do_not_modify_their_arguments():
    x, h0, params, dh_seq = _problem(T=6)
    copies = [x.copy(), h0.copy(), dh_seq.copy()] + [v.copy() for v in params.values()]
    tbptt.rnn_truncated_grads(x, h0, params, dh_seq, 2)
    for before, after in zip(copies, [x, h0, dh_seq, *params.values()], strict=True):
        np.testing.assert_array_equal(before, after)


def test_detach():
    a = np.ones(3)
    b = tbptt.detach(a)
    np.testing.assert_array_equal(a, b)
    assert b is not a and not np.shares_memory(a, b)
    t = torch.ones(2, requires_grad=True) * 2
    assert t.requires_grad and not tbptt.detach(t).requires_grad
    h, c = tbptt.detach((t, t + 1))
    assert not h.requires_grad and not c.requires_grad
    torch.testing.assert_close(c, t.detach() + 1)
    assert isinstance(tbptt.detach([a, a]), list)
    for bad in (None, 1.0, "h", {"h": a}):
        with pytest.raises(TypeError, match="torch tensor, a numpy array"):
            tbptt.detach(bad)


def _torch_setup(T=12, B=2, D=3, H=5):
    torch.manual_seed(0)
    module = torch.nn.RNN(D, H).double()
    x = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    y = torch.randn(T, B, H, dtype=torch.float64)
    return module, x, y


@pytest.mark.parametrize("use_detach", [True, False])
def test_torch_gradient_stops_at_the_window_start_only_with_detach(monkeypatch, use_detach):
    module, x, y = _torch_setup()
    if not use_detach:
        monkeypatch.setattr(tbptt, "detach", lambda state: state)
    window_losses = []

    def step(x_w, y_w, h):
        out, h_n = module(x_w, h)
        loss = ((out - y_w) ** 2).mean()
        window_losses.append(loss)
        return loss, h_n

    losses, h_T = tbptt.run_windows(step, x, y, 4, None)
    assert len(losses) == 3 and losses == [v.item() for v in window_losses]
    (dx,) = torch.autograd.grad(window_losses[-1], x)
    before = dx[:8].abs().max().item()  # inputs before the last window, steps 0..7
    assert dx[8:].abs().max().item() > 0
    if use_detach:
        assert before == 0.0 and not h_T.requires_grad
    else:
        assert before > 1e-6


def test_torch_training_with_run_windows():
    """step does forward, backward and the optimizer step; without detach the second window's
    backward would run into the first window's freed graph."""
    module, x, y = _torch_setup(T=30)
    x = x.detach()
    readout = torch.nn.Linear(5, 5).double()
    opt = torch.optim.Adam([*module.parameters(), *readout.parameters()], lr=0.02)

    def step(x_w, y_w, h):
        out, h_n = module(x_w, h)
        loss = ((readout(out) - y_w) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, h_n

    first, _ = tbptt.run_windows(step, x, y, 5, None)
    for _ in range(30):
        last, _ = tbptt.run_windows(step, x, y, 5, None)
    assert np.mean(last) < 0.8 * np.mean(first)


def test_numpy_run_windows_gives_the_truncated_gradient():
    x, h0, params, dh_seq = _problem(T=9)
    total = {n: np.zeros_like(p) for n, p in params.items()}
    states = []

    def step(x_w, dh_w, h):
        h_w, h_T, cache = rnn.forward(x_w, h, params)
        _, _, g = rnn.backward(dh_w, None, cache)
        for n in total:
            total[n] += g[n]
        states.append(h_w)
        return float(np.sum(dh_w * h_w)), h_T

    losses, h_T = tbptt.run_windows(step, x, dh_seq, 4, h0)
    grads, h_T_ref = tbptt.rnn_truncated_grads(x, h0, params, dh_seq, 4)
    assert len(losses) == 3
    h_seq_full, _, _ = rnn.forward(x, h0, params)
    np.testing.assert_allclose(np.concatenate(states), h_seq_full, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(h_T, h_T_ref)
    for n in params:
        np.testing.assert_allclose(total[n], grads[n], rtol=1e-14, atol=1e-15)


def test_run_windows_accepts_random_windows_and_no_targets():
    x = np.zeros((20, 1, 1))
    windows = tbptt.random_window_slices(20, 4, np.random.default_rng(0))
    seen = []

    def step(x_w, y_w, state):
        assert y_w is None
        seen.append(len(x_w))
        return 0.0, state + len(x_w)

    losses, state = tbptt.run_windows(step, x, None, windows, np.zeros(1))
    assert seen == [w.stop - w.start for w in windows] and state[0] == 20.0
    assert len(losses) == len(windows)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: tbptt.window_slices(5, 0), ValueError, "k must be a positive integer; got 0"),
        (lambda: tbptt.window_slices(0, 2), ValueError, "T must be a positive integer"),
        (lambda: tbptt.window_slices(5, 2.0), TypeError, "k must be an integer"),
        (lambda: tbptt.window_slices(5, True), TypeError, "k must be an integer"),
        (lambda: tbptt.random_window_slices(5, 2, 0), TypeError, "Generator"),
        (
            lambda: tbptt.random_window_slices(5, 2, np.random.default_rng(0), "poisson"),
            ValueError,
            "dist must be one of",
        ),
    ],
)
def test_window_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_truncated_grads_bad_input():
    x, h0, params, dh_seq = _problem(T=6)
    with pytest.raises(ValueError, match="k must be a positive integer; got 0"):
        tbptt.rnn_truncated_grads(x, h0, params, dh_seq, 0)
    with pytest.raises(ValueError, match=r"dh_seq must have shape \(T, B, H\) = \(6, 2, 4\)"):
        tbptt.rnn_truncated_grads(x, h0, params, dh_seq[:5], 2)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, D\)"):
        tbptt.rnn_truncated_grads(x[0], h0, params, dh_seq, 2)
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 4\)"):
        tbptt.rnn_truncated_grads(x, h0.T, params, dh_seq, 2)
    with pytest.raises(TypeError, match="dh_seq must have a floating dtype"):
        tbptt.rnn_truncated_grads(x, h0, params, dh_seq.astype(int), 2)


def test_run_windows_bad_input():
    x = np.zeros((6, 1, 1))

    def step(x_w, y_w, s):
        return 0.0, s

    with pytest.raises(ValueError, match=r"targets must have the length of x on axis 0 \(T = 6\)"):
        tbptt.run_windows(step, x, np.zeros((5, 1)), 2, np.zeros(1))
    with pytest.raises(TypeError, match="step must be a function"):
        tbptt.run_windows("step", x, None, 2, np.zeros(1))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        tbptt.run_windows(step, x, None, 0, np.zeros(1))
    with pytest.raises(ValueError, match="windows must be consecutive slices"):
        tbptt.run_windows(step, x, None, [slice(0, 2), slice(3, 6)], np.zeros(1))
    with pytest.raises(ValueError, match="windows must cover 0..5"):
        tbptt.run_windows(step, x, None, [slice(0, 2)], np.zeros(1))
    with pytest.raises(TypeError, match="torch tensor, a numpy array"):
        tbptt.run_windows(lambda x_w, y_w, s: (0.0, None), x, None, 2, np.zeros(1))
