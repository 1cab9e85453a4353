"""The numpy character language model: gradients, training, sampling, errors."""

import math

import numpy as np
import pytest

from companion import charlm, corpus
from companion.gradcheck import numerical_gradient, relative_error


@pytest.fixture(scope="module")
def small():
    return corpus.load_stdlib_corpus(("bisect.py", "heapq.py"), ("sched.py",))


def _tiny(V=5, H=4, T=3, B=2, seed=0):
    rng = np.random.default_rng(seed)
    params = charlm.init_params(V, H, rng, dtype=np.float64)
    x_ids = rng.integers(0, V, size=(T, B))
    y_ids = rng.integers(0, V, size=(T, B))
    h0 = rng.uniform(-0.5, 0.5, size=(B, H))
    return params, x_ids, y_ids, h0


@pytest.mark.parametrize(("V", "H", "T", "B"), [(5, 4, 3, 2), (3, 2, 1, 1), (6, 3, 5, 3)])
def test_loss_and_grads_match_finite_differences(V, H, T, B):
    params, x_ids, y_ids, h0 = _tiny(V, H, T, B)
    loss, grads, h_T = charlm.loss_and_grads(params, x_ids, y_ids, h0)
    assert set(grads) == set(charlm.PARAM_NAMES) and h_T.shape == (B, H)
    for k, p in params.items():

        def f(q, k=k):
            return charlm.loss_and_grads({**params, k: q}, x_ids, y_ids, h0)[0]

        assert grads[k].shape == p.shape
        assert relative_error(grads[k], numerical_gradient(f, p)) < 1e-7, k


def test_untrained_loss_is_near_log_V_and_state_is_carried():
    params, x_ids, y_ids, h0 = _tiny(V=7, H=3, T=6, B=2)
    loss, _, h_T = charlm.loss_and_grads(params, x_ids, y_ids)
    assert abs(loss - math.log(7)) < 0.5
    # two windows with the state carried equal one long window (the forward is exact)
    l1, _, h1 = charlm.loss_and_grads(params, x_ids[:3], y_ids[:3])
    l2, _, h2 = charlm.loss_and_grads(params, x_ids[3:], y_ids[3:], h1)
    np.testing.assert_allclose(h2, h_T, rtol=1e-12)
    assert (l1 + l2) / 2 == pytest.approx(loss, rel=1e-12)


def test_evaluate_matches_loss_over_the_same_windows():
    params, *_ = _tiny(V=5, H=4)
    ids = np.random.default_rng(1).integers(0, 5, size=61)
    B, T = 3, 4
    h = None
    losses = []
    for x_ids, y_ids in corpus.stream_batches(ids, B, T):
        loss, _, h = charlm.loss_and_grads(params, x_ids, y_ids, h)
        losses.append(loss)
    assert charlm.evaluate(params, ids, B, T) == pytest.approx(np.mean(losses), rel=1e-12)
    # a last, shorter window is scored too: T = 7 gives windows of 7, 7, 6 for L = 20
    whole = charlm.loss_and_grads(params, ids[:60].reshape(B, 20).T, ids[1:61].reshape(B, 20).T)[0]
    assert charlm.evaluate(params, ids, B, 7) == pytest.approx(whole, rel=1e-12)
    assert charlm.evaluate(params, ids[:62], B, 7) == pytest.approx(whole, rel=1e-12)


def test_training_reduces_loss_and_is_deterministic(small):
    V = small.vocab.size

    def run():
        params = charlm.init_params(V, 32, np.random.default_rng(0))
        hist = charlm.train(
            params, small, steps=100, B=8, T=16, lr=1e-2, eval_every=50, progress=False
        )
        return params, hist

    params, hist = run()
    assert hist.val_step == [0, 50, 100]
    assert len(hist.loss) == len(hist.grad_norm) == 100 and hist.skipped == 0
    assert hist.val_loss[-1] < hist.val_loss[0] - 0.5
    assert np.mean(hist.loss[-10:]) < np.mean(hist.loss[:10]) - 0.5
    assert hist.val_perplexity[0] == pytest.approx(math.exp(hist.val_loss[0]))
    # train_loss: the mean of the steps since the previous validation
    assert hist.train_loss[1:] == [np.mean(hist.loss[:50]), np.mean(hist.loss[50:])]
    assert hist.best_val_loss == min(hist.val_loss) and hist.seconds > hist.val_seconds > 0
    params2, hist2 = run()
    assert hist2.loss == hist.loss
    np.testing.assert_array_equal(params2["W_hh"], params["W_hh"])


def test_training_wraps_around_the_stream(small):
    params = charlm.init_params(small.vocab.size, 8, np.random.default_rng(0))
    n = corpus.num_windows(small.train_ids.size, 64, 64)
    hist = charlm.train(params, small, steps=n + 3, B=64, T=64, eval_every=100, progress=False)
    assert len(hist.loss) == n + 3 and all(math.isfinite(v) for v in hist.loss)


def test_sample_is_deterministic_and_greedy_at_low_temperature(small):
    V = small.vocab.size
    params = charlm.init_params(V, 16, np.random.default_rng(0))
    s1 = charlm.sample(params, small.vocab, "def ", 40, 1.0, np.random.default_rng(5))
    s2 = charlm.sample(params, small.vocab, "def ", 40, 1.0, np.random.default_rng(5))
    assert s1 == s2 and len(s1) == 40 and set(s1) <= set(small.vocab.symbols)
    # temperature -> 0: every draw is the argmax, whatever the generator
    cold = [
        charlm.sample(params, small.vocab, "def ", 30, 1e-4, np.random.default_rng(k))
        for k in (1, 2)
    ]
    assert cold[0] == cold[1] == _greedy(params, small.vocab, "def ", 30)
    assert charlm.sample(params, small.vocab, "x", 0, 1.0, np.random.default_rng(0)) == ""


def _greedy(params, vocab, prime, n):
    from companion.ref import readout, rnn

    V = vocab.size
    _, h, _ = rnn.forward(charlm.one_hot(vocab.encode(prime)[:, None], V), None, params)
    out = []
    for _ in range(n):
        logits, _ = readout.forward(h, params["W_hq"], params["b_q"])
        out.append(int(np.argmax(logits[0])))
        h = rnn.step(charlm.one_hot(np.array([out[-1]]), V), h, params)
    return vocab.decode(out)


def test_errors(small):
    params, x_ids, y_ids, h0 = _tiny()
    with pytest.raises(ValueError, match=r"missing \['b_q'\]"):
        charlm.loss_and_grads({k: v for k, v in params.items() if k != "b_q"}, x_ids, y_ids)
    with pytest.raises(
        ValueError, match=r"params\['W_hq'\] with V=5, H=4 must have shape \(5, 4\)"
    ):
        charlm.loss_and_grads({**params, "W_hq": np.zeros((4, 4))}, x_ids, y_ids)
    with pytest.raises(TypeError, match="x_ids must be a numpy array of integer ids; got float64"):
        charlm.loss_and_grads(params, x_ids.astype(float), y_ids)
    with pytest.raises(ValueError, match=r"y_ids must lie in \[0, V\) = \[0, 5\); got values in"):
        charlm.loss_and_grads(params, x_ids, y_ids + 5)
    with pytest.raises(ValueError, match=r"share the shape \(T, B\); got \(3, 2\) and \(2, 2\)"):
        charlm.loss_and_grads(params, x_ids, y_ids[:2])
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 4\)"):
        charlm.loss_and_grads(params, x_ids, y_ids, h0[:1])
    with pytest.raises(ValueError, match="corpus vocabulary has"):
        charlm.train(params, small, steps=1, progress=False)
    p = charlm.init_params(small.vocab.size, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="steps must be a positive integer; got 0"):
        charlm.train(p, small, steps=0, progress=False)
    with pytest.raises(ValueError, match=r"lr_decay must be a .*\(0, 1\]; got 0"):
        charlm.train(p, small, steps=1, lr_decay=0, progress=False)
    with pytest.raises(TypeError, match="steps must be an integer"):
        charlm.train(p, small, steps=True, progress=False)
    with pytest.raises(ValueError, match="clip must be one of"):
        charlm.train(p, small, steps=1, clip=5.0, progress=False)
    with pytest.raises(ValueError, match="clip_at must be a positive"):
        charlm.train(p, small, steps=1, clip_at=0, progress=False)
    with pytest.raises(TypeError, match="corpus must be a companion.corpus.Corpus; got dict"):
        charlm.train(p, {}, steps=1, progress=False)
    with pytest.raises(TypeError, match="vocab must be a companion.corpus.Vocab; got str"):
        charlm.sample(p, "abc", "a", 5, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        charlm.sample(p, small.vocab, "a", 5, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="prime must be a non-empty str"):
        charlm.sample(p, small.vocab, "", 5, 1.0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        charlm.sample(p, small.vocab, "a", 5, 1.0, None)
    with pytest.raises(ValueError, match=r"at least B\+1 = 33 ids; got shape \(10,\)"):
        charlm.evaluate(p, small.heldout_ids[:10])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, V\)"):
        charlm.evaluate(p, small.heldout_ids + small.vocab.size)
