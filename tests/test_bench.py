"""The benchmark runner: flop counts, what it times, its table, and its checks of arguments."""

import numpy as np
import pytest
import torch

from companion import bench

TINY = (2, 3, 4, 5)  # (B, T, D, H)


@pytest.mark.parametrize("family, per_unit", [("lstm", 24), ("gru", 18), ("rnn", 6)])
def test_flops_is_six_G_H_D_plus_H_per_sample_and_step(family, per_unit):
    B, T, D, H = 32, 100, 64, 128
    assert bench.flops(family, B, T, D, H) == per_unit * H * (D + H) * B * T


def test_flops_rejects_an_unknown_family():
    with pytest.raises(ValueError, match="family must be one of"):
        bench.flops("transformer", 1, 1, 1, 1)


def test_matmul_peak_is_a_plausible_rate():
    peak = bench.matmul_peak(n=128, repeats=2)
    assert 0.1 < peak < 1e5  # GFLOP/s: a number, not seconds or flops


@pytest.mark.parametrize("family", ["lstm", "gru", "rnn"])
def test_implementations_cover_the_list_and_all_run(family):
    fns = bench.implementations(family, TINY)
    expected = [n for n in bench.IMPLEMENTATIONS if not (family == "rnn" and n == "torch eqs")]
    assert list(fns) == expected
    for fn in fns.values():
        assert fn() is None


def test_run_table_and_ratios():
    threads = torch.get_num_threads()
    timings, peak = bench.run(["lstm", "rnn"], [TINY], repeats=2, threads=1, peak=50.0)
    assert torch.get_num_threads() == threads  # restored
    assert peak == 50.0
    assert {t.family for t in timings} == {"lstm", "rnn"}
    assert all(t.seconds > 0 and t.size == TINY for t in timings)
    for t in timings:
        assert t.gflops == pytest.approx(bench.flops(t.family, *TINY) / 1e9 / t.seconds)
        assert t.peak_fraction == pytest.approx(t.gflops / 50.0)
    frame = bench.table(timings)
    assert np.allclose(frame.xs("torch.nn", level="implementation")["vs torch.nn"], 1.0)
    assert len(frame) == 5 + 4  # the RNN has no module written from the equations
    fast_over_torch = bench.ratio(timings, "lstm", TINY, "numpy fast", "torch.nn")
    row = frame.loc[("LSTM", "2, 3, 4, 5", "numpy fast")]
    assert row["vs torch.nn"] == pytest.approx(fast_over_torch)
    with pytest.raises(KeyError, match="torch eqs"):
        bench.ratio(timings, "rnn", TINY, "torch eqs", "torch.nn")
    lines = bench.summary(timings)
    assert len(lines) == 2 and lines[0].startswith("LSTM 2, 3, 4, 5")
    assert f"fast/torch.nn {fast_over_torch:5.2f}" in lines[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"families": ["lstm"], "sizes": [(1, 2, 3)]}, "four positive integers"),
        ({"families": ["lstm"], "sizes": [(1, 2, 3, 0)]}, "H must be a positive integer; got 0"),
        ({"families": ["cnn"], "sizes": [TINY]}, "family must be one of"),
        ({"families": ["lstm"], "sizes": [TINY], "repeats": 0}, "repeats must be"),
        ({"families": ["lstm"], "sizes": [TINY], "threads": 0}, "threads must be"),
    ],
)
def test_run_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.run(**kwargs)


def test_main_prints_the_table_and_the_summary(capsys):
    assert bench.main(["--family", "gru", "--size", *map(str, TINY), "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "matrix-product peak" in out and "torch eqs" in out and "GFLOP/s" in out
    assert "GRU  2, 3, 4, 5" in out and "products/fast" in out


def test_blas_kernels_names_the_library():
    import numpy  # noqa: F401  (loaded, so threadpoolctl sees its BLAS)

    assert bench.blas_kernels().split()[0] in ("openblas", "mkl", "blis", "accelerate", "unknown")


def test_machine_names_the_processor_and_the_kernels():
    label = bench.machine()
    assert "AVX-512" in label and "torch kernels" in label and "numpy's BLAS" in label
    assert torch.backends.cpu.get_cpu_capability() in label


def _timings(seconds, gru_factor=1.0):
    # fabricated medians for the standard sizes: implementation -> seconds, same at every
    # size; the GRU's times are the LSTM's times gru_factor
    return [
        bench.Timing(
            family, size, name, seconds[name] * (gru_factor if family == "gru" else 1), 1, 1
        )
        for family in ("lstm", "gru")
        for size in bench.SIZES
        for name in seconds
    ]


def test_conclusions_follow_the_ratios():
    fused_wins = {"numpy": 4.0, "numpy fast": 1.0, "torch.nn": 0.5, "matmul only": 0.6}
    held = bench.conclusions(_timings(fused_wins))
    assert held["torch.nn.LSTM faster than fast numpy at every size"]
    assert held["B = 32: torch.nn.LSTM faster than numpy's products alone"]
    assert not held["B = 1, 32: fast numpy faster than torch.nn.GRU"]
    assert not held["B = 32, 128: fast and plain numpy within 25% (LSTM)"]  # 4x apart
    numpy_wins = {"numpy": 1.1, "numpy fast": 1.0, "torch.nn": 2.0, "matmul only": 0.4}
    held = bench.conclusions(_timings(numpy_wins))
    assert not held["torch.nn.LSTM faster than fast numpy at every size"]
    assert held["B = 1, 32: fast numpy faster than torch.nn.GRU"]
    assert not held["B = 32, 128: products over half of fast numpy's time (LSTM)"]
    claim = "B = 32: torch.nn.LSTM faster than torch.nn.GRU (chapter 5)"
    assert not held[claim]  # the same times
    assert bench.conclusions(_timings(numpy_wins, gru_factor=1.5))[claim]


def test_main_prints_the_machine_and_the_claims(capsys):
    sizes = [arg for size in bench.SIZES for arg in ("--size", *map(str, size))]
    # tiny repeats: the claims' truth is not tested here, only that they are reported
    assert bench.main(["--repeats", "1", "--numerics", "pinned", *sizes]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == bench.machine()
    assert "the book's claims about speed" in out
