"""Probes of long-range structure in Python source, for any character model.

Python source keeps state that a character model must carry over many characters: which
bracket is open and since when, whether the text is inside a string and which quote ends it,
how deep the next line is indented. ``python_labels`` computes that state from the text
alone; the scorers read a model's next-character log-probabilities at the places where the
state decides the next character; ``correlated_units`` finds the hidden units that track a
state (Karpathy, Johnson and Fei-Fei 2016, "Visualizing and understanding recurrent
networks", arXiv 1506.02078).

Alignment. Index t is the moment a model has read characters 0..t of ``text`` and predicts
character t + 1: the labels at t describe the state after reading text[t], hidden states
h[t] are the model's after reading it, and row t of ``log_probs`` is log p(text[t+1] |
text[0..t]) over the vocabulary. An RNN reading the whole text gives exactly these rows (its
last row predicts past the end and is not used); a model whose row t predicts text[t] itself
from text[0..t-1] (``companion.ngram.KneserNey.log_probs``) gives them as ``lp[1:]``::

    bracket distance   k = (t + 1) - j,  j the position of the innermost open bracket
    string distance    k = (t + 1) - j,  j the position of the opening quote
    closes[t]          text[t + 1] is the character that closes it (a bracket, or the first
                       quote of the string's closing quote)
    next_indent[t]     at a newline text[t], the leading spaces s of the next line; the model
                       gets it right if it predicts s spaces and then a non-space:
                       p(s) = prod_{u=1..s} p(' ' at t+u-1) * (1 - p(' ' at t+s))

so k = 1 is an empty pair "()" and k counts the characters the model must bridge.

The lexer is a simplification of Python's tokenizer, enough for the standard library's
source: a comment runs from ``#`` in code to the end of the line; a string opens at a quote
in code (a prefix such as r, b or f is read as code), is triple-quoted if the quote is
tripled, ends at the same unescaped quote (tripled for a triple-quoted string), and a
backslash escapes the next character in every string (raw strings included, as in Python's
tokenizer, where r"\\"" is one string); a single-quoted string that meets an unescaped
newline ends there (as an error would). Brackets count in code only: those inside strings,
comments and f-string fields are text. A closing bracket that does not match the innermost
open one is ignored (the text then does not parse). Indentation counts spaces, not tabs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from companion import checks

#: The closing characters of (, [ and {; a label's bracket code is the index into this.
BRACKETS = ")]}"
OPENERS = "([{"
#: The quote characters; a label's quote code is the index into this.
QUOTES = "'\""
#: The lower edges of the distance bins, which are [1, 10), [10, 30), [30, 100) and [100, inf).
DISTANCE_BINS = (1, 10, 30, 100)
INDENT_GROUPS = ("deeper", "same", "shallower")


@dataclass(frozen=True)
class Labels:
    """The state of the text after each character; every array has shape (N,), N = len(text).

    Codes are -1 where the state is absent (no open bracket, outside strings, not a newline).
    """

    depth: np.ndarray  # int: open brackets (in code)
    bracket: np.ndarray  # int8: the innermost open bracket's closer, index into BRACKETS
    bracket_from: np.ndarray  # int: position j of that bracket's opener
    bracket_closes: np.ndarray  # bool: text[t + 1] closes that bracket
    quote: np.ndarray  # int8: the open string's quote, index into QUOTES
    triple: np.ndarray  # bool: the open string is triple-quoted
    string_from: np.ndarray  # int: position j of the string's opening quote
    string_closes: np.ndarray  # bool: text[t + 1] is the first quote of its closing quote
    comment: np.ndarray  # bool: inside a comment
    column: np.ndarray  # int: position of text[t] in its line (0 for the first character)
    indent: np.ndarray  # int: leading spaces of the line of text[t] (a blank line: the last
    # non-blank line's, as in Python's tokenizer; 0 before the first)
    next_indent: np.ndarray  # int: at a newline, leading spaces of the next line; else -1

    @property
    def in_string(self) -> np.ndarray:
        """True where t is inside a string literal (its quotes included), shape (N,)."""
        return self.quote >= 0

    def bracket_distance(self) -> np.ndarray:
        """(N,) int: k = t + 1 - j for the innermost open bracket; 0 where none is open."""
        return _distance(self.bracket_from)

    def string_distance(self) -> np.ndarray:
        """(N,) int: k = t + 1 - j for the open string; 0 outside strings."""
        return _distance(self.string_from)


def python_labels(text: str) -> Labels:
    """The bracket, string, comment and indentation state of ``text`` after each character.

    See the module docstring for the definitions and what the lexer simplifies. Runs in
    about 1 s per 500,000 characters. Raises TypeError if ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    N = len(text)
    depth = np.zeros(N, dtype=np.int64)
    bracket = np.full(N, -1, dtype=np.int8)
    bracket_from = np.full(N, -1, dtype=np.int64)
    bracket_closes = np.zeros(N, dtype=bool)
    quote = np.full(N, -1, dtype=np.int8)
    triple = np.zeros(N, dtype=bool)
    string_from = np.full(N, -1, dtype=np.int64)
    string_closes = np.zeros(N, dtype=bool)
    comment = np.zeros(N, dtype=bool)
    stack: list[tuple[int, int]] = []  # (closer code, opener position)
    q, tri, start, in_comment = -1, False, -1, False  # the open string, if q >= 0
    i = 0
    while i < N:
        c, span = text[i], 1  # span: characters that share this state
        if q >= 0:
            closer = QUOTES[q] * (3 if tri else 1)
            if c == "\\":
                span = 2
            elif text.startswith(closer, i):
                if i > 0:
                    string_closes[i - 1] = True
                span = len(closer)
                quote[i : i + span - 1], triple[i : i + span - 1] = q, tri  # still closing
                string_from[i : i + span - 1] = start
                q = -1
            elif c == "\n" and not tri:
                q = -1
        elif in_comment:
            in_comment = c != "\n"
        elif c == "#":
            in_comment = True
        elif c in QUOTES:
            q, start = QUOTES.index(c), i
            tri = text.startswith(c * 3, i)
            span = 3 if tri else 1
        elif c in OPENERS:
            stack.append((OPENERS.index(c), i))
        elif c in BRACKETS and stack and stack[-1][0] == BRACKETS.index(c):
            stack.pop()
            if i > 0:
                bracket_closes[i - 1] = True
        s = slice(i, min(i + span, N))
        if q >= 0:
            quote[s], triple[s], string_from[s] = q, tri, start
        comment[s] = in_comment
        depth[s] = len(stack)
        if stack:
            bracket[s], bracket_from[s] = stack[-1]
        i += span
    column, indent, next_indent = _lines(text)
    return Labels(depth, bracket, bracket_from, bracket_closes, quote, triple, string_from,
                  string_closes, comment, column, indent, next_indent)  # fmt: skip


@dataclass(frozen=True)
class ProbeScores:
    """A model's predictions at the probed positions, by group (a distance bin or a kind).

    Each array has shape (len(groups),); a group with no position has NaN scores.
    """

    what: str  # what was scored, e.g. "closing bracket"
    groups: tuple[str, ...]  # e.g. ("1-9", "10-29", "30-99", "100+")
    count: np.ndarray  # positions in each group
    prob: np.ndarray  # mean probability of the right next character(s)
    accuracy: np.ndarray  # fraction where the right character is the most probable (argmax)
    choice: np.ndarray  # fraction where it beats the other closers of its kind (NaN: n/a)


def closing_scores(
    log_probs: np.ndarray,
    text: str,
    vocab,
    labels: Labels | None = None,
    kind: str = "bracket",
    bins: Sequence[int] = DISTANCE_BINS,
) -> ProbeScores:
    """How well a model predicts the closing bracket or quote, by distance to its opener.

    At every t with ``bracket_closes[t]`` (``kind='bracket'``) or ``string_closes[t]``
    (``kind='string'``), the right next character is the closer c* of the innermost bracket
    or the open string, opened k = t + 1 - j characters earlier. Per distance bin, the mean of
    p(c* | text[0..t]) = exp(log_probs[t, c*]), the fraction of positions where c* is the
    argmax, and the fraction where p(c*) exceeds every other closer of its kind (``)]}`` or
    the two quotes): whether the model remembers *which* bracket, even if unsure *when*.

    Args:
        log_probs: (N, V) or (N - 1, V) log-probabilities (natural log); row t predicts
            text[t + 1]. Any model: an RNN's log-softmax outputs, an n-gram table's rows.
        text: the text the model read, N characters.
        vocab: a ``companion.corpus.Vocab`` of size V (the closers must be in it).
        labels: ``python_labels(text)``, if already computed.
        kind: 'bracket' or 'string'.
        bins: increasing lower edges of the distance bins, the first >= 1; the last bin is
            open-ended.

    Raises ValueError or TypeError for log-probabilities of the wrong shape, an unknown
    kind, bad bins, or labels of another length.
    """
    checks.one_of("kind", kind, ("bracket", "string"))
    edges = _bins(bins)
    log_probs, labels = _check_stream(log_probs, text, vocab, labels)
    closers = BRACKETS if kind == "bracket" else QUOTES
    if kind == "bracket":
        closes, code, dist = labels.bracket_closes, labels.bracket, labels.bracket_distance()
    else:
        closes, code, dist = labels.string_closes, labels.quote, labels.string_distance()
    t = np.flatnonzero(closes[: len(log_probs)])
    ids = np.array([_id(vocab, c) for c in closers])  # the closers' ids, (3,) or (2,)
    right = ids[code[t]]
    lp = log_probs[t]  # (M, V)
    lp_right = lp[np.arange(t.size), right]
    lp_others = np.where(ids[None, :] == right[:, None], -np.inf, lp[:, ids]).max(1)
    group = np.searchsorted(edges, dist[t], side="right") - 1
    what = "closing bracket" if kind == "bracket" else "closing quote"
    return _grouped(what, _bin_names(edges), group, np.exp(lp_right),
                    lp.argmax(1) == right, lp_right > lp_others)  # fmt: skip


def indent_scores(
    log_probs: np.ndarray, text: str, vocab, labels: Labels | None = None
) -> ProbeScores:
    """How well a model predicts the indentation of the next line, where a statement ends.

    At a newline text[t] that ends a logical line (outside brackets and strings) and whose
    next line is not blank and has s leading spaces, the model's probability of exactly s
    spaces (read along the true text, so each step sees the spaces before it) is
    p(s) = prod_{u=1..s} p(' ' at row t+u-1) * (1 - p(' ' at row t+s)), and it is right
    (argmax) if it predicts ' ' at the s rows and a non-space at row t + s. Grouped by the
    change from the indentation of the logical line that ends (its first line's; a blank line
    keeps the block's): 'deeper' (after a ``:``, easy), 'same', 'shallower' (a block ends: the
    model must remember the enclosing block's indentation). Arguments and errors as
    ``closing_scores``; newlines whose next line runs past ``log_probs`` are skipped.
    """
    log_probs, labels = _check_stream(log_probs, text, vocab, labels)
    space, N = _id(vocab, " "), len(text)
    s = labels.next_indent
    ends = np.flatnonzero((s >= 0) & (labels.depth == 0) & (labels.quote < 0))  # logical ends
    ref = labels.indent[np.minimum(np.append(0, ends[:-1] + 1), N - 1)]  # where each began
    keep = (ends + s[ends] + 1 < N) & (ends + s[ends] < len(log_probs))
    t, ref = ends[keep], ref[keep]
    written = np.array([text[u + s[u] + 1] not in " \n" for u in t], dtype=bool)
    t, ref = t[written], ref[written]  # skip blank next lines
    lp_space = log_probs[:, space]
    prob, right = np.empty(t.size), np.empty(t.size, dtype=bool)
    is_space = log_probs.argmax(1) == space
    for m, (u, n) in enumerate(zip(t.tolist(), s[t].tolist(), strict=True)):
        prob[m] = np.exp(lp_space[u : u + n].sum()) * -np.expm1(lp_space[u + n])
        right[m] = is_space[u : u + n].all() and not is_space[u + n]
    change = np.sign(ref - s[t]) + 1  # 0 deeper, 1 same, 2 shallower
    return _grouped("next line's indentation", INDENT_GROUPS, change, prob, right, None)


def table(scores: Mapping[str, ProbeScores], field: str = "prob", digits: int = 2) -> str:
    """A text table: one row per model (the mapping's keys), one column per group, each entry
    the ``field`` ('prob', 'accuracy' or 'choice') rounded to ``digits``; a last row gives the
    number of positions in each group (from the first model: every model read one text)."""
    checks.one_of("field", field, ("prob", "accuracy", "choice"))
    digits = checks.integer("digits", digits, minimum=0)
    if not scores:
        raise ValueError("scores must hold at least one model's ProbeScores")
    first = next(iter(scores.values()))
    width = max(8, digits + 4, *(len(g) + 1 for g in first.groups))
    name_width = max(10, *(len(k) + 1 for k in scores))
    lines = [f"{first.what}: {field}", "".ljust(name_width) + "".join(g.rjust(width) for g in
             first.groups)]  # fmt: skip
    for name, sc in scores.items():
        values = getattr(sc, field)
        lines.append(name.ljust(name_width) + "".join(f"{v:{width}.{digits}f}" for v in values))
    lines.append("positions".ljust(name_width) + "".join(f"{n:{width}d}" for n in first.count))
    return "\n".join(lines)


@dataclass(frozen=True)
class Units:
    """Hidden units ranked by ``|r|``, the strongest first: their indices and Pearson r."""

    index: np.ndarray  # (top,) int, unit indices into the H hidden units
    r: np.ndarray  # (top,) their correlation with the label, with its sign


def correlated_units(
    h: np.ndarray, label: np.ndarray, top: int | None = None, mask: np.ndarray | None = None
) -> Units:
    """The hidden units whose activation correlates most with a label over a stream.

    For unit j, Pearson's correlation over the positions t (those with ``mask[t]``, if
    given) of h[t, j] with label[t]::

        r_j = sum_t (h_tj - m_j)(l_t - m) / sqrt(sum_t (h_tj - m_j)^2  sum_t (l_t - m)^2)

    with m_j and m the means of unit j and of the label over those positions.

    A unit that is constant over the positions has r = 0. Returns the ``top`` units by ``|r|``
    (all H if None; ties by index). Labels from ``python_labels``: ``in_string`` (0/1), ``depth``,
    ``column``; a unit with r near +1 or -1 is a candidate to show with
    ``companion.textfig.activation_text``.

    Args:
        h: hidden states (N, H), row t after reading text[t].
        label: (N,) numbers (bool is read as 0/1).
        top: how many units to return, from 1 to H; None for all.
        mask: None, or (N,) bool selecting the positions (e.g. newlines for ``next_indent``).

    Raises TypeError or ValueError for arrays of the wrong kind or shape, ``top`` out of
    1..H, fewer than two positions, or a label that is constant over them.
    """
    h = checks.float_array("h", h).astype(np.float64)
    if h.ndim != 2:
        raise ValueError(f"h must have shape (N, H); got {h.shape}")
    label = np.asarray(label)
    if label.shape != (h.shape[0],) or not (
        np.issubdtype(label.dtype, np.number) or label.dtype == bool
    ):
        raise ValueError(f"label must be (N,) = ({h.shape[0]},) numbers; got {label.shape}")
    top = h.shape[1] if top is None else checks.integer("top", top, minimum=1, maximum=h.shape[1])
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != label.shape or mask.dtype != bool:
            raise ValueError(f"mask must be (N,) bool; got {mask.shape}, {mask.dtype}")
        h, label = h[mask], label[mask]
    label = label.astype(np.float64)
    if label.size < 2 or np.ptp(label) == 0:
        raise ValueError("the label must take at least two values over the chosen positions")
    hc, lc = h - h.mean(0), label - label.mean()
    norm = np.sqrt((hc**2).sum(0) * (lc**2).sum())
    r = np.divide(hc.T @ lc, norm, out=np.zeros(h.shape[1]), where=norm > 0)
    index = np.argsort(-np.abs(r), kind="stable")[:top]
    return Units(index, r[index])


# --- helpers -----------------------------------------------------------------------------------


def _distance(start: np.ndarray) -> np.ndarray:
    return np.where(start >= 0, np.arange(1, start.size + 1) - start, 0)


def _lines(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """column, indent and next_indent of every character (see ``Labels``)."""
    N = len(text)
    starts = np.array([0] + [m.end() for m in re.finditer("\n", text)], dtype=np.int64)
    lead = np.array([len(m.group()) for m in re.finditer("(?m)^ *", text)], dtype=np.int64)
    line = np.searchsorted(starts, np.arange(N), side="right") - 1  # line of each character
    column = np.arange(N) - starts[line]
    ends = np.append(starts[1:] - 1, N)  # each line's newline (or the end of the text)
    written = np.flatnonzero(lead < ends - starts)  # lines with more than spaces
    last = np.searchsorted(written, np.arange(starts.size), side="right") - 1
    block = np.where(last >= 0, lead[written[np.maximum(last, 0)]], 0)
    indent = block[line]
    next_indent = np.full(N, -1, dtype=np.int64)
    newline = starts[1:] - 1
    next_indent[newline] = lead[1 : newline.size + 1]
    return column, indent, next_indent


def _check_stream(log_probs, text, vocab, labels) -> tuple[np.ndarray, Labels]:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    log_probs = checks.float_array("log_probs", log_probs)
    N, V = len(text), getattr(vocab, "size", None)
    if V is None:
        raise TypeError(f"vocab must be a companion.corpus.Vocab; got {type(vocab).__name__}")
    if log_probs.ndim != 2 or log_probs.shape[0] not in (N, N - 1) or log_probs.shape[1] != V:
        raise ValueError(
            f"log_probs must have shape (N, V) or (N - 1, V) = ({N} or {N - 1}, {V}) for the "
            f"text and vocabulary; got {log_probs.shape}"
        )
    labels = python_labels(text) if labels is None else labels
    if not isinstance(labels, Labels) or labels.depth.shape != (N,):
        raise ValueError("labels must be python_labels(text) of this text")
    return log_probs, labels


def _id(vocab, c: str) -> int:
    if c not in vocab.symbols:
        raise ValueError(f"the vocabulary has no {c!r}, which the probe scores")
    return vocab.symbols.index(c)


def _bins(bins: Sequence[int]) -> np.ndarray:
    edges = np.array([checks.positive_int("bins", b) for b in bins], dtype=np.int64)
    if edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be increasing lower edges >= 1; got {tuple(bins)}")
    return edges


def _bin_names(edges: np.ndarray) -> tuple[str, ...]:
    names = [
        f"{a}" if b == a + 1 else f"{a}-{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return (*names, f"{edges[-1]}+")


def _grouped(what, groups, group, prob, right, choice) -> ProbeScores:
    """Mean prob, right and choice (None: n/a) within each of the groups 0..len(groups)-1."""
    K = len(groups)
    keep = group >= 0
    group, prob, right = group[keep], prob[keep], right[keep]
    count = np.bincount(group, minlength=K)

    def mean(v):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(group, weights=v.astype(np.float64), minlength=K) / count

    choice_mean = np.full(K, np.nan) if choice is None else mean(choice[keep])
    return ProbeScores(what, tuple(groups), count, mean(prob), mean(right), choice_mean)
