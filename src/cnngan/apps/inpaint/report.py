"""Scores of an image-completion comparison as flat metrics and as a Markdown table.

Keys: `<mask>/<method>/<metric>` is the mean over images, `..._std` and `..._sem` its spread;
`<mask>/gan/wins_vs_<baseline>` the share of images where the GAN's PSNR beats the baseline's;
`<mask>/seconds` the time all methods took on that mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, sample std and standard error of the mean over the finite values (PSNR is +inf on a
    perfectly completed image)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return {
            "mean": float(finite.mean()) if len(finite) else float("nan"),
            "std": 0.0,
            "sem": 0.0,
        }
    std = float(finite.std(ddof=1))
    return {"mean": float(finite.mean()), "std": std, "sem": std / float(np.sqrt(len(finite)))}


def method_scores(prefix: str, per_image: Mapping[str, np.ndarray]) -> dict[str, float]:
    """{"psnr": values, ...} of one method on one mask -> flat `<prefix>/<metric>[_std|_sem]`."""
    flat = {}
    for metric, values in per_image.items():
        for stat, value in summarize(values).items():
            flat[f"{prefix}/{metric}" + ("" if stat == "mean" else f"_{stat}")] = value
    return flat


def results_table(
    scores: Mapping[str, float], masks: Sequence[str], methods: Sequence[str], n: int
) -> str:
    """Markdown: PSNR and SSIM (mean ± std) per mask and method, then the GAN's wins per mask."""
    lines = [
        f"PSNR (dB) and SSIM on the missing pixels, mean ± std over {n} images; GAN wins = share of "
        "images where the GAN's PSNR beats the baseline's.",
        "",
        "| mask | method | PSNR | SSIM |",
        "|---|---|---|---|",
    ]
    for mask in masks:
        for name in methods:
            key = f"{mask}/{name}"
            psnr = f"{scores[f'{key}/psnr']:.2f} ± {scores[f'{key}/psnr_std']:.2f}"
            ssim = f"{scores[f'{key}/ssim']:.3f} ± {scores[f'{key}/ssim_std']:.3f}"
            lines.append(f"| {mask} | {name} | {psnr} | {ssim} |")
        wins = ", ".join(
            f"{scores[f'{mask}/gan/wins_vs_{b}']:.0%} vs {b}" for b in methods if b != "gan"
        )
        lines.append(f"| {mask} | GAN wins | {wins} | |")
    return "\n".join(lines) + "\n"
