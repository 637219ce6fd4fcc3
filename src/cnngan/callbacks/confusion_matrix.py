"""The test confusion matrix as files and logger images, written outside the LightningModule.

The classifier only counts (`ImageClassifier.test_confusion_matrix`, a plain tensor after each
test epoch); this callback renders it once and writes `confusion_matrix.csv` and
`confusion_matrix.png` to the run folder, and logs the same picture as `test/confusion_matrix`.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch

from cnngan.callbacks.log_images import log_image


class ConfusionMatrixWriter(L.Callback):
    """Args:
    out_dir: where the CSV and PNG go (default: the trainer's `default_root_dir`).
    """

    def __init__(self, out_dir: str | Path | None = None) -> None:
        self.out_dir = None if out_dir is None else Path(out_dir)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        matrix = getattr(pl_module, "test_confusion_matrix", None)
        if matrix is None or not trainer.is_global_zero:
            return
        names = list(getattr(pl_module, "class_names", range(matrix.shape[0])))
        out_dir = self.out_dir or Path(trainer.default_root_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "confusion_matrix.csv").write_text(confusion_csv(matrix, names))
        picture = render_confusion(matrix, names)
        from PIL import Image

        Image.fromarray(picture).save(out_dir / "confusion_matrix.png")
        log_image(
            trainer, "test/confusion_matrix", torch.from_numpy(picture).permute(2, 0, 1) / 255
        )


def confusion_csv(matrix: torch.Tensor, class_names: list[str]) -> str:
    """Rows: true class, columns: predicted class."""
    lines = ["true\\pred," + ",".join(map(str, class_names))]
    lines += [
        f"{name}," + ",".join(str(int(v)) for v in row)
        for name, row in zip(class_names, matrix, strict=True)
    ]
    return "\n".join(lines) + "\n"


def render_confusion(matrix: torch.Tensor, class_names: list[str]) -> np.ndarray:
    """The matrix as an (H, W, 3) uint8 picture, drawn without pyplot (no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(class_names)
    fig = Figure(figsize=(1 + 0.6 * n, 1 + 0.6 * n), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(matrix.cpu().numpy(), cmap="Blues")
    ax.set_xticks(range(n), list(map(str, class_names)), rotation=90)
    ax.set_yticks(range(n), list(map(str, class_names)))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
