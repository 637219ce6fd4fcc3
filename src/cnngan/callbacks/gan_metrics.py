"""Score a GAN during training with the metric suite (FID, KID, IS, precision/recall,
density/coverage, mode coverage) every N epochs on M generated images against a fixed reference
split, logged to every logger as `val/fid`, `val/kid_mean`, ... so that a ModelCheckpoint can keep
the best FID.

Enable it with `callbacks=[gan,gan_fid]` (conf/callbacks/gan_fid.yaml) or `callbacks=gan_best_fid`
(which also points the checkpoint at val/fid). The suite comes from conf/metrics/suite/, the same
description cnngan-eval uses.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

from cnngan.core.iterations import training_iteration
from cnngan.core.json_safe import write_json
from cnngan.core.rank import log
from cnngan.metrics.evaluator import evaluator_paths, load_evaluator, read_metadata, verify_weights
from cnngan.metrics.samples import gan_sampler
from cnngan.metrics.suite import GanMetrics

# written next to metrics.json: one entry per evaluation (epoch, iteration, time_s, scores)
HISTORY_FILE = "gan_metrics_history.json"


def _ignore_sync_dist_advice(prefix: str) -> None:
    """Lightning advises `sync_dist=True` for every epoch-level value logged under DDP; the scores
    of this callback are reduced over the ranks before they are logged, so it does not apply."""
    from lightning.pytorch.utilities.warnings import PossibleUserWarning

    advice = rf"It is recommended to use `self\.log\('{re.escape(prefix)}"
    warnings.filterwarnings("ignore", message=advice, category=PossibleUserWarning)


class GanMetricsCallback(L.Callback):
    """Args:
    evaluator: a shipped evaluator name ("fashion_mnist") or a path to its .pt file.
    suite: builds the suite from the feature network and a seed: `GanMetrics` itself or a partial
        of it (conf/metrics/suite/ with `_partial_: true`).
    every_n_epochs: score after every N-th training epoch, and always when training stops (the
        last epoch, `trainer.max_steps` reached inside an epoch, `max_time`, early stopping), so
        the checkpoint monitoring the score sees the final weights too.
    num_samples: generated images per evaluation (split over DDP ranks).
    reference: the data module's split the samples are compared with ("val" keeps the test split
        unseen; the whole split is used, split over ranks).
    prefix: metric names are `<prefix><score>`, e.g. "val/fid".
    use_ema: sample with the generator's EMA weights when the GAN keeps them.
    seed: the latent noise is the same at every evaluation (seed + rank), so the curve measures
        the generator, not the draw.
    """

    def __init__(
        self,
        evaluator: str = "fashion_mnist",
        suite: Callable[..., GanMetrics] = GanMetrics,
        every_n_epochs: int = 1,
        num_samples: int = 2000,
        reference: str = "val",
        batch_size: int = 500,
        prefix: str = "val/",
        use_ema: bool = True,
        seed: int = 0,
        prog_bar_key: str | None = "fid",
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs={every_n_epochs} must be >= 1")
        self.evaluator_name = evaluator
        self.make_suite = suite
        self.every_n_epochs = int(every_n_epochs)
        self.num_samples = int(num_samples)
        self.reference = reference
        self.batch_size = int(batch_size)
        self.prefix = prefix
        self.use_ema = use_ema
        self.seed = int(seed)
        self.prog_bar_key = prog_bar_key
        self.suite: GanMetrics | None = None
        self._scored_epoch = -1
        self._fit_started = time.perf_counter()
        self.history: list[dict[str, Any]] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Fail before training, not after the first epoch, on a missing or modified evaluator."""
        if stage == "fit" and self.suite is None:
            verify_weights(
                evaluator_paths(self.evaluator_name)[0],
                read_metadata(self.evaluator_name)["sha256"],
            )
            if not callable(getattr(pl_module, "generate", None)):
                raise TypeError(
                    f"{type(self).__name__} needs a GAN with generate(n, ...); "
                    f"got {type(pl_module).__name__}"
                )

    # ------------------------------------------------------------------ when
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_started = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        """At the step budget, stop through `should_stop`: Lightning then validates this partial
        epoch (it does not when the loop merely runs out of `max_steps`), so the final weights
        are scored and a ModelCheckpoint monitoring the score can keep them."""
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True

    def _due(self, trainer: L.Trainer) -> bool:
        epoch = trainer.current_epoch
        last = trainer.should_stop or bool(
            trainer.max_epochs and trainer.max_epochs > 0 and epoch + 1 >= trainer.max_epochs
        )
        return self._scored_epoch != epoch and ((epoch + 1) % self.every_n_epochs == 0 or last)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Scoring here (not at train epoch end) lets a ModelCheckpoint that saves at validation
        # end (check_val_every_n_epoch > 1) see the score.
        if not trainer.sanity_checking and trainer.state.fn == "fit" and self._due(trainer):
            self._score(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._due(trainer):  # runs when there was no validation this epoch
            self._score(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The score curve, for plots of FID against iterations and wall time."""
        if trainer.is_global_zero and self.history:
            out = Path(trainer.default_root_dir) / HISTORY_FILE
            write_json(out, {"prefix": self.prefix, "scores": self.history})

    # ------------------------------------------------------------------ how
    def _build(self, trainer: L.Trainer, device: torch.device) -> GanMetrics:
        evaluator = load_evaluator(self.evaluator_name, device=device)
        suite = self.make_suite(evaluator, seed=self.seed).to(device)
        images, labels = self._reference_images(trainer)
        # a conditional GAN is also scored per class: its reference images keep their labels
        conditional = getattr(trainer.lightning_module.hparams, "conditional", False)
        shard = slice(trainer.global_rank, None, trainer.world_size)
        real = images[shard]
        labels = labels[shard] if conditional and labels is not None else None
        for start in range(0, len(real), self.batch_size):
            part = slice(start, start + self.batch_size)
            batch_labels = None if labels is None else labels[part]
            suite.update(real[part].to(device), real=True, labels=batch_labels)
        log.info(
            "%s: evaluator %s (sha256 %s), reference %s split (%d images), %d samples every %d "
            "epochs",
            type(self).__name__,
            self.evaluator_name,
            (evaluator.sha256 or "?")[:12],
            self.reference,
            len(images),
            self.num_samples,
            self.every_n_epochs,
        )
        return suite

    def _reference_images(self, trainer: L.Trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The reference split's images and labels."""
        datamodule = trainer.datamodule
        images = labels = None
        if callable(getattr(datamodule, "split_images", None)):
            images, labels = datamodule.split_images(self.reference)
        if images is None or len(images) == 0:
            raise RuntimeError(
                f"{type(self).__name__}(reference={self.reference!r}) needs the data module's "
                f"{self.reference} split (an ImageDataModule with images in it); check "
                "data.val_size or choose reference=train"
            )
        return images, labels

    def _generated_scores(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        """This rank's share of the samples through the suite -> {score: float}.

        Runs with torch's random state put back afterwards: building the evaluator (weight
        initialization) and scoring draw from it, and training must continue with the numbers it
        would have drawn without scoring. Otherwise a resumed run, which builds the suite at a
        later epoch than the run it continues, would not retrace it (resume_state).
        """
        cuda = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            return self._scores_of_fresh_samples(trainer, pl_module)

    def _scores_of_fresh_samples(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        if self.suite is None:
            self.suite = self._build(trainer, pl_module.device)
        self.suite.reset_fake()
        n_local = len(range(trainer.global_rank, self.num_samples, trainer.world_size))
        sample = gan_sampler(
            pl_module, self.use_ema, self.seed + trainer.global_rank, pl_module.device
        )
        for start in range(0, n_local, self.batch_size):
            images, labels = sample.labeled(min(self.batch_size, n_local - start))
            self.suite.update(images.to(pl_module.device), real=False, labels=labels)
        scores = self.suite.compute()
        # a per-class score a class had too few images for is None: NaN keeps the keys the same
        # on every rank and at every evaluation
        return {
            k: float("nan") if v is None else float(v)
            for k, v in scores.items()
            if v is None or isinstance(v, int | float)
        }

    @torch.no_grad()
    def _score(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        started = time.perf_counter()
        self._scored_epoch = trainer.current_epoch
        values = self._generated_scores(trainer, pl_module)
        if trainer.world_size > 1:
            # FID/KID/IS are already synced over DDP ranks (torchmetrics); the k-NN scores are
            # per-rank shards and get averaged. Reduced here, eagerly, on every rank: a lazy
            # `sync_dist=True` would run when rank 0's progress bar first reads the values, out of
            # step with the other ranks (a deadlock).
            stacked = torch.tensor(list(values.values()), device=pl_module.device)
            stacked = trainer.strategy.reduce(stacked, reduce_op="mean")
            values = dict(zip(values, stacked.tolist(), strict=True))
            _ignore_sync_dist_advice(self.prefix)
        for key, value in values.items():
            pl_module.log(
                self.prefix + key,
                value,
                on_step=False,
                on_epoch=True,
                prog_bar=key == self.prog_bar_key,
            )
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "iteration": training_iteration(trainer, pl_module),
                # seconds since fit started, scoring time included: FID against wall time
                "time_s": time.perf_counter() - self._fit_started,
                **values,
            }
        )
        log.info(
            "epoch %d: %sfid %.3f  kid %.5f  precision %.3f  recall %.3f  modes %d  (%.1f s)",
            trainer.current_epoch,
            self.prefix,
            values["fid"],
            values["kid_mean"],
            values["precision"],
            values["recall"],
            int(values["modes_covered"]),
            time.perf_counter() - started,
        )
        if "recall_class_min" in values:  # a conditional GAN: its worst class
            log.info(
                "  per class: fid max %.3f  precision min %.3f  recall min %.3f",
                values["fid_class_max"],
                values["precision_class_min"],
                values["recall_class_min"],
            )
