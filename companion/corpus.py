"""A character corpus that needs no download: the source of Python's own standard library.

Every Python installation ships its standard library as ``.py`` files, so the corpus is on
the reader's disk already. ``TRAIN_FILES`` (about 1.4 MB of text) and ``HELDOUT_FILES``
(about 0.2 MB) are fixed lists of long-stable, pure-Python modules, chosen to exist in every
CPython from 3.11 on (no module removed by PEP 594, none that became a package, no test files,
no generated data tables). The split is by file: held-out text comes from modules the model
never saw. The files differ a little between Python versions, so the exact numbers a chapter
prints depend on the interpreter; ``Corpus`` records the stdlib directory it read.

Characters are mapped to integer ids by a ``Vocab`` built from the training text. Characters
seen fewer than ``MIN_COUNT`` times in training (a handful of non-ASCII letters and symbols in
comments) and held-out characters never seen in training map to one unknown symbol,
``UNK = "\\ufffd"``, so the vocabulary is the ~95 printable ASCII characters and newline, plus
the unknown symbol.

Batches for truncated BPTT (``stream_batches``): the id stream is cut into B contiguous
streams, read side by side; window k holds steps [kT, (k+1)T) of every stream, so the hidden
state left by window k is the right initial state for window k + 1::

    stream b = ids[b L : (b + 1) L + 1],   L = K T,  K = ((len(ids) - 1) // B) // T windows
    x_k[t, b] = stream b [k T + t],        y_k[t, b] = stream b [k T + t + 1]   (next character)

The baseline (``unigram_perplexity``) is an add-alpha smoothed character frequency model::

    p(c) = (n_c + alpha) / (N + alpha V),      perplexity = exp(-(1/M) sum_m log p(c_m))
"""

from __future__ import annotations

import sysconfig
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion import checks

#: Training modules, relative to the stdlib directory (about 1.4 MB in CPython 3.11).
TRAIN_FILES = (
    "argparse.py", "ast.py", "base64.py", "bisect.py", "configparser.py", "contextlib.py",
    "copy.py", "dataclasses.py", "difflib.py", "doctest.py", "enum.py", "fractions.py",
    "functools.py", "gettext.py", "heapq.py", "ipaddress.py", "optparse.py", "os.py",
    "pickle.py", "pprint.py", "random.py", "shutil.py", "statistics.py", "string.py",
    "subprocess.py", "tarfile.py", "textwrap.py", "threading.py", "tokenize.py", "traceback.py",
)  # fmt: skip
#: Held-out modules, disjoint from ``TRAIN_FILES`` (about 0.19 MB in CPython 3.11).
HELDOUT_FILES = (
    "calendar.py", "csv.py", "fileinput.py", "graphlib.py", "json/decoder.py",
    "json/encoder.py", "logging/__init__.py", "queue.py", "sched.py",
)  # fmt: skip
SEPARATOR = "\n\n"
UNK = "\ufffd"
MIN_COUNT = 10


def _check_ids(name: str, ids: object, V: int | None = None) -> np.ndarray:
    if not isinstance(ids, np.ndarray) or not np.issubdtype(ids.dtype, np.integer):
        got = getattr(ids, "dtype", type(ids).__name__)
        raise TypeError(f"{name} must be a numpy array of integer ids; got {got}")
    if ids.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (a stream of ids); got shape {ids.shape}")
    if V is not None and ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(
            f"{name} must lie in [0, V) = [0, {V}); got values in [{ids.min()}, {ids.max()}]"
        )
    return ids


@dataclass(frozen=True)
class Vocab:
    """Characters <-> integer ids. ``symbols[i]`` is the character of id i; the last is ``UNK``.

    ``encode`` maps any character outside ``symbols`` to the unknown id, so decoding is exact
    for every text made of vocabulary characters (with ``min_count=1``, the whole training text).
    """

    symbols: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str, min_count: int = MIN_COUNT) -> Vocab:
        """The characters of ``text`` seen at least ``min_count`` times, sorted, then ``UNK``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        min_count = checks.positive_int("min_count", min_count)
        counts = Counter(text)
        kept = sorted(c for c, n in counts.items() if n >= min_count and c != UNK)
        return cls((*kept, UNK))

    @property
    def size(self) -> int:
        """V, the number of ids, counting the unknown symbol."""
        return len(self.symbols)

    @property
    def unk_id(self) -> int:
        return len(self.symbols) - 1

    def encode(self, text: str) -> np.ndarray:
        """ids of the characters of ``text``, shape (len(text),), dtype int64."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        table = np.array([ord(c) for c in self.symbols[:-1]], dtype=np.int64)  # sorted
        ids = np.searchsorted(table, codes)
        found = ids < table.size
        found[found] = table[ids[found]] == codes[found]
        ids[~found] = self.unk_id
        return ids

    def decode(self, ids: np.ndarray | Sequence[int]) -> str:
        """The text of a sequence of ids (the unknown id decodes to ``UNK``)."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be integers; got dtype {ids.dtype}")
        _check_ids("ids", ids.reshape(-1).astype(np.int64), self.size)
        return "".join(self.symbols[i] for i in ids.reshape(-1).tolist())


@dataclass
class Corpus:
    """Training and held-out text, their file lists, the vocabulary and the id streams."""

    train_text: str
    heldout_text: str
    train_files: tuple[str, ...]
    heldout_files: tuple[str, ...]
    vocab: Vocab
    train_ids: np.ndarray
    heldout_ids: np.ndarray
    stdlib: str
    train_unknown: int  # training characters mapped to UNK (rarer than min_count)
    heldout_unknown: int  # held-out characters mapped to UNK


def _read(root: Path, files: Sequence[str]) -> str:
    texts = []
    for name in files:
        path = root.joinpath(*name.split("/"))
        if not path.is_file():
            raise FileNotFoundError(f"corpus file {name!r} not found in the stdlib at {root}")
        texts.append(path.read_text(encoding="utf-8"))
    return SEPARATOR.join(texts)


def load_stdlib_corpus(
    train_files: Sequence[str] = TRAIN_FILES,
    heldout_files: Sequence[str] = HELDOUT_FILES,
    min_count: int = MIN_COUNT,
    stdlib: str | Path | None = None,
) -> Corpus:
    """Read the corpus from the standard library; files are joined with ``SEPARATOR``.

    ``stdlib`` defaults to ``sysconfig.get_paths()["stdlib"]``. A listed file that is missing
    raises FileNotFoundError naming it; a file in both lists raises ValueError.
    """
    train_files, heldout_files = tuple(train_files), tuple(heldout_files)
    if not train_files or not heldout_files:
        raise ValueError("train_files and heldout_files must both name at least one file")
    both = sorted(set(train_files) & set(heldout_files))
    if both:
        raise ValueError(f"the split is by file, so the lists must be disjoint; both hold {both}")
    root = Path(stdlib if stdlib is not None else sysconfig.get_paths()["stdlib"])
    train_text, heldout_text = _read(root, train_files), _read(root, heldout_files)
    vocab = Vocab.from_text(train_text, min_count)
    train_ids, heldout_ids = vocab.encode(train_text), vocab.encode(heldout_text)
    return Corpus(
        train_text=train_text,
        heldout_text=heldout_text,
        train_files=train_files,
        heldout_files=heldout_files,
        vocab=vocab,
        train_ids=train_ids,
        heldout_ids=heldout_ids,
        stdlib=str(root),
        train_unknown=int(np.sum(train_ids == vocab.unk_id)),
        heldout_unknown=int(np.sum(heldout_ids == vocab.unk_id)),
    )


def num_windows(n: int, B: int, T: int) -> int:
    """How many (T, B) windows ``stream_batches`` yields from a stream of ``n`` ids."""
    n = checks.integer("n", n, minimum=0)
    B, T = checks.positive_int("B", B), checks.positive_int("T", T)
    return ((n - 1) // B) // T


def stream_batches(ids: np.ndarray, B: int, T: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive windows ``(x, y)`` of B parallel contiguous streams, each of shape (T, B).

    ``y`` is ``x`` shifted by one character, and window k + 1 continues window k in every
    column, so a hidden state can be carried across windows (truncated BPTT). The tail that
    does not fill a whole window is dropped. Raises ValueError if not even one window fits.
    """
    ids = _check_ids("ids", ids)
    K = num_windows(ids.size, B, T)
    if K < 1:
        raise ValueError(
            f"a stream of {ids.size} ids is too short for one window of B={B} streams of "
            f"T={T} steps; need at least B*T+1 = {B * T + 1} ids"
        )
    L = K * T
    x_all = ids[: B * L].reshape(B, L)  # row b is stream b
    y_all = ids[1 : B * L + 1].reshape(B, L)  # its next characters

    def windows() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(K):
            s = slice(k * T, (k + 1) * T)
            yield np.ascontiguousarray(x_all[:, s].T), np.ascontiguousarray(y_all[:, s].T)

    return windows()


def random_windows(
    ids: np.ndarray, B: int, T: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """B windows at independent random offsets: ``(x, y)``, each (T, B), y = x shifted by one."""
    ids = _check_ids("ids", ids)
    B, T = checks.positive_int("B", B), checks.positive_int("T", T)
    rng = checks.generator(rng)
    if ids.size < T + 1:
        raise ValueError(f"need at least T+1 = {T + 1} ids for one window; got {ids.size}")
    starts = rng.integers(0, ids.size - T, size=B)
    rows = starts[None, :] + np.arange(T)[:, None]  # (T, B)
    return ids[rows], ids[rows + 1]


def unigram_cross_entropy(
    train_ids: np.ndarray, eval_ids: np.ndarray, V: int, alpha: float = 1.0
) -> float:
    """Mean negative log-likelihood (nats/char) of ``eval_ids`` under an add-alpha unigram.

    p(c) = (n_c + alpha) / (N + alpha V), with n_c the count of id c among the N ``train_ids``.
    ``alpha = 0`` is the unsmoothed frequency and gives inf if ``eval_ids`` holds an unseen id.
    """
    V = checks.positive_int("V", V)
    train_ids, eval_ids = _check_ids("train_ids", train_ids, V), _check_ids("eval_ids", eval_ids, V)
    alpha = checks.number("alpha", alpha, low=0.0)
    if eval_ids.size == 0 or train_ids.size + alpha == 0:
        raise ValueError("need at least one evaluation id and a non-empty training stream")
    counts = np.bincount(train_ids, minlength=V) + float(alpha)
    with np.errstate(divide="ignore"):
        log_p = np.log(counts) - np.log(counts.sum())
    return float(-np.mean(log_p[eval_ids]))


def unigram_perplexity(
    train_ids: np.ndarray, eval_ids: np.ndarray, V: int, alpha: float = 1.0
) -> float:
    """exp(``unigram_cross_entropy``): the baseline a character model has to beat."""
    return float(np.exp(unigram_cross_entropy(train_ids, eval_ids, V, alpha)))
