"""precision=auto: the decision on given hardware, and the config wiring (trainer.precision)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import hydra
import pytest
import torch

from cnngan.run.precision import (
    BF16,
    FP32,
    choose_precision,
    cpu_flags,
    decide_precision,
)
from tests.dtype_probe import PROBE, read_probe

AVX2_ONLY = {"sse4_2", "avx", "avx2", "fma"}
ZEN4 = AVX2_ONLY | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "amx_tile", "amx_bf16"}


def bf16_flags_here() -> list[str]:
    """This CPU's native-bf16 flags, read from /proc/cpuinfo here (not with the code under test)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return sorted({"avx512_bf16", "amx_bf16"} & set(flags.group(1).split())) if flags else []


def auto_here(device: str) -> str:
    """What precision=auto must choose on this machine's `device`: bf16 where it is native (a CPU
    with avx512_bf16 or amx_bf16; a CUDA GPU of compute capability 8 (Ampere) or newer)."""
    if device == "cuda":
        native = torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
    else:
        native = device == "cpu" and bool(bf16_flags_here())
    return "bf16-mixed" if native else "32-true"


def device_here() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize(
    ("device", "flags", "cuda_bf16", "expected"),
    [
        ("cpu", AVX2_ONLY, False, FP32),  # bf16 would be emulated: 5-15x slower
        ("cpu", ZEN4, False, BF16),
        ("cpu", SAPPHIRE_RAPIDS, False, BF16),
        ("cpu", set(), False, FP32),  # flags unknown (not Linux): the safe choice
        ("cuda", AVX2_ONLY, True, BF16),  # Ampere or newer
        ("cuda", ZEN4, False, FP32),  # a pre-Ampere GPU: the CPU's flags do not matter
        ("mps", ZEN4, False, FP32),
    ],
)
def test_auto_decides_from_the_hardware(device, flags, cuda_bf16, expected) -> None:
    choice = decide_precision(device, flags, cuda_bf16)
    assert choice.precision == expected and choice.reason


def test_the_reason_names_the_flags_found() -> None:
    assert "amx_bf16" in decide_precision("cpu", SAPPHIRE_RAPIDS, False).reason
    assert "avx512_bf16" in decide_precision("cpu", AVX2_ONLY, False).reason  # what is missing


def test_an_explicit_precision_passes_through() -> None:
    assert decide_precision("cpu", AVX2_ONLY, False, requested="bf16-mixed").precision == BF16
    assert choose_precision("16-mixed", "gpu") == "16-mixed"


def test_cpu_flags_read_the_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n"
    )
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_choose_logs_its_choice_and_why(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="cnngan"):
        chosen = choose_precision("auto", "cpu")
    assert chosen == auto_here("cpu")
    assert f"precision=auto -> {chosen} on cpu" in caplog.text
    for flag in bf16_flags_here():  # the reason names the flags found
        assert flag in caplog.text


def test_default_is_auto_and_plain_values_still_override(make_cfg) -> None:
    cfg = make_cfg("train", ["data=digits"])
    assert cfg.trainer.precision == "auto"
    assert hydra.utils.instantiate(cfg.trainer).precision == auto_here(device_here())
    cfg = make_cfg("train", ["data=digits", "trainer.precision=32-true"])
    assert hydra.utils.instantiate(cfg.trainer).precision == "32-true"
    cfg = make_cfg("train", ["data=digits", "trainer.precision=bf16-mixed"])
    assert hydra.utils.instantiate(cfg.trainer).precision == "bf16-mixed"


@pytest.mark.slow
def test_auto_composes_and_trains_a_fast_dev_run(make_cfg, caplog) -> None:
    """precision=auto trains in what this machine's CPU runs natively: bf16 where the flags say so
    (the first layer computes in bfloat16), else fp32."""
    from cnngan.train import train

    overrides = ["data=digits", "debug=fdr", "trainer=cpu", "trainer.precision=auto", *PROBE]
    cfg = make_cfg("train", overrides)
    with caplog.at_level(logging.INFO, logger="cnngan"):
        metrics = train(cfg)
    expected = auto_here("cpu")
    assert "test/acc" in metrics
    assert f"precision=auto -> {expected} on cpu" in caplog.text
    dtype = "torch.bfloat16" if expected == "bf16-mixed" else "torch.float32"
    assert read_probe(cfg.paths.output_dir) == {"precision": expected, "dtypes": [dtype]}
