"""The one numerical environment in which the book's numbers are recorded, and its alternatives.

torch on the CPU picks its kernels by the processor's instruction set, in three libraries:

- **oneDNN** runs ``torch.nn.LSTM`` (and convolutions): its JIT kernels for AVX-512 and for
  AVX2 sum in different orders, so one training run gives different losses on the two kinds of
  processor. ``ONEDNN_MAX_CPU_ISA`` caps the set it may use; oneDNN reads it when it first
  runs a primitive.
- **ATen** (torch's own element-wise and reduction kernels): ``ATEN_CPU_CAPABILITY`` chooses
  the vector width (``default``, ``avx2``, ``avx512``); read at the first dispatched kernel and
  reported by ``torch.backends.cpu.get_cpu_capability()``.
- **oneMKL** (torch's matrix products): ``MKL_CBWR`` chooses a code branch of its conditional
  numerical reproducibility mode (Intel's oneMKL developer guide, "Specifying Code Branches");
  read at the first MKL call.

:data:`ENVIRONMENTS` names the settings; ``"pinned"`` is the one the book is recorded in (AVX2
everywhere, which every x86-64 processor the course supports has), and the others exist to
perturb the numbers on purpose (``make test-perturbed``). :func:`apply` sets one of them; it
must run before torch runs its first kernel, which is why ``companion.setup()`` calls it
first. The environment variable ``COMPANION_NUMERICS`` chooses the environment for every
``setup()`` call of a process (and of the notebook kernels it starts).

Not covered, and left as the machine sets them: numpy's own SIMD loops (chosen when numpy is
imported, before any notebook cell can run) and OpenBLAS's kernels for numpy's matrix
products (``OPENBLAS_CORETYPE``). The numpy chapters print their numbers rounded so that
those last-bit differences do not show, and assert their conclusions with margins.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

VARIABLE = "COMPANION_NUMERICS"


@dataclass(frozen=True)
class Environment:
    """One numerical environment: environment variables, and whether torch may use oneDNN."""

    description: str
    variables: dict[str, str] = field(default_factory=dict)  # set in os.environ
    onednn: bool = True  # torch.backends.mkldnn.enabled (False: the LSTM runs ATen's own loop)
    capability: str | None = None  # what torch.backends.cpu.get_cpu_capability() must report


#: The named numerical environments. "pinned" is the book's, "sse41" and "no-onednn" perturb
#: it for ``make test-perturbed``, and "native" leaves the libraries' own choices.
ENVIRONMENTS: dict[str, Environment] = {
    "pinned": Environment(
        "the book's: oneDNN, ATen and oneMKL at AVX2",
        {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
        capability="AVX2",
    ),
    "sse41": Environment(
        "perturbed: oneDNN at SSE4.1, ATen's scalar kernels, oneMKL's SSE2 branch",
        {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
        capability="DEFAULT",
    ),
    "no-onednn": Environment(
        "perturbed: oneDNN off (torch's own LSTM loop), everything else the machine's best",
        {},
        onednn=False,
    ),
    "native": Environment("the libraries' own choices for this processor; nothing set"),
}


def apply(name: str | None = None) -> Environment:
    """Set the numerical environment ``name`` (default: ``$COMPANION_NUMERICS`` or "pinned").

    Sets the environment's variables in ``os.environ`` (child processes inherit them) and
    removes those that only other environments set, and, if
    torch is already imported, its oneDNN switch; then checks, where torch can tell, that the
    setting took effect.

    Raises:
        ValueError: ``name`` is not a key of :data:`ENVIRONMENTS`.
        RuntimeError: torch already chose its kernels (a torch operation ran before this call,
            as when ``setup()`` is called in the middle of a notebook): restart the kernel and
            call ``companion.setup()`` before anything else.
    """
    name = name if name is not None else os.environ.get(VARIABLE, "pinned")
    if name not in ENVIRONMENTS:
        raise ValueError(
            f"numerical environment must be one of {sorted(ENVIRONMENTS)}; got {name!r}"
        )
    env = ENVIRONMENTS[name]
    os.environ[VARIABLE] = name
    for other in ENVIRONMENTS.values():  # what another environment may have set: the
        for key in other.variables:  # machine's own choice unless this one sets it
            os.environ.pop(key, None)
    os.environ.update(env.variables)

    import sys

    if "torch" in sys.modules:  # otherwise the variables apply when torch is imported
        import torch

        torch.backends.mkldnn.enabled = env.onednn
        reported = torch.backends.cpu.get_cpu_capability()
        if env.capability is not None and reported != env.capability:
            if env.capability == "AVX2" and not _has_avx2():
                warnings.warn(
                    "this processor has no AVX2: torch runs its scalar kernels, and the "
                    "printed numbers will differ from the book's in the last digits",
                    stacklevel=2,
                )
            else:
                raise RuntimeError(
                    f"torch already runs {reported} kernels, not {env.capability}: a torch "
                    "operation ran before companion.setup(). Restart the kernel and call "
                    "companion.setup() first."
                )
    return env


def describe() -> dict[str, str]:
    """What this process runs: the environment's name, torch's capability, oneDNN on or off."""
    import torch

    return {
        "environment": os.environ.get(VARIABLE, "(not applied)"),
        "ATen capability": torch.backends.cpu.get_cpu_capability(),
        "oneDNN": "on" if torch.backends.mkldnn.enabled else "off",
        **{k: os.environ.get(k, "(unset)") for k in ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR")},
    }


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return " avx2" in f.read()
    except OSError:  # not Linux: assume the processor has it
        return True
