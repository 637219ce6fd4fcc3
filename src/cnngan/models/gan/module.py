"""GAN: a generator and a discriminator trained with manual optimization.

One training iteration = one batch of real images = `n_critic` discriminator steps followed by one
generator step. Lightning's `global_step` counts optimizer steps (n_critic + 1 per iteration in
manual optimization); this module declares that count (`optimizer_steps_per_iteration`), and the
run layer builds the Trainer with `trainer.max_steps` (and `min_steps`) read as *iterations*
(`cnngan.run.trainer.build_trainer`): `trainer.max_steps=5000` runs exactly 5000 batches whatever
`n_critic` is. Logging steps and `self.iteration` also count iterations.

Stability switches (all config values): an EMA copy of the generator (used for sampling and
evaluation), the R1 penalty, the WGAN gradient penalty, DiffAugment on everything D sees, spectral
norm in D (a net option), gradient clipping (`gradient_clip_val` here, since Lightning refuses
`Trainer(gradient_clip_val=...)` under manual optimization), separate optimizers and schedulers
for G and D (two learning rates = TTUR).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from cnngan.checkpoints.hparams import to_plain_hparams
from cnngan.models import optimization
from cnngan.models.compiling import CompileSetting, compile_in_place
from cnngan.models.gan import ema
from cnngan.models.gan.checks import check_gan_config, check_real_range
from cnngan.models.gan.clusters import ClusterLabels, fit_clusters
from cnngan.models.gan.diffaugment import DiffAugment
from cnngan.models.gan.grad_norms import GradientNorms
from cnngan.models.gan.losses import get_loss
from cnngan.models.gan.regularizers import regularized_d_loss
from cnngan.models.gan.sampling import GeneratorSampling
from cnngan.models.step_logs import writes_step_logs

Tensor = torch.Tensor
# nets and partials: not plain data, so not hyperparameters (checkpoints load weights_only)
OBJECTS = ["generator", "discriminator", "g_optimizer", "d_optimizer", "g_scheduler", "d_scheduler"]
# the nets in the order configure_optimizers returns their optimizers
NETS = ("g", "d")


class GAN(GeneratorSampling, L.LightningModule):
    """Args:
    generator: maps (z (N, latent_dim), labels (N,) or None) to images (N, C, H, W) in [-1, 1].
    discriminator: maps (images, labels or None) to one raw output per image, shape (N,).
    g_optimizer, d_optimizer: partials taking `params`.
    latent_dim, image_shape, num_classes: must match the nets (checked).
    conditional: feed class labels to both nets (the nets must be built conditional).
    self_cond_clusters: K > 0 makes an unconditional GAN self-conditioned: G and D take the
        k-means cluster (of K, fitted on the training images when the fit starts) of each real
        image as its label, and G's samples draw clusters in proportion to their sizes
        (`cnngan.models.gan.clusters`); the nets must be built conditional with K classes. 0 = off.
    loss: minimax | non_saturating | hinge | wasserstein | lsgan (see gan_losses).
    n_critic: discriminator steps per iteration (all on the same real batch, fresh noise each).
    reuse_fake: the G step reuses the last D step's fakes (made once, with their graph): one G
        forward less per iteration (the PyTorch DCGAN example's scheme). Off: fresh noise for G.
    d_joint_batch: each D step runs D once on the real and the fake batch concatenated, not once
        on each: the same math for a D without batch norm (refused with one: D's steps would
        normalize mixed batches and G's step fakes alone).
    g_scheduler, d_scheduler: optional partials taking the optimizer; stepped every iteration
        (`scheduler_interval="step"`) or every epoch ("epoch").
    r1_gamma: weight gamma of the R1 penalty (gamma / 2 * E||grad D(x)||^2); 0 = off.
    gp_weight: weight of the WGAN-GP gradient penalty; 0 = off.
    diffaugment: DiffAugment policy, e.g. "color,translation,cutout" or a list of those names;
        null/"" = off.
    ema_decay: decay of the generator's exponential moving average; null = no EMA copy.
    ema_start: iteration up to which the EMA copies the generator; it averages after it.
    gradient_clip_val, gradient_clip_algorithm: clip each net's gradients ("norm" or "value").
    channels_last: convert the nets to channels_last memory format (faster convolutions).
    compile: torch.compile G and D in place for fitting: true, or a mapping of torch.compile's
        options (`cnngan.models.compiling`); not with r1_gamma / gp_weight (compiled graphs do
        not support their double backward).
    val_seed: seed of the fixed noise used by validation/test steps (comparable across epochs).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        g_optimizer: optimization.OptimizerFactory,
        d_optimizer: optimization.OptimizerFactory,
        latent_dim: int,
        image_shape: Sequence[int],
        num_classes: int,
        conditional: bool = False,
        self_cond_clusters: int = 0,
        loss: str = "non_saturating",
        n_critic: int = 1,
        reuse_fake: bool = False,
        d_joint_batch: bool = False,
        g_scheduler: optimization.SchedulerFactory | None = None,
        d_scheduler: optimization.SchedulerFactory | None = None,
        scheduler_interval: str = "step",
        r1_gamma: float = 0.0,
        gp_weight: float = 0.0,
        diffaugment: str | Sequence[str] | None = None,
        ema_decay: float | None = 0.999,
        ema_start: int = 0,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        channels_last: bool = False,
        compile: CompileSetting = False,
        val_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=OBJECTS, logger=False)
        to_plain_hparams(self.hparams)
        self.hparams.image_shape = [int(s) for s in image_shape]
        check_gan_config(self.hparams, generator, discriminator)
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.optimizer_factories = {"g": g_optimizer, "d": d_optimizer}
        self.scheduler_factories = {"g": g_scheduler, "d": d_scheduler}
        self.loss_fn = get_loss(loss)
        self.augment = DiffAugment(diffaugment)
        self.generator_ema = ema.ema_copy(generator) if ema_decay is not None else None
        self.clusters = (
            ClusterLabels(self_cond_clusters, image_shape) if self_cond_clusters else None
        )
        self.grad_norms = GradientNorms()
        self.step_values: dict[str, Tensor] = {}  # this iteration's train/ values (NaN guard)
        self._range_checked = False

    # ------------------------------------------------------------------ setup
    @property
    def optimizer_steps_per_iteration(self) -> int:
        """Optimizer steps per training iteration (n_critic D steps + 1 G step)."""
        return self.hparams.n_critic + 1

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed, from Lightning's optimizer-step counter."""
        return self.global_step // self.optimizer_steps_per_iteration

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)  # G, D and the EMA copy
        if stage == "fit":
            compile_in_place((self.generator, self.discriminator), self.hparams.compile)

    def on_fit_start(self) -> None:
        if self.clusters is not None and not self.clusters.fitted:  # resumed: in the checkpoint
            fit_clusters(self.clusters, self.trainer.datamodule, self.trainer.strategy)

    def configure_optimizers(self) -> Any:
        nets = dict(zip(NETS, (self.generator, self.discriminator), strict=True))
        opts = {k: self.optimizer_factories[k](params=net.parameters()) for k, net in nets.items()}
        schedulers = [
            self._scheduler_config(factory, opts[k], name=f"lr-{k}")
            for k, factory in self.scheduler_factories.items()
            if factory is not None
        ]
        optimizers = [opts[k] for k in NETS]
        return (optimizers, schedulers) if schedulers else optimizers

    def _scheduler_config(self, factory: Any, opt: Any, name: str) -> dict[str, Any]:
        """A scheduler stepped per iteration or epoch, its length (T_max, ...) in iterations."""
        interval, steps = self.hparams.scheduler_interval, self.optimizer_steps_per_iteration
        return optimization.scheduler_config(factory, opt, self.trainer, interval, name, steps)

    # ------------------------------------------------------------------ training
    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.generator(z, labels)

    def _noise(self, n: int) -> Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = self._real_batch(batch)
        g_opt, d_opt = self.optimizers()
        steps = self.optimizer_steps_per_iteration
        writes_logs = writes_step_logs(self.trainer, self.iteration, steps)
        self.grad_norms.start(measuring=writes_logs)
        n, n_critic = real.shape[0], self.hparams.n_critic
        # with reuse_fake: generated before any toggling, so its graph reaches G's parameters
        shared_fake = self.generator(self._noise(n), labels) if self.hparams.reuse_fake else None
        fakes = [None] * (n_critic - 1) + [shared_fake]  # the last D step sees the shared fakes
        d_logs = [self._discriminator_step(real, labels, d_opt, fake) for fake in fakes]
        g_loss = self._generator_step(n, labels, g_opt, shared_fake)
        self._update_ema()
        if self.hparams.scheduler_interval == "step":
            optimization.step_schedulers(self.lr_schedulers())
        self._log_iteration(d_logs, g_loss, writes_logs)

    def _real_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """The real images (range checked on the first batch) and the labels the nets take."""
        real, labels = batch
        if not self._range_checked:
            check_real_range(real)
            self._range_checked = True
        return real, self._net_labels(real, labels)

    def _net_labels(self, real: Tensor, labels: Tensor) -> Tensor | None:
        """The data's labels (conditional), the reals' clusters (self-conditioned), or None."""
        if self.clusters is not None:
            return self.clusters.assign(real)
        return labels if self.hparams.conditional else None

    def _discriminator_step(
        self, real: Tensor, labels: Tensor | None, opt: Any, fake: Tensor | None = None
    ) -> dict[str, Tensor]:
        with self.toggled_optimizer(opt):
            if fake is None:
                with torch.no_grad():
                    fake = self.generator(self._noise(real.shape[0]), labels)
            d = regularized_d_loss(
                critic=lambda x: self.discriminator(x, labels),
                real=self.augment(real),
                fake=self.augment(fake.detach()),
                loss=self.loss_fn.discriminator,
                r1_gamma=self.hparams.r1_gamma,
                gp_weight=self.hparams.gp_weight,
                joint_critic=self._joint_critic(labels) if self.hparams.d_joint_batch else None,
            )
            self._step(opt, d.total)
        return d.logs | self.loss_fn.scores(d.real_out, d.fake_out)

    def _joint_critic(self, labels: Tensor | None) -> Callable[[Tensor], Tensor]:
        """D on a real batch and a fake batch concatenated: each half keeps its labels."""
        both = None if labels is None else torch.cat([labels, labels])
        return lambda x: self.discriminator(x, both)

    def _generator_step(
        self, n: int, labels: Tensor | None, opt: Any, fake: Tensor | None = None
    ) -> Tensor:
        with self.toggled_optimizer(opt):
            if fake is None:
                fake = self.generator(self._noise(n), labels)
            loss = self.loss_fn.generator(self.discriminator(self.augment(fake), labels).float())
            self._step(opt, loss)
        return loss.detach()

    def _step(self, opt: Any, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        opt.zero_grad(set_to_none=True)  # no stale gradients lie around during the other step

    def _update_ema(self) -> None:
        if self.generator_ema is not None:
            decay = ema.decay_at(self.iteration, self.hparams.ema_decay, self.hparams.ema_start)
            ema.update_ema(self.generator_ema, self.generator, decay)

    def _log_iteration(
        self, d_logs: list[dict[str, Tensor]], g_loss: Tensor, writes_logs: bool
    ) -> None:
        """D's values averaged over its n_critic steps, G's loss, and the gradient norms when
        this iteration measured them: kept in `step_values` every iteration, logged on the
        iterations Lightning writes (`cnngan.models.step_logs`)."""
        d_mean = {f"train/{k}": torch.stack([d[k] for d in d_logs]).mean() for k in d_logs[0]}
        losses = {"train/d_loss": d_mean.pop("train/d_loss"), "train/g_loss": g_loss}
        self.step_values = losses | d_mean
        if writes_logs:
            self.log_dict(losses, on_step=True, on_epoch=False, prog_bar=True)
            self.log_dict(d_mean | self.grad_norms.logged(), on_step=True, on_epoch=False)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Called by the precision plugin after AMP unscaling: where to measure and clip."""
        self.grad_norms.measure(self._net_of(optimizer), optimizer)
        hp = self.hparams
        optimization.clip_in_step(self, optimizer, hp.gradient_clip_val, hp.gradient_clip_algorithm)

    def _net_of(self, optimizer: torch.optim.Optimizer) -> str:
        """ "g" or "d": which net an optimizer of this fit steps (by identity, in NETS order)."""
        return next(
            net for net, o in zip(NETS, self.trainer.optimizers, strict=True) if o is optimizer
        )

    def on_train_epoch_end(self) -> None:
        if self.hparams.scheduler_interval == "epoch":
            optimization.step_schedulers(self.lr_schedulers())

    # ------------------------------------------------------------------ validation / test
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    def _eval_step(self, batch: Any, batch_idx: int, stage: str) -> None:
        """D's view of held-out real images and of fixed-noise fakes: d_real on val/test against
        train/d_real shows D overfitting the training set (Karras et al. 2020)."""
        real, labels = batch
        labels = self._net_labels(real, labels)
        rng = torch.Generator().manual_seed(self.hparams.val_seed + batch_idx)
        z = torch.randn(real.shape[0], self.hparams.latent_dim, generator=rng).to(self.device)
        real_out = self.discriminator(real, labels).float()
        fake_out = self.discriminator(self.generator(z, labels), labels).float()
        self.log_dict(
            {f"{stage}/{k}": v for k, v in self.loss_fn.evaluate(real_out, fake_out).items()},
            on_epoch=True,
            batch_size=real.shape[0],
            sync_dist=True,
        )
