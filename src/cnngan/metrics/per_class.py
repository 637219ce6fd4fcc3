"""Per-class FID, precision and recall of a conditional GAN: a collapse inside one class shows,
where the scores over all classes average it away. With an evaluator whose logits are the
dataset's classes, also the label accuracy: how often it reads, in a sample, the class the sample
was drawn for ("GAN-test" of Shmelkov et al. 2018; CAS is their "GAN-train"), beside its accuracy
on the reference images for scale.

Protocol: the generated images of class c (sampled with label c; balanced labels give every class
n_fake / C of them) against the reference images of class c, in the same feature space and with
the same k as the suite's overall scores. The summary keys are the worst class of each score:
`fid_class_max`, `precision_class_min`, `recall_class_min`.

Per-class scores use C times fewer images per side than the overall ones, so they are noisier
and FID is biased upwards (more so when a class has fewer images than feature dimensions);
compare them only at equal sample counts.
"""

from __future__ import annotations

import torch

from cnngan.metrics.functional import fid_from_features, knn_metrics

# per-class score -> (summary key, worst-class reduction)
SUMMARIES = {
    "fid": ("fid_class_max", max),
    "precision": ("precision_class_min", min),
    "recall": ("recall_class_min", min),
}


def class_key(score: str, label: int) -> str:
    """The metrics.json key of one class's score: "recall_class/3"."""
    return f"{score}_class/{label}"


def per_class_scores(
    real: torch.Tensor,
    real_labels: torch.Tensor,
    fake: torch.Tensor,
    fake_labels: torch.Tensor,
    pr_k: int = 3,
) -> dict[str, float | None]:
    """FID, precision and recall of every class of the reference (`real_labels`), plus the worst
    class of each (`SUMMARIES`).

    A class with too few images on either side for its scores (2 for FID, pr_k + 1 for the k-NN
    manifolds) gets None and is left out of the worst-class summary.
    """
    _check_aligned(real, real_labels, "real")
    _check_aligned(fake, fake_labels, "fake")
    scores: dict[str, float | None] = {}
    for label in torch.unique(real_labels.cpu()).tolist():
        scores |= _one_class(
            real[real_labels.cpu() == label], fake[fake_labels.cpu() == label], int(label), pr_k
        )
    for score, (key, worst) in SUMMARIES.items():
        values = [v for k, v in scores.items() if k.startswith(f"{score}_class/") and v is not None]
        scores[key] = float(worst(values)) if values else None
    return scores


def label_accuracy(
    real_predicted: torch.Tensor,
    real_labels: torch.Tensor,
    fake_predicted: torch.Tensor,
    fake_labels: torch.Tensor,
) -> dict[str, float | None]:
    """The evaluator's accuracy on the samples (`label_acc`: its predictions against the classes
    the samples were drawn for) and on the reference images (`label_acc_real`), each also per
    class of the reference (`label_acc_class/<c>`, `label_acc_real_class/<c>`), and the samples'
    worst class (`label_acc_class_min`)."""
    scores: dict[str, float | None] = {}
    classes = torch.unique(real_labels.cpu()).tolist()
    for name, predicted, labels in (
        ("label_acc", fake_predicted, fake_labels),
        ("label_acc_real", real_predicted, real_labels),
    ):
        hits, labels = (predicted.cpu() == labels.cpu()).float(), labels.cpu()
        scores[name] = float(hits.mean())
        for label in classes:
            in_class = hits[labels == label]
            value = float(in_class.mean()) if len(in_class) else None
            scores[class_key(name, int(label))] = value
    known = [scores[class_key("label_acc", int(c))] for c in classes]
    known = [v for v in known if v is not None]
    return scores | {"label_acc_class_min": min(known) if known else None}


def _one_class(
    real: torch.Tensor, fake: torch.Tensor, label: int, pr_k: int
) -> dict[str, float | None]:
    enough = min(len(real), len(fake)) > pr_k
    knn = knn_metrics(real, fake, pr_k=pr_k, dc_k=pr_k) if enough else {}
    return {
        class_key("fid", label): fid_from_features(real, fake) if enough else None,
        class_key("precision", label): knn.get("precision"),
        class_key("recall", label): knn.get("recall"),
    }


def _check_aligned(features: torch.Tensor, labels: torch.Tensor, side: str) -> None:
    if labels.dim() != 1 or len(labels) != len(features):
        raise ValueError(
            f"{side}: {len(features)} feature rows but labels of shape {tuple(labels.shape)}"
        )
