"""Probes of long-range structure: labels on hand-made source, scorers on toy log-probabilities,
the unit-correlation search on a planted unit, and the coloured-text figure."""

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from companion import memory_probes as mp
from companion import textfig
from companion.corpus import Vocab


def _closer(labels, t):
    return mp.BRACKETS[labels.bracket[t]] if labels.bracket[t] >= 0 else None


def test_nested_brackets_depth_closer_and_distance():
    text = "f(a[1], {2: (3)})"
    lab = mp.python_labels(text)
    assert lab.depth.tolist() == [0, 1, 1, 2, 2, 1, 1, 1, 2, 2, 2, 2, 3, 3, 2, 1, 0]
    assert [_closer(lab, t) for t in range(len(text))] == list(
        [None] + [")"] * 2 + ["]"] * 2 + [")"] * 3 + ["}"] * 4 + [")"] * 2 + ["}", ")", None]
    )
    # the closer comes next at t = 4 (']', opened at 3), 13 (')', at 12), 14 ('}', at 8), 15
    assert np.flatnonzero(lab.bracket_closes).tolist() == [4, 13, 14, 15]
    assert lab.bracket_distance()[[4, 13, 14, 15]].tolist() == [2, 2, 7, 15]
    assert lab.bracket_distance()[0] == 0 and lab.bracket_distance()[-1] == 0


def test_brackets_inside_strings_and_comments_are_text():
    text = 'x = ("(", ")")  # ) ( [\ny = [1]'
    lab = mp.python_labels(text)
    assert lab.depth[text.index('"(')] == 1  # the string's quote, inside the open (
    assert lab.depth[text.index('"(') + 1] == 1  # the ( in the string opens nothing
    assert lab.depth[text.index('")"') + 1] == 1  # the ) in the string closes nothing
    close = text.index(")  #")
    assert lab.depth[close] == 0 and lab.bracket_closes[close - 1]
    assert (lab.depth[text.index("#") : text.index("\n")] == 0).all()  # the comment's ) ( [
    assert lab.comment[text.index("#") : text.index("\n")].all()
    assert not lab.comment[text.index("\n")] and not lab.comment[: text.index("#")].any()
    assert lab.depth[-2] == 1 and lab.depth[-1] == 0  # y = [1]


def test_quote_state_triple_quotes_escapes_and_closers():
    text = 's = \'it\\\'s\' + """a \' " b"""\n'
    lab = mp.python_labels(text)
    single = range(text.index("'"), text.index("' +"))  # 'it\'s  (the escaped quote inside)
    assert (lab.quote[list(single)] == mp.QUOTES.index("'")).all()
    assert not lab.triple[list(single)].any()
    end = text.index("' +")
    assert lab.quote[end] == -1 and lab.string_closes[end - 1]
    assert lab.string_distance()[end - 1] == end - text.index("'")
    start = text.index('"""')
    inner = range(start, text.index('"""', start + 3) + 2)  # opener, a ' " b, two closing quotes
    assert (lab.quote[list(inner)] == mp.QUOTES.index('"')).all() and lab.triple[list(inner)].all()
    stop = text.index('"""', start + 3)
    assert np.flatnonzero(lab.string_closes).tolist() == [end - 1, stop - 1]
    assert lab.quote[stop + 2] == -1 and lab.quote[-1] == -1
    assert lab.string_distance()[stop - 1] == stop - start


def test_hash_in_a_string_is_not_a_comment_and_quotes_in_comments_open_nothing():
    text = "a = '#'  # it's\nb = 1"
    lab = mp.python_labels(text)
    assert not lab.comment[: text.index("  #")].any()
    assert lab.quote[text.index("it's") + 2] == -1  # the ' in the comment opens no string
    assert not lab.in_string[text.index("\n") :].any()


def test_empty_strings_raw_strings_and_unterminated_strings():
    lab = mp.python_labels('x = ""\n')
    assert lab.string_closes.tolist() == [False] * 4 + [True, False, False]
    assert lab.string_distance()[4] == 1  # "" : the closer comes one character after
    raw = 'r"\\"" + ")"'  # r"\"" is one string (the backslash keeps the quote), then ")"
    lab = mp.python_labels(raw)
    assert lab.quote[raw.index(" +")] == -1 and lab.depth.max() == 0
    lab = mp.python_labels("x = 'open\ny = (1)")  # an unterminated string ends at the newline
    assert lab.quote[9] == -1 and lab.depth.max() == 1


def test_unmatched_closer_is_ignored():
    lab = mp.python_labels("(]x)")
    assert lab.depth.tolist() == [1, 1, 1, 0]
    assert lab.bracket_closes.tolist() == [False, False, True, False]


def test_indentation_labels():
    text = "def f():\n    if x:\n        y\n\n    z\n"
    lab = mp.python_labels(text)
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    assert lab.next_indent[newlines].tolist() == [4, 8, 0, 4, 0]
    assert (np.delete(lab.next_indent, newlines) == -1).all()
    assert lab.indent[text.index("y")] == 8 and lab.indent[text.index("z")] == 4
    assert lab.indent[newlines[3]] == 8  # a blank line keeps the block's indentation
    assert lab.column[text.index("if")] == 4 and lab.column[0] == 0
    assert lab.column[newlines[0]] == 8  # the newline's own column


def test_labels_of_real_source_are_balanced():
    import inspect

    text = inspect.getsource(mp)
    lab = mp.python_labels(text)
    assert lab.depth[-1] == 0 and lab.quote[-1] == -1
    assert lab.depth.min() == 0 and lab.bracket_closes.sum() > 100


def test_python_labels_rejects_non_text():
    with pytest.raises(TypeError, match="text must be a str"):
        mp.python_labels(b"(x)")


# --- the scorers -------------------------------------------------------------------------------


def _toy(text, right_p, vocab=None):
    """log-probs (N, V): at each position where a bracket closes next, the right closer gets
    probability right_p(t) and the other closers share the rest; elsewhere uniform."""
    vocab = vocab or Vocab.from_text(text + ")]}'\" x\n", min_count=1)
    lab = mp.python_labels(text)
    V, N = vocab.size, len(text)
    p = np.full((N, V), 1.0 / V)
    for t in np.flatnonzero(lab.bracket_closes):
        right = vocab.symbols.index(_closer(lab, t))
        others = [vocab.symbols.index(c) for c in mp.BRACKETS if c != _closer(lab, t)]
        p[t] = 0.0
        p[t, right] = right_p(t)
        p[t, others] = (1 - right_p(t)) / 2
    return np.log(np.maximum(p, 1e-300)), vocab, lab


def test_closing_scores_by_distance_on_toy_log_probs():
    text = "(x)" + "[" + "x" * 12 + "]" + "{" + "x" * 40 + "}" + "(" + "x" * 150 + ")"
    # distances: 2 (bin 1-9), 13 (10-29), 41 (30-99), 151 (100+)
    probs = {1: 0.9, 15: 0.6, 57: 0.4, 209: 0.2}
    log_probs, vocab, lab = _toy(text, lambda t: probs[t])
    assert np.flatnonzero(lab.bracket_closes).tolist() == sorted(probs)
    sc = mp.closing_scores(log_probs, text, vocab)
    assert sc.groups == ("1-9", "10-29", "30-99", "100+")
    assert sc.count.tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(sc.prob, [0.9, 0.6, 0.4, 0.2])
    assert sc.accuracy.tolist() == [1.0, 1.0, 1.0, 0.0]  # 0.2 < 0.4 for the two others
    assert sc.choice.tolist() == [1.0, 1.0, 1.0, 0.0]
    # the same with the last row dropped (an (N - 1, V) array) and labels passed in
    again = mp.closing_scores(log_probs[:-1], text, vocab, labels=lab)
    np.testing.assert_array_equal(again.prob, sc.prob)


def test_closing_scores_choice_differs_from_accuracy_and_empty_bins_are_nan():
    text = "(xx)[x]"
    log_probs, vocab, _ = _toy(text, lambda t: 0.5)
    x = vocab.symbols.index("x")
    log_probs[2, :] = np.log(1e-3)
    log_probs[2, x], log_probs[2, vocab.symbols.index(")")] = np.log(0.6), np.log(0.3)
    sc = mp.closing_scores(log_probs, text, vocab, bins=(1, 3, 50))
    assert sc.groups == ("1-2", "3-49", "50+")
    assert sc.count.tolist() == [1, 1, 0]  # "[x]" at distance 2, "(xx)" at distance 3
    np.testing.assert_allclose(sc.prob[:2], [0.5, 0.3])
    assert sc.accuracy[:2].tolist() == [1.0, 0.0]  # x is the argmax at t = 2
    assert sc.choice[:2].tolist() == [1.0, 1.0]  # but ) beats ] and }
    assert np.isnan(sc.prob[2]) and np.isnan(sc.accuracy[2])


def test_closing_scores_for_strings():
    text = "a = 'xy' + \"z\""
    vocab = Vocab.from_text(text, min_count=1)
    log_probs = np.log(np.full((len(text), vocab.size), 1.0 / vocab.size))
    sq, dq = vocab.symbols.index("'"), vocab.symbols.index('"')
    log_probs[6, sq] = np.log(0.5)  # before 'xy' closes (distance 3)
    log_probs[12, sq] = np.log(0.5)  # before "z" closes: the wrong quote is likelier
    sc = mp.closing_scores(log_probs, text, vocab, kind="string", bins=(1, 3))
    assert sc.what == "closing quote" and sc.count.tolist() == [1, 1]
    # group 0: "z" (distance 2), where ' is likelier than the right "; group 1: 'xy' (3)
    assert sc.choice.tolist() == [0.0, 1.0] and sc.accuracy.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(sc.prob, [np.exp(log_probs[12, dq]), 0.5])


def test_indent_scores_on_toy_log_probs():
    text = "if a:\n  b\n  c\nd\n"
    vocab = Vocab.from_text(text, min_count=1)
    sp = vocab.symbols.index(" ")
    p = np.full((len(text), vocab.size), 0.5 / (vocab.size - 1))
    p[:, sp] = 0.5  # p(' ') = 1/2 everywhere: p(s spaces then not) = 2^-(s+1)
    sc = mp.indent_scores(np.log(p), text, vocab)
    assert sc.groups == mp.INDENT_GROUPS
    # newlines at 5 (next: 2, deeper), 9 (2, same), 13 (0, shallower); 15 has no next line
    assert sc.count.tolist() == [1, 1, 1]
    np.testing.assert_allclose(sc.prob, [1 / 8, 1 / 8, 1 / 2])
    assert np.isnan(sc.choice).all()
    p[5:7, sp], p[7, sp] = 0.9, 0.01  # right for the deeper line: ' ', ' ', then 'b'
    sc = mp.indent_scores(np.log(p), text, vocab)
    np.testing.assert_allclose(sc.prob[0], 0.9 * 0.9 * 0.99)
    assert sc.accuracy[0] == 1.0 and sc.accuracy[2] == 0.0  # ' ' (1/2) is argmax at 13
    text = "if a:\n  b\n\nc\n"  # the dedent after a blank line is still a dedent
    vocab = Vocab.from_text(text, min_count=1)
    sc = mp.indent_scores(np.zeros((len(text), vocab.size)), text, vocab)
    assert sc.count.tolist() == [1, 0, 1]  # the newline before the blank line is skipped
    text = "x = f(a,\n      b)\ny\n"  # a continuation line is not a statement's start
    vocab = Vocab.from_text(text, min_count=1)
    sc = mp.indent_scores(np.zeros((len(text), vocab.size)), text, vocab)
    assert sc.count.tolist() == [0, 1, 0]  # only "y": the same as "x = f(a," began


def test_scorers_reject_bad_input():
    text = "(x)"
    vocab = Vocab.from_text(text + "]}", min_count=1)
    good = np.zeros((3, vocab.size))
    with pytest.raises(ValueError, match=r"shape \(N, V\)"):
        mp.closing_scores(np.zeros((5, vocab.size)), text, vocab)
    with pytest.raises(ValueError, match=r"shape \(N, V\)"):
        mp.closing_scores(np.zeros((3, vocab.size + 1)), text, vocab)
    with pytest.raises(TypeError, match="floating"):
        mp.closing_scores(np.zeros((3, vocab.size), dtype=int), text, vocab)
    with pytest.raises(ValueError, match="kind"):
        mp.closing_scores(good, text, vocab, kind="paren")
    with pytest.raises(ValueError, match="increasing"):
        mp.closing_scores(good, text, vocab, bins=(10, 5))
    with pytest.raises(ValueError, match="has no"):
        mp.closing_scores(np.zeros((3, 5)), text, Vocab(("(", "x", "]", "}", "\ufffd")))
    with pytest.raises(ValueError, match="labels"):
        mp.closing_scores(good, text, vocab, labels=mp.python_labels("(x)y"))
    with pytest.raises(TypeError, match="Vocab"):
        mp.closing_scores(good, text, vocab.symbols)


def test_table_prints_models_by_group():
    text = "(x)" + "[" + "x" * 12 + "]"
    log_probs, vocab, _ = _toy(text, lambda t: 0.75)
    sc = mp.closing_scores(log_probs, text, vocab, bins=(1, 10))
    out = mp.table({"lstm": sc, "4-gram": sc}, field="prob")
    lines = out.splitlines()
    assert lines[0] == "closing bracket: prob"
    assert lines[1].split() == ["1-9", "10+"]
    assert lines[2].split() == ["lstm", "0.75", "0.75"]
    assert lines[3].split() == ["4-gram", "0.75", "0.75"]
    assert lines[4].split() == ["positions", "1", "1"]
    assert len({len(line) for line in lines[1:]}) == 1  # columns aligned
    with pytest.raises(ValueError, match="field"):
        mp.table({"lstm": sc}, field="bits")


# --- units that track state --------------------------------------------------------------------


def test_correlated_units_finds_a_planted_unit_with_its_sign():
    rng = np.random.default_rng(0)
    N, H = 2000, 32
    label = (rng.random(N) < 0.3).astype(float)  # e.g. inside a string
    h = np.tanh(rng.standard_normal((N, H)))
    h[:, 7] = np.tanh(2.0 * label - 1.0 + 0.3 * rng.standard_normal(N))  # tracks the label
    h[:, 19] = -np.tanh(1.0 * label + 0.8 * rng.standard_normal(N))  # weaker, negative
    h[:, 3] = 0.5  # a dead unit
    units = mp.correlated_units(h, label, top=3)
    assert units.index[:2].tolist() == [7, 19]
    assert units.r[0] > 0.9 and -0.9 < units.r[1] < -0.3 and abs(units.r[2]) < 0.1
    r_ref = np.corrcoef(h[:, 19], label)[0, 1]
    np.testing.assert_allclose(units.r[1], r_ref, rtol=1e-12)
    everything = mp.correlated_units(h, label)  # all H units
    assert everything.r[everything.index.tolist().index(3)] == 0.0
    assert np.all(np.diff(np.abs(everything.r)) <= 0)


def test_correlated_units_with_a_mask():
    rng = np.random.default_rng(1)
    N = 500
    mask = rng.random(N) < 0.2
    label = rng.integers(0, 8, size=N).astype(float)
    h = rng.standard_normal((N, 4))
    h[mask, 2] = label[mask] / 8  # tracks the label only where the mask is on
    assert mp.correlated_units(h, label, top=1, mask=mask).index.tolist() == [2]
    np.testing.assert_allclose(mp.correlated_units(h, label, 1, mask).r, [1.0])
    assert abs(mp.correlated_units(h, label, top=4).r[0]) < 0.9


def test_correlated_units_rejects_bad_input():
    h = np.zeros((10, 3))
    label = np.arange(10.0)
    with pytest.raises(ValueError, match=r"\(N, H\)"):
        mp.correlated_units(h[:, 0], label)
    with pytest.raises(ValueError, match="label"):
        mp.correlated_units(h, label[:5])
    with pytest.raises(ValueError, match="top"):
        mp.correlated_units(h, label, top=4)
    with pytest.raises(ValueError, match="two values"):
        mp.correlated_units(h, np.ones(10))
    with pytest.raises(ValueError, match="mask"):
        mp.correlated_units(h, label, mask=np.ones(10))
    with pytest.raises(TypeError, match="floats"):
        mp.correlated_units(h.tolist(), label)


# --- the coloured text ---------------------------------------------------------------------------


def test_activation_text_places_each_character_in_its_cell():
    text = "ab\ncd\tefgh"
    values = np.linspace(-1, 1, len(text))
    fig = textfig.activation_text(text, values, title="t", width=3)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    grid = ax.images[0].get_array()
    # rows: "ab\n" | "cd\t" | "efg" | "h" (a line wraps after 3 characters; \n stays on its line)
    np.testing.assert_allclose(grid[0, :3], values[:3])
    np.testing.assert_allclose(grid[1, :3], values[3:6])
    np.testing.assert_allclose(grid[2, :3], values[6:9])
    assert grid[3, 0] == values[9] and np.ma.is_masked(grid[3, 1])
    drawn = [t.get_text() for t in ax.texts]
    assert drawn == ["a", "b", textfig.NEWLINE_MARK, "c", "d", "\u2192", "e", "f", "g", "h"]
    assert len(fig.axes) == 2  # the passage and its colorbar
    assert ax.images[0].norm.vmin == -1 and ax.images[0].norm.vmax == 1
    assert matplotlib.colors.to_hex(fig.get_facecolor()) == "#ffffff"


def test_activation_text_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        textfig.activation_text("abc", np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        textfig.activation_text("abc", np.array([0.0, np.nan, 0.0]))
    with pytest.raises(TypeError, match="numbers"):
        textfig.activation_text("abc", np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="vmin"):
        textfig.activation_text("abc", np.zeros(3), vmin=1.0, vmax=1.0)
    with pytest.raises(ValueError, match="at least one"):
        textfig.activation_text("", np.zeros(0))
    with pytest.raises(ValueError, match="width"):
        textfig.activation_text("abc", np.zeros(3), width=0)
