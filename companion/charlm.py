"""A character-level language model in numpy, trained by truncated BPTT with Adam.

The model is the chapter's own Elman RNN (``companion.ref.rnn``, run through
``companion.ref.rnn_fast``, which computes the same function and gradients in a faster order)
with a linear readout
(``companion.ref.readout``) over a vocabulary of V characters. For a one-hot input x_t::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)     W_ih (H, V), W_hh (H, H)
    o_t = W_hq h_t + b_q                                   W_hq (V, H), logits of x_{t+1}
    L   = -(1 / TB) sum_{t,b} log softmax(o_t)[y_t]        y_t = x_{t+1}, nats per character

With one-hot inputs, W_ih x_t is a column of W_ih (``x[t] @ W_ih.T`` is a row lookup of
``W_ih.T``); the code still builds the (T, B, V) one-hot array so that the layer's
``forward`` and ``backward`` are used unchanged, which for V ~ 100 costs little.

Truncated BPTT: training reads the corpus as B parallel streams in windows of T characters
(``companion.corpus.stream_batches``). Each window starts from the hidden state the previous
window left, but the gradient stops there: dL/dh_0 is discarded, so a step backpropagates
through at most T time steps while the state still carries information from further back.

``CONFIG`` is the recommended configuration for the chapter: on one thread it trains in about
a minute and ends well below the unigram perplexity (see its docstring for measured numbers).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

from companion import checks
from companion import clip as _clip
from companion.corpus import Corpus, Vocab, stream_batches
from companion.history import History
from companion.optim import Adam
from companion.ref import readout, rnn, rnn_fast

PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "W_hq", "b_q")


@dataclass(frozen=True)
class Config:
    """Recommended settings for the chapter: float32, one thread, about a minute.

    Measured with ``companion.setup(seed=0)`` (one thread) on a 2-core AMD EPYC VM, CPython
    3.11.7, numpy 2.4 with OpenBLAS, the hidden layer through ``companion.ref.rnn_fast``:
    ``train`` took 55 s (about 7 ms per step, held-out evaluations included; 72 s with the
    plain ``companion.ref.rnn``). Held-out perplexity went from 99.5 (untrained) to 4.74, i.e.
    1.56 nats or 2.24 bits per character, against 22.5 for the add-one unigram; training
    perplexity over the last 500 steps was 3.75. The numbers shift a little with the Python
    version (the corpus files differ) and the CPU.
    """

    H: int = 128  # hidden size
    T: int = 48  # truncation length (characters per window)
    B: int = 32  # parallel streams
    lr: float = 3e-3  # Adam step size at the start
    lr_decay: float = 0.1  # final step size / initial, reached by a cosine schedule
    clip: str | None = "norm"  # clip by global norm (companion.clip.MODES)
    clip_at: float = 5.0  # at this norm
    steps: int = 8000  # Adam updates (12.3 M characters, about 8 passes over the text)
    eval_every: int = 500  # steps between held-out evaluations
    eval_chars: int | None = None  # held-out ids per evaluation (None: all, about 0.25 s)
    dtype: type = np.float32


CONFIG = Config()


def init_params(
    V: int, H: int, rng: np.random.Generator, dtype: type = np.float32
) -> dict[str, np.ndarray]:
    """Draw the six parameters, each uniform on (-1/sqrt(H), 1/sqrt(H)) as torch draws them.

    RNN: ``W_ih`` (H, V), ``W_hh`` (H, H), ``b_ih``, ``b_hh`` (H,); readout: ``W_hq`` (V, H),
    ``b_q`` (V,). Float32 by default: training runs in float32, gradient checks in float64.
    """
    return rnn.init_params(V, H, rng, dtype) | readout.init_params(H, V, rng, dtype)


def one_hot(ids: np.ndarray, V: int, dtype: type = np.float32) -> np.ndarray:
    """x[..., c] = 1 where c = ids[...], else 0: shape ``ids.shape + (V,)``."""
    x = np.zeros((ids.size, V), dtype=dtype)
    x[np.arange(ids.size), ids.reshape(-1)] = 1
    return x.reshape(*ids.shape, V)


def loss_and_grads(
    params: dict[str, np.ndarray],
    x_ids: np.ndarray,
    y_ids: np.ndarray,
    h0: np.ndarray | None = None,
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Mean cross-entropy over one window and its truncated-BPTT gradient.

    Args:
        params: the six arrays of ``init_params``, one floating dtype.
        x_ids, y_ids: input and target ids, shape (T, B); y is x shifted by one character.
        h0: the state carried in from the previous window, (B, H), or None for zeros. It is a
            constant here: the gradient is cut at the window start (dL/dh_0 is discarded).

    Returns:
        ``(L, grads, h_T)``: the loss in nats per character, gradients keyed like ``params``,
        and the final state (B, H) to carry into the next window.
    """
    V, H = _check_params(params)
    _check_window(x_ids, y_ids, V)
    x = one_hot(x_ids, V, params["W_ih"].dtype)  # (T, B, V)
    h_seq, h_T, cache = rnn_fast.forward(x, h0, params)  # (T, B, H)
    logits, out_cache = readout.forward(h_seq, params["W_hq"], params["b_q"])  # (T, B, V)
    loss, dlogits = readout.softmax_cross_entropy(logits, y_ids)
    dh_seq, grads = readout.backward(dlogits, out_cache)
    _, _, rnn_grads = rnn_fast.backward(dh_seq, None, cache)  # dh0 dropped: truncated BPTT
    return loss, rnn_grads | grads, h_T


def evaluate(params: dict[str, np.ndarray], ids: np.ndarray, B: int = 32, T: int = 256) -> float:
    """Mean cross-entropy (nats/char) of the model over the stream ``ids``; no gradients.

    The stream is cut into B contiguous parts, read side by side in windows of T characters
    with the state carried from window to window (as ``corpus.stream_batches``, but the last,
    shorter window is scored too), so each character is predicted from everything before it
    in its part. At most B - 1 trailing characters are left unscored. ``exp`` of the result
    is the perplexity.
    """
    V, H = _check_params(params)
    if not isinstance(ids, np.ndarray) or not np.issubdtype(ids.dtype, np.integer):
        got = getattr(ids, "dtype", type(ids).__name__)
        raise TypeError(f"ids must be a numpy array of integer ids; got {got}")
    B, T = checks.positive_int("B", B), checks.positive_int("T", T)
    if ids.ndim != 1 or ids.size < B + 1:
        raise ValueError(
            f"ids must be a stream of at least B+1 = {B + 1} ids; got shape {ids.shape}"
        )
    if ids.min() < 0 or ids.max() >= V:
        raise ValueError(
            f"ids must lie in [0, V) = [0, {V}); got values in [{ids.min()}, {ids.max()}]"
        )
    L = (ids.size - 1) // B  # characters scored per part
    x_all = ids[: B * L].reshape(B, L)  # (B, L)
    y_all = ids[1 : B * L + 1].reshape(B, L)
    dtype = params["W_ih"].dtype
    h = np.zeros((B, H), dtype=dtype)
    total = 0.0
    for s in range(0, L, T):
        x_ids, y_ids = x_all[:, s : s + T].T, y_all[:, s : s + T].T  # (T, B), last one shorter
        h_seq, h, _ = rnn_fast.forward(one_hot(x_ids, V, dtype), h, params)
        logits, _ = readout.forward(h_seq, params["W_hq"], params["b_q"])  # (T, B, V)
        logp = readout.log_softmax(logits)
        total -= float(np.take_along_axis(logp, y_ids[..., None], axis=-1).sum(dtype=np.float64))
    return total / (B * L)


def train(
    params: dict[str, np.ndarray],
    corpus: Corpus,
    steps: int = CONFIG.steps,
    B: int = CONFIG.B,
    T: int = CONFIG.T,
    lr: float = CONFIG.lr,
    lr_decay: float = CONFIG.lr_decay,
    clip: str | None = CONFIG.clip,
    clip_at: float = CONFIG.clip_at,
    eval_every: int = CONFIG.eval_every,
    eval_chars: int | None = CONFIG.eval_chars,
    progress: bool | str = True,
) -> History:
    """Train ``params`` in place with Adam and truncated BPTT; return the ``History``.

    Each step takes the next (T, B) window of ``corpus.train_ids`` (restarting the stream,
    and the state, at its end), starts from the state the previous window left, clips the
    gradient (``clip`` = 'norm', 'value' or None, at ``clip_at``, as ``companion.train.train``)
    and applies Adam with step size::

        lr_s = lr (r + (1 - r) (1 + cos(pi (s - 1) / steps)) / 2),    r = lr_decay

    a cosine schedule from ``lr`` at step 1 down to about ``lr * lr_decay`` at the end
    (``lr_decay=1``: constant). A non-finite gradient is never applied (``companion.clip``'s
    rule, the same as ``companion.train.train``'s): the step is skipped, counted in
    ``History.skipped``, and the state restarts from zeros.

    Before the first step, every ``eval_every`` steps and after the last, it records a
    validation (``History.val_step``, ``val_loss``, ``train_loss``, all in nats per character;
    ``val_perplexity`` and ``train_perplexity`` their exponentials): the mean loss on
    ``corpus.heldout_ids[:eval_chars]`` (None: all of it; about 0.25 s for the 0.2 MB of the
    default corpus), and the mean training loss since the previous validation (before the
    first step: the loss on an equally long prefix of the training stream). Deterministic:
    batches come in a fixed order; nothing is random.
    """
    V, H = _check_params(params)
    if not isinstance(corpus, Corpus):
        raise TypeError(f"corpus must be a companion.corpus.Corpus; got {type(corpus).__name__}")
    if corpus.vocab.size != V:
        raise ValueError(
            f"params are for V={V} symbols but the corpus vocabulary has {corpus.vocab.size}"
        )
    steps, B, T = (checks.positive_int(n, v) for n, v in (("steps", steps), ("B", B), ("T", T)))
    eval_every = checks.positive_int("eval_every", eval_every)
    if eval_chars is not None:
        eval_chars = checks.positive_int("eval_chars", eval_chars)
    checks.number("lr_decay", lr_decay, 0, 1, low_open=True)
    checks.one_of("clip", clip, _clip.MODES)
    clip_at = checks.positive_number("clip_at", clip_at)
    heldout = corpus.heldout_ids if eval_chars is None else corpus.heldout_ids[:eval_chars]
    if heldout.size < 2:
        raise ValueError(f"need at least 2 held-out ids to evaluate; got {heldout.size}")
    eval_B = min(32, heldout.size - 1)  # evaluate's default, unless the text is tiny
    opt = Adam(params, lr=lr)
    dtype = params["W_ih"].dtype

    history = History()
    start = time.perf_counter()
    history.record_validation(
        evaluate(params, heldout, eval_B),
        train_loss=evaluate(params, corpus.train_ids[: heldout.size], eval_B),
    )
    batches = stream_batches(corpus.train_ids, B, T)
    h = np.zeros((B, H), dtype=dtype)
    label = progress if isinstance(progress, str) else "char-RNN"
    bar = tqdm(range(1, steps + 1), desc=label, disable=not progress, mininterval=1.0)
    for step in bar:
        opt.lr = lr * (lr_decay + (1 - lr_decay) * (1 + math.cos(math.pi * (step - 1) / steps)) / 2)
        try:
            x_ids, y_ids = next(batches)
        except StopIteration:  # end of the corpus: start again from the beginning
            batches = stream_batches(corpus.train_ids, B, T)
            x_ids, y_ids = next(batches)
            h = np.zeros((B, H), dtype=dtype)
        loss, grads, h = loss_and_grads(params, x_ids, y_ids, h)
        grads, norm = _clip.by_mode(grads, clip, clip_at)
        if history.record_step(loss, norm):
            opt.step(grads)
        else:  # the carried state may be what went wrong
            h = np.zeros((B, H), dtype=dtype)
        if step % eval_every == 0 or step == steps:
            tick = time.perf_counter()
            history.record_validation(evaluate(params, heldout, eval_B))
            history.val_seconds += time.perf_counter() - tick
            bar.set_postfix(
                train_ppl=f"{history.train_perplexity[-1]:.2f}",
                heldout_ppl=f"{history.val_perplexity[-1]:.2f}",
                refresh=False,
            )
    bar.close()
    history.seconds = time.perf_counter() - start
    return history


def sample(
    params: dict[str, np.ndarray],
    vocab: Vocab,
    prime: str,
    n: int,
    temperature: float,
    rng: np.random.Generator,
) -> str:
    """Warm the state on ``prime``, then draw ``n`` characters; returns those n characters.

    After the prime, each character is drawn from softmax(o_t / temperature) and fed back as
    the next input. A small temperature approaches the argmax (greedy) choice; a large one
    approaches uniform. Deterministic given ``rng``.
    """
    V, H = _check_params(params)
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a companion.corpus.Vocab; got {type(vocab).__name__}")
    if vocab.size != V:
        raise ValueError(f"vocab must have V={V} symbols like params; got {vocab.size}")
    if not isinstance(prime, str) or not prime:
        raise ValueError(f"prime must be a non-empty str; got {prime!r}")
    n, rng = checks.integer("n", n, 0), checks.generator(rng)
    readout.softmax(np.zeros(1), temperature)  # raises for a bad temperature, even if n = 0
    dtype = params["W_ih"].dtype
    x = one_hot(vocab.encode(prime)[:, None], V, dtype)  # (P, 1, V)
    _, h, _ = rnn.forward(x, None, params)  # (1, H)
    out = []
    for _ in range(n):
        logits, _ = readout.forward(h, params["W_hq"], params["b_q"])  # (1, V)
        p = readout.softmax(logits[0].astype(np.float64), temperature)
        c = min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right")), V - 1)
        out.append(c)
        h = rnn.step(one_hot(np.array([c]), V, dtype), h, params)
    return vocab.decode(np.array(out, dtype=np.int64))


def _check_params(params: object) -> tuple[int, int]:
    """Return ``(V, H)`` of a model parameter dict, after checking keys and shapes."""
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict with keys {PARAM_NAMES}; got {type(params).__name__}"
        )
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {PARAM_NAMES}")
    for k in PARAM_NAMES:
        p = params[k]
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            got = getattr(p, "dtype", type(p).__name__)
            raise TypeError(f"params[{k!r}] must be a floating numpy array; got {got}")
    if params["W_ih"].ndim != 2:
        raise ValueError(f"params['W_ih'] must have shape (H, V); got {params['W_ih'].shape}")
    H, V = params["W_ih"].shape
    expected = {"W_ih": (H, V), "W_hh": (H, H), "b_ih": (H,), "b_hh": (H,)}
    expected |= {"W_hq": (V, H), "b_q": (V,)}
    for k, shape in expected.items():
        if params[k].shape != shape:
            raise ValueError(
                f"params[{k!r}] with V={V}, H={H} must have shape {shape}; got {params[k].shape}"
            )
    return V, H


def _check_window(x_ids: object, y_ids: object, V: int) -> tuple[int, int]:
    for name, a in (("x_ids", x_ids), ("y_ids", y_ids)):
        if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.integer):
            got = getattr(a, "dtype", type(a).__name__)
            raise TypeError(f"{name} must be a numpy array of integer ids; got {got}")
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"{name} must have shape (T, B) with T, B >= 1; got {a.shape}")
        if a.min() < 0 or a.max() >= V:
            raise ValueError(
                f"{name} must lie in [0, V) = [0, {V}); got values in [{a.min()}, {a.max()}]"
            )
    if x_ids.shape != y_ids.shape:
        raise ValueError(
            f"x_ids and y_ids must share the shape (T, B); got {x_ids.shape} and {y_ids.shape}"
        )
    return x_ids.shape
