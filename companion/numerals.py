"""Chapter 10's translation task: a number written in English words to the same number in
Chinese numerals, generated offline, with a held-out split of numbers never seen in training.

    342506  ->  "three hundred and forty - two thousand , five hundred and six"   (source)
            ->  三 十 四 万 二 千 五 百 零 六                                       (target)

The English comes from the ``num2words`` library, cut into tokens by sacrebleu's ``13a``
tokenizer (the one BLEU uses) with hyphens split off as tokens of their own; the Chinese comes
from the ``cn2an`` library, one token per character (sacrebleu's ``zh`` tokenization). What
the task exercises: the digits keep their order, but English groups them by thousands
(thousand, million, billion) and Chinese by ten-thousands (万 10^4, 亿 10^8), so a digit's
unit depends on its place counted from the end; a run of zero digits becomes one 零, or
nothing at the end of a group; "one hundred" is 一百 but "ten" is 十. Numbers have 1 to
``MAX_DIGITS`` digits; sources have up to 30 tokens, targets up to 23.

The split is by item: a number is held out when a hash of its decimal string says so
(``held_out``), so no held-out number, in any random draw, appears in training.
This module imports numpy, num2words, cn2an and sacrebleu, never torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cn2an
import numpy as np
from num2words import num2words
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from companion import checks

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")
MAX_DIGITS = 12
HELD_OUT_SHARE = 0.2  #: share of all numbers that the hash holds out
_TOKENIZE = Tokenizer13a()


def english(n: int) -> list[str]:
    """The English words for n as tokens: num2words' text, tokenized as BLEU's 13a does,
    with each hyphen a token ("forty-two" -> "forty", "-", "two")."""
    return _TOKENIZE(num2words(_number(n))).replace("-", " - ").split()


def chinese(n: int) -> list[str]:
    """The Chinese numerals for n (cn2an, lower-case 小写 form), one token per character."""
    return list(cn2an.an2cn(_number(n)))


def held_out(n: int) -> bool:
    """True for the numbers kept out of training: the first 8 bytes of the BLAKE2b hash of
    n's decimal string, as an integer, fall in the lowest ``HELD_OUT_SHARE`` of their range."""
    digest = hashlib.blake2b(str(_number(n)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < HELD_OUT_SHARE * 2**64


def draw(rng: np.random.Generator, count: int, split: str, zeros: float = 0.35) -> np.ndarray:
    """``count`` distinct numbers of the split ``'train'`` or ``'test'``: the digit count is
    uniform in 1 .. MAX_DIGITS, the leading digit uniform in 1 .. 9, and each later digit
    0 with probability ``zeros`` (so that 零 and skipped units are common), else uniform in
    1 .. 9. Returns int64 (count,), in the order drawn."""
    rng = checks.generator(rng)
    count = checks.positive_int("count", count)
    checks.one_of("split", split, ("train", "test"))
    zeros = checks.number("zeros", zeros, 0.0, 1.0)
    found: dict[int, None] = {}
    while len(found) < count:
        digits = int(rng.integers(1, MAX_DIGITS + 1))
        n = int(rng.integers(1, 10))
        for _ in range(digits - 1):
            n = 10 * n + (0 if rng.random() < zeros else int(rng.integers(1, 10)))
        if held_out(n) == (split == "test"):
            found.setdefault(n)
    return np.fromiter(found, dtype=np.int64, count=count)


@dataclass(frozen=True)
class Vocab:
    """Token <-> id. Ids 0, 1, 2 are the padding, the start and the end symbols."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]]) -> Vocab:
        """The specials, then every token of ``sentences`` in sorted order."""
        return cls(SPECIALS + tuple(sorted({t for s in sentences for t in s})))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens``; raises KeyError naming a token outside the vocabulary."""
        index = {t: i for i, t in enumerate(self.tokens)}
        try:
            return [index[t] for t in tokens]
        except KeyError as err:
            raise KeyError(f"token {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first end symbol, without padding and start."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.tokens[i])
        return out


@dataclass(frozen=True)
class Pairs:
    """Numbers with their source and target token lists, and the two vocabularies."""

    numbers: np.ndarray
    sources: list[list[str]]
    targets: list[list[str]]
    src_vocab: Vocab
    tgt_vocab: Vocab

    def __len__(self) -> int:
        return len(self.numbers)

    def batch(self, index: Sequence[int]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """The padded batch of the items ``index``, in the form ``train`` takes::

            ((src (S, B), lengths (B,), y_in (T, B)), y_out (T, B))     all int64

        src holds the source ids, padded with PAD after each source's ``lengths[b]`` tokens;
        y_in = BOS y_1 .. y_n (the decoder's inputs under teacher forcing) and y_out =
        y_1 .. y_n EOS (what it must predict), both padded with PAD, T = max n + 1.
        """
        src = [self.src_vocab.encode(self.sources[i]) for i in index]
        tgt = [self.tgt_vocab.encode(self.targets[i]) for i in index]
        lengths = np.array([len(s) for s in src], dtype=np.int64)
        return (pad(src), lengths, pad([[BOS, *t] for t in tgt])), pad([[*t, EOS] for t in tgt])

    def sampler(self, rng: np.random.Generator, batch_size: int, bucket: bool = True):
        """A ``batch_fn`` for ``companion.train.train``: each call returns ``batch`` of
        ``batch_size`` items drawn with replacement by ``rng``.

        Without ``bucket`` the items are drawn uniformly from all. With it, a source length
        is drawn first, with probability proportional to its number of items n_L, then the
        items uniformly from those of that length, so the sources of a batch need no
        padding; each item is still drawn with probability (n_L / N)(1 / n_L) = 1 / N.
        """
        rng = checks.generator(rng)
        batch_size = checks.positive_int("batch_size", batch_size)
        lengths = np.array([len(s) for s in self.sources])
        values, counts = np.unique(lengths, return_counts=True)
        groups = [np.flatnonzero(lengths == v) for v in values]

        def bucketed():
            group = groups[rng.choice(len(groups), p=counts / counts.sum())]
            return self.batch(group[rng.integers(0, len(group), size=batch_size)])

        if bucket:
            return bucketed
        return lambda: self.batch(rng.integers(0, len(self), size=batch_size))


def pairs(numbers: Iterable[int], vocabs: tuple[Vocab, Vocab] | None = None) -> Pairs:
    """The ``Pairs`` of ``numbers``; the vocabularies are built from them unless given (give
    the training set's to a held-out set)."""
    numbers = np.asarray([_number(n) for n in numbers], dtype=np.int64)
    sources = [english(int(n)) for n in numbers]
    targets = [chinese(int(n)) for n in numbers]
    if vocabs is None:
        vocabs = Vocab.build(sources), Vocab.build(targets)
    return Pairs(numbers, sources, targets, *vocabs)


def pad(seqs: Sequence[Sequence[int]], value: int = PAD) -> np.ndarray:
    """The id lists as one time-major int64 array (max length, B), padded with ``value``."""
    if not seqs:
        raise ValueError("pad needs at least one sequence")
    out = np.full((max(len(s) for s in seqs), len(seqs)), value, dtype=np.int64)
    for b, s in enumerate(seqs):
        out[: len(s), b] = s
    return out


def _number(n: object) -> int:
    n = checks.integer("n", n, 0)
    if n >= 10**MAX_DIGITS:
        raise ValueError(f"n must be below 10^{MAX_DIGITS}; got {n}")
    return n
