"""The schematic figures draw what they claim and reject sizes they cannot draw."""

import matplotlib.pyplot as plt
import pytest

from companion import diagrams


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_unrolled_rnn_labels_every_step():
    fig = diagrams.unrolled_rnn(3)
    texts = _texts(fig)
    for label in ["$x_{1}$", "$h_{2}$", r"$\hat y_{T}$", "$h_0$"]:
        assert label in texts
    assert texts.count("$W_{hh}$") == 1 + 3  # the loop, and one arrow into each step
    plt.close(fig)


@pytest.mark.parametrize("T", [0, 9])
def test_unrolled_rnn_rejects_a_T_outside_the_figure(T):
    with pytest.raises(ValueError, match=r"width\) must be an integer from 1 to 8"):
        diagrams.unrolled_rnn(T)


@pytest.mark.parametrize("T", [2.5, True])
def test_unrolled_rnn_rejects_a_T_that_is_not_an_integer(T):
    with pytest.raises(TypeError, match="must be an integer"):
        diagrams.unrolled_rnn(T)


def test_topologies_has_one_panel_per_topology():
    fig = diagrams.topologies()
    assert [ax.get_title() for ax in fig.axes] == list(diagrams.TOPOLOGIES)
    plt.close(fig)


@pytest.mark.parametrize("highlight", [None, *diagrams.LSTM_STEPS])
def test_lstm_cell_draws_every_gate(highlight):
    fig = diagrams.lstm_cell(highlight)
    texts = _texts(fig)
    for label in [r"$\sigma$  $f_t$", r"$\sigma$  $i_t$", "tanh $g_t$", r"$\sigma$  $o_t$"]:
        assert label in texts
    for label in ["$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$"]:
        assert label in texts
    plt.close(fig)


def test_lstm_cell_rejects_an_unknown_step():
    with pytest.raises(ValueError, match="highlight must be None or one of"):
        diagrams.lstm_cell("remember")


def test_gru_cell_draws_pytorchs_form():
    fig = diagrams.gru_cell()
    texts = _texts(fig)
    for label in [r"$\sigma$  $r_t$", r"$\sigma$  $z_t$", "tanh $n_t$", "$1-$"]:
        assert label in texts
    for label in ["$h_{t-1}$", "$h_t$", "$x_t$", "$W_{hn} h_{t-1} + b_{hn}$"]:
        assert label in texts  # the reset gate acts after the recurrent product
    # the convention is named: z keeps the old state, 1 - z writes the candidate
    assert r"keep $z_t \odot h_{t-1}$" in texts
    assert r"write $(1 - z_t) \odot n_t$" in texts
    assert "(1 - z_t) \\odot n_t + z_t \\odot h_{t-1}" in fig.axes[0].get_title()
    plt.close(fig)
