"""companion.checks: one rule for integers and numbers, applied by every public function.

The rule: an integer is an int or a numpy integer, never a bool and never a float; a wrong
type raises TypeError, a right type with a wrong value ValueError. Every public function of
the numpy side that takes an integer is called below with True, 2.0, 0 and -1 (rejected)
and with np.int64(2) (accepted).
"""

import numpy as np
import pytest

from companion import bench, checks, corpus, families, probe
from companion.ref import gru, lstm, readout, rnn

rng = lambda: np.random.default_rng(0)  # noqa: E731
IDS = np.arange(40) % 2  # a stream of ids in [0, 2)

# name -> (call with the integer v in one argument, the least value accepted)
CALLS = {
    "checks.integer": (lambda v: checks.integer("n", v, minimum=1), 1),
    "checks.positive_int": (lambda v: checks.positive_int("n", v), 1),
    "rnn.init_params D": (lambda v: rnn.init_params(v, 3, rng()), 1),
    "rnn.init_params H": (lambda v: rnn.init_params(3, v, rng()), 1),
    "lstm.init_params D": (lambda v: lstm.init_params(v, 3, rng()), 1),
    "lstm.init_params H": (lambda v: lstm.init_params(3, v, rng()), 1),
    "gru.init_params D": (lambda v: gru.init_params(v, 3, rng()), 1),
    "gru.init_params H": (lambda v: gru.init_params(3, v, rng()), 1),
    "lstm.count_params D": (lambda v: lstm.count_params(v, 3), 1),
    "lstm.count_params H": (lambda v: lstm.count_params(3, v), 1),
    "gru.count_params D": (lambda v: gru.count_params(v, 3), 1),
    "gru.count_params H": (lambda v: gru.count_params(3, v), 1),
    "readout.init_params H": (lambda v: readout.init_params(v, 3, rng()), 1),
    "readout.init_params Q": (lambda v: readout.init_params(3, v, rng()), 1),
    "families.Family.count D": (lambda v: families.get("rnn").count(v, 3), 1),
    "families.Family.count H": (lambda v: families.get("gru").count(3, v), 1),
    "corpus.Vocab.from_text": (lambda v: corpus.Vocab.from_text("abcab", v), 1),
    "corpus.num_windows n": (lambda v: corpus.num_windows(v, 1, 1), 0),
    "corpus.num_windows B": (lambda v: corpus.num_windows(40, v, 1), 1),
    "corpus.num_windows T": (lambda v: corpus.num_windows(40, 1, v), 1),
    "corpus.stream_batches B": (lambda v: corpus.stream_batches(IDS, v, 3), 1),
    "corpus.stream_batches T": (lambda v: corpus.stream_batches(IDS, 3, v), 1),
    "corpus.random_windows B": (lambda v: corpus.random_windows(IDS, v, 3, rng()), 1),
    "corpus.random_windows T": (lambda v: corpus.random_windows(IDS, 3, v, rng()), 1),
    "corpus.unigram_cross_entropy V": (lambda v: corpus.unigram_cross_entropy(IDS, IDS, v), 1),
    "bench.flops": (lambda v: bench.flops("lstm", v, 2, 3, 4), 1),
    "bench.matmul_only": (lambda v: bench.matmul_only("gru", 2, v, 3, 4), 1),
    "bench.matmul_peak n": (lambda v: bench.matmul_peak(n=v, repeats=1), 1),
    "bench.matmul_peak repeats": (lambda v: bench.matmul_peak(n=4, repeats=v), 1),
    "bench.implementations": (lambda v: bench.implementations("rnn", (1, v, 1, 1)), 1),
    "bench.run repeats": (lambda v: bench.run(["rnn"], [(1, 1, 1, 1)], repeats=v, peak=1.0), 1),
    "bench.run threads": (lambda v: bench.run(["rnn"], [(1, 1, 1, 1)], 1, threads=v, peak=1.0), 1),
    "probe.fit_rate skip": (lambda v: probe.fit_rate(0.5 ** np.arange(6.0), skip=v), 0),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize(
    "v, error", [(True, TypeError), (2.0, TypeError), (0, ValueError), (-1, ValueError)]
)
def test_every_integer_argument_follows_the_rule(name, v, error):
    call, least = CALLS[name]
    if type(v) is int and v >= least:  # 0 is a valid count where the least value is 0
        call(v)
        return
    with pytest.raises(error, match="must be (an|a positive) integer"):
        call(v)


@pytest.mark.parametrize("name", CALLS)
def test_every_integer_argument_accepts_a_numpy_integer(name):
    call, _ = CALLS[name]
    call(np.int64(2))


def test_integer_returns_an_int_and_names_the_bound():
    assert type(checks.positive_int("B", np.int32(3))) is int
    with pytest.raises(ValueError, match="n must be an integer >= 0; got -1"):
        checks.integer("n", -1, minimum=0)
    with pytest.raises(TypeError, match="B must be an integer; got bool True"):
        checks.positive_int("B", True)


def test_number_rule():
    assert checks.positive_number("lr", np.float32(0.5)) == 0.5
    assert checks.number("p", 0, 0, 1, high_open=True) == 0.0
    with pytest.raises(TypeError, match="lr must be a number; got bool"):
        checks.positive_number("lr", True)
    with pytest.raises(ValueError, match="lr must be a positive finite number; got 0.0"):
        checks.positive_number("lr", 0)
    with pytest.raises(ValueError, match="lr must be a positive finite number; got inf"):
        checks.positive_number("lr", float("inf"))
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\); got 1.0"):
        checks.number("p", 1, 0, 1, high_open=True)
    with pytest.raises(ValueError, match="x must be one of"):
        checks.one_of("x", "c", ("a", "b"))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        checks.generator(np.random.RandomState(0))


def test_forward_args_returns_sizes_and_a_zero_state():
    x = np.zeros((4, 2, 3))
    params = lstm.init_params(3, 5, rng())
    T, B, D, H, (h0, c0) = checks.forward_args(x, None, params, 4, "lstm", pair=True)
    assert (T, B, D, H) == (4, 2, 3, 5)
    assert h0.shape == c0.shape == (2, 5) and h0 is not c0 and not h0.any()
    h0 = np.ones((2, 5))
    assert checks.forward_args(x, h0, rnn.init_params(3, 5, rng()), 1, "rnn")[4] is h0


def test_backward_args_reads_the_cache():
    params = gru.init_params(3, 5, rng())
    _, _, cache = gru.forward(np.zeros((4, 2, 3)), None, params)
    T, B, H, dh_seq, dh_T = checks.backward_args(np.zeros((4, 2, 5)), None, cache, "gru")
    assert (T, B, H, dh_T) == (4, 2, 5, None)
    params = lstm.init_params(3, 5, rng())
    _, _, cache = lstm.forward(np.zeros((4, 2, 3)), None, params)
    got = checks.backward_args(np.zeros((4, 2, 5)), None, cache, "lstm", pair=True)
    assert got[4] == (None, None)
    with pytest.raises(ValueError, match="cache must come from companion.ref.gru.forward"):
        checks.backward_args(np.zeros((4, 2, 5)), None, cache, "gru")
