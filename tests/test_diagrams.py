"""The schematic figures draw what they claim and reject sizes they cannot draw."""

import matplotlib.pyplot as plt
import pytest

from companion import diagrams


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_unrolled_rnn_labels_every_step():
    fig = diagrams.unrolled_rnn(3)
    texts = _texts(fig)
    for label in ["$x_{1}$", "$h_{2}$", "$o_{T}$", "$h_0$"]:
        assert label in texts
    assert texts.count("$W_{hh}$") == 1 + 3  # the loop, and one arrow into each step
    plt.close(fig)


@pytest.mark.parametrize("T", [0, 9, 2.5])
def test_unrolled_rnn_rejects_bad_T(T):
    with pytest.raises(ValueError, match="T must be an integer from 1 to 8"):
        diagrams.unrolled_rnn(T)


def test_topologies_has_one_panel_per_topology():
    fig = diagrams.topologies()
    assert [ax.get_title() for ax in fig.axes] == list(diagrams.TOPOLOGIES)
    plt.close(fig)
