"""The nbval sanitize rules: run-to-run noise maps to one string, results are left alone."""

import pathlib
import re

import pytest
from nbval.plugin import get_sanitize_patterns

RULES = get_sanitize_patterns((pathlib.Path(__file__).parent / "nbval_sanitize.cfg").read_text())


def sanitize(s: str) -> str:
    for regex, replace in RULES:  # in order, as nbval applies them
        s = re.sub(regex, replace, s)
    return s


@pytest.mark.parametrize(
    "a, b",
    [
        # a slow run's rate (two digits) and a fast run's (one digit, padded by tqdm)
        (
            "train: 100%|██████████| 8/8 [01:31<00:00, 11.41s/it]\n",
            "train: 100%|██████████| 8/8 [01:18<00:00,  9.85s/it]\n",
        ),
        (
            "steps: 100%|██████████| 3000/3000 [00:41<00:00, 72.31it/s]\n",
            "steps: 100%|██████████| 3000/3000 [00:07<00:00, 401.09it/s]\n",
        ),
        (
            "lm:   0%|          | 0/8000 [00:00<?, ?it/s]\n",
            "lm:   0%|          | 0/8000 [00:01<?, ?it/s]\n",
        ),
        (
            "steps: 100%|█| 10/10 [1:02:03<00:00,  1.2s/it]   \n",
            "steps: 100%|█| 10/10 [00:09<00:00, 1.01it/s]\n",
        ),
        (
            "Generator(PCG64) at 0x7F3A2B1C4D50\n",
            "Generator(PCG64) at 0x7f00aa11bb22\n",
        ),
        (
            "File /tmp/ipykernel_1234/5678.py:3\n",
            "File /tmp/ipykernel_99/1.py:3\n",
        ),
    ],
)
def test_run_to_run_noise_sanitizes_to_the_same_string(a, b):
    assert sanitize(a) == sanitize(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("test MSE 0.0002, accuracy 0.99\n", "test MSE 0.0001, accuracy 0.99\n"),
        (
            "held-out perplexity 4.83 (1.5s per step)\n",
            "held-out perplexity 4.91 (1.5s per step)\n",
        ),
        ("8/8 [01:31<00:00, 11.41s/it]\n", "7/8 [01:31<00:00, 11.41s/it]\n"),
        ("0x1F\n", "0x2F\n"),
    ],
)
def test_results_still_differ_after_sanitizing(a, b):
    assert sanitize(a) != sanitize(b)
