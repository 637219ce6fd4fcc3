"""ImageClassifier: any net that maps images to logits, trained with cross-entropy."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from cnngan.checkpoints.hparams import to_plain_hparams
from cnngan.models.compiling import CompileSetting, compile_in_place, compile_options
from cnngan.models.optimization import OptimizerFactory, SchedulerFactory, scheduler_config
from cnngan.models.step_logs import writes_step_logs
from cnngan.models.train_scores import RunningClassificationScores


def classification_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Accuracy and macro F1 of validation and test (training: `RunningClassificationScores`,
    the same values at a fraction of the per-step cost)."""
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        },
        prefix=prefix,
    )


class ImageClassifier(L.LightningModule):
    """Args:
    net: maps (N, C, H, W) images to (N, num_classes) logits.
    optimizer: partial taking the parameters.
    scheduler: optional partial taking the optimizer; stepped every `scheduler_interval`.
    compile: torch.compile the net for fitting: true, or a mapping of torch.compile's options
        (`cnngan.models.compiling`).
    tta_hflip: test-time augmentation outside training (validation, test, predict): the logits
        are the mean of the image's and its mirror image's. Only for data whose classes are
        left-right symmetric (Fashion-MNIST, CIFAR-10; not digits). Costs a second forward pass.
    """

    checkpoint_kind = "classifier"  # how error messages name its checkpoints (load_model)

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        num_classes: int,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "step",
        label_smoothing: float = 0.0,
        class_names: list[str] | None = None,
        compile: CompileSetting = False,
        channels_last: bool = False,
        tta_hflip: bool = False,
    ) -> None:
        super().__init__()
        # Only plain data goes into hparams, so checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        to_plain_hparams(self.hparams)
        compile_options(self.hparams.compile)  # a mistake fails here, before any data loads
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.class_names = (
            list(class_names) if class_names else [str(i) for i in range(num_classes)]
        )
        self.train_scores = RunningClassificationScores(num_classes)
        self.val_metrics = classification_metrics(num_classes, "val/")
        self.test_metrics = classification_metrics(num_classes, "test/")
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.val_acc_best = MaxMetric()
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_confusion_matrix: torch.Tensor | None = None  # set by each test epoch
        self.step_values: dict[str, torch.Tensor] = {}  # this step's train/ values (NaN guard)

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if stage == "fit":
            compile_in_place([self.net], self.hparams.compile)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        if self.hparams.tta_hflip and not self.training:
            logits = (logits + self.net(x.flip(-1))) / 2
        return logits

    def _shared_step(
        self, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        return loss, logits.detach(), y

    # Every epoch value is reduced over DDP ranks eagerly, in this module's own hooks, which run in
    # the same order on every rank. Lightning's lazy `sync_dist=True` reduction (and `self.log` of
    # metric objects) runs whenever the logged values are first read: rank 0's progress bar reads
    # them in its epoch-end hook, the other ranks' disabled bars do not, so the ranks would enter
    # different collectives and hang (seen with trainer=ddp_cpu).
    def _log_epoch(
        self, stage: str, metrics: MetricCollection, loss: MeanMetric, **kwargs: Any
    ) -> dict[str, torch.Tensor]:
        values = {}
        if loss.update_count:
            values = {**metrics.compute(), f"{stage}/loss": loss.compute()}
            self.log_dict(values, **kwargs)
        metrics.reset()
        loss.reset()
        return values

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, logits, y = self._shared_step(batch)
        self.train_scores.update(logits, y, loss)
        self.step_values = {"train/loss_step": loss.detach()}
        # on the steps the loggers write (cnngan.models.step_logs); this rank's value only: a
        # per-step all-reduce would cost every step
        if writes_step_logs(self.trainer, self.global_step):
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        # Logged once per epoch: `self.log` of metric objects on every step costs ~3% of a CPU
        # step (make bench) for the same epoch values.
        if self.train_scores.update_count:
            values = self.train_scores.compute()  # summed over DDP ranks
            self.log_dict({f"train/{name}": value for name, value in values.items()})
        self.train_scores.reset()

    def on_validation_epoch_start(self) -> None:
        self.val_metrics.reset()
        self.val_loss.reset()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, logits, y = self._shared_step(batch)
        self.val_metrics.update(logits, y)
        self.val_loss.update(loss, weight=y.shape[0])

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val", self.val_metrics, self.val_loss, prog_bar=True)
        if values and not self.trainer.sanity_checking:
            self.val_acc_best.update(values["val/acc"])
            self.log("val/acc_best", self.val_acc_best.compute())

    def test_step(self, batch: Any, batch_idx: int) -> None:
        loss, logits, y = self._shared_step(batch)
        self.test_metrics.update(logits, y)
        self.test_loss.update(loss, weight=y.shape[0])
        self.test_confusion.update(logits, y)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test", self.test_metrics, self.test_loss)
        self.test_confusion_matrix = self.test_confusion.compute().cpu()
        self.test_confusion.reset()

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        interval = self.hparams.scheduler_interval
        scheduler = scheduler_config(self.scheduler_factory, optimizer, self.trainer, interval)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
