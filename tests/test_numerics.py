"""The numerical pin: in effect in a notebook kernel, and bitwise the same whatever the machine.

A processor with AVX-512 and one with only AVX2 differ, without the pin, in the kernels that
oneDNN, ATen and oneMKL choose. Here the machine's choice is changed through the same
variables the libraries read (a lower ``ONEDNN_MAX_CPU_ISA`` is what oneDNN does on an older
processor), in new processes, and the pin must give the same bits in each.
"""

import os
import subprocess
import sys

import pytest
from jupyter_client.manager import start_new_kernel

from companion import numerics

TRAIN = """
import torch
from companion import setup
setup(seed=0)
lstm, lin = torch.nn.LSTM(3, 16), torch.nn.Linear(16, 1)
opt = torch.optim.Adam([*lstm.parameters(), *lin.parameters()], lr=1e-2)
x = torch.randn(40, 8, 3)
y = x.sum(0)[:, :1]
for _ in range(30):
    out, _ = lstm(x)
    loss = ((lin(out[-1]) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item().hex())
"""

# What the machine would otherwise choose: its best (AVX-512 on the machines seen here), and
# what a processor without AVX-512, or an older one, chooses.
MACHINES = {
    "default": {},
    "avx2-only": {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"},
}


def _clean_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {numerics.VARIABLE, "MKL_CBWR", *MACHINES["avx2-only"]}
    }
    return {**env, **extra}


def _loss(machine: str, numerics_name: str) -> str:
    env = _clean_env(**MACHINES[machine], **{numerics.VARIABLE: numerics_name})
    out = subprocess.run(
        [sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_pinned_training_is_bitwise_the_same_whatever_the_machine_would_choose():
    losses = {machine: _loss(machine, "pinned") for machine in MACHINES}
    assert len(set(losses.values())) == 1, losses


def test_other_kernels_change_the_loss():
    # the control: the training run above is sensitive to the kernels, so the test above
    # would see a pin that does not hold
    losses = [_loss("default", name) for name in ("pinned", "sse41", "no-onednn")]
    assert len(set(losses)) == 3, losses


def test_pin_is_in_effect_in_a_notebook_kernel(tmp_path):
    # started as nbval starts it: jupyter_client, the notebooks' kernel, a fresh process. The
    # libraries write their reports to the kernel process's own stdout, kept in a file here.
    env = _clean_env(ONEDNN_VERBOSE="1", MKL_VERBOSE="1")
    log = (tmp_path / "kernel.log").open("w")
    km, kc = start_new_kernel(kernel_name="python3", env=env, stdout=log, stderr=log)
    try:
        code = (
            "import torch\n"
            "from companion import numerics, setup\n"
            "setup(seed=0)\n"
            "torch.nn.LSTM(3, 4)(torch.randn(5, 2, 3))[0].sum().backward()\n"
            "torch.randn(64, 64) @ torch.randn(64, 64)\n"  # a matrix product: oneMKL
            "print(numerics.describe())"
        )
        texts = []
        kc.execute_interactive(
            code,
            timeout=120,
            output_hook=lambda msg: texts.append(msg["content"].get("text", "")),
        )
        output = "".join(texts)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        log.close()
    reports = (tmp_path / "kernel.log").read_text()
    assert "'ATen capability': 'AVX2'" in output, output
    assert "'oneDNN': 'on'" in output, output
    assert "isa:Intel AVX2" in reports, reports  # oneDNN's own report of the ISA it runs
    assert ",rnn," in reports, reports  # and the LSTM ran in it
    assert "CNR:" in reports and "CNR:OFF" not in reports, reports  # oneMKL's CNR mode


def test_setup_after_a_torch_kernel_is_refused():
    code = (
        "import torch\n"
        "torch.ones(3).sum()\n"  # torch chooses its kernels here, unpinned
        "from companion import setup\n"
        "setup(seed=0)\n"
    )
    env = _clean_env(ATEN_CPU_CAPABILITY="default")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "Restart the kernel" in out.stderr


def test_unknown_environment_is_refused():
    with pytest.raises(ValueError, match="pinned"):
        numerics.apply("avx9000")
