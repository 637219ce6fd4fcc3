"""`precision="auto"`: bf16-mixed where the hardware runs bf16 natively, else 32-true.

bf16 autocast is a win only on hardware with bf16 arithmetic: on a CPU with `avx512_bf16` it ran
1.4x (GAN) to 1.6x (classifier) faster than fp32, on an AVX2-only CPU 5-15x *slower* (README,
"Speed"). So the choice reads the machine: CPU flags from /proc/cpuinfo, or whether the CUDA
device computes in bf16 without emulation.

The trainer config's target (`cnngan.run.trainer.build_trainer`) applies it, so every place
that instantiates the trainer config gets the decision:

    cnngan-train trainer.precision=auto               # decide for this machine (logged)
    cnngan-train trainer.precision=bf16-mixed         # any Lightning value, as before
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cnngan.core.device import resolve_device
from cnngan.core.rank import log

AUTO = "auto"
BF16 = "bf16-mixed"
FP32 = "32-true"
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str
    reason: str


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (the `flags` line of Linux's /proc/cpuinfo); empty elsewhere."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cuda_native_bf16() -> bool:
    """Whether CUDA device 0 computes in bf16 natively (Ampere and newer; not emulated)."""
    import torch

    if not torch.cuda.is_available():
        return False
    return bool(torch.cuda.is_bf16_supported(including_emulation=False))


def device_type(accelerator: str) -> str:
    """Lightning's accelerator name -> "cpu", "cuda" or "mps" ("auto" as Lightning picks)."""
    name = str(accelerator).lower()
    if name == AUTO:
        return resolve_device(AUTO).type
    return "cuda" if name in ("gpu", "cuda") else name


def decide_precision(
    device: str, flags: Iterable[str], cuda_bf16: bool, requested: str = AUTO
) -> PrecisionChoice:
    """The precision for `device` ("cpu", "cuda", "mps", ...); any `requested` value but "auto"
    passes through unchanged."""
    if requested != AUTO:
        return PrecisionChoice(str(requested), "requested explicitly")
    if device == "cuda":
        if cuda_bf16:
            return PrecisionChoice(BF16, "the CUDA device computes in bf16 natively")
        return PrecisionChoice(FP32, "the CUDA device has no native bf16 (pre-Ampere or none)")
    if device == "cpu":
        found = sorted(set(flags) & set(NATIVE_BF16_CPU_FLAGS))
        if found:
            return PrecisionChoice(BF16, f"the CPU has native bf16 ({', '.join(found)})")
        return PrecisionChoice(
            FP32,
            f"the CPU lacks {' and '.join(NATIVE_BF16_CPU_FLAGS)}: bf16 would be emulated (slower)",
        )
    return PrecisionChoice(FP32, f"bf16 autocast on {device!r} is not measured here")


def choose_precision(requested: str = AUTO, accelerator: str = AUTO) -> str:
    """`requested` unless it is "auto", else the decision for this machine, logged with its
    reason."""
    if requested != AUTO:
        return str(requested)
    device = device_type(accelerator)
    choice = decide_precision(device, cpu_flags(), device == "cuda" and cuda_native_bf16())
    log.info("precision=auto -> %s on %s: %s", choice.precision, device, choice.reason)
    return choice.precision
