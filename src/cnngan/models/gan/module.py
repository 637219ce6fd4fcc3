"""GAN: a generator and a discriminator trained with manual optimization.

One training iteration = one batch of real images = `n_critic` discriminator steps followed by one
generator step. Lightning's `global_step` counts optimizer steps (n_critic + 1 per iteration in
manual optimization), so this module reads `trainer.max_steps` (and `min_steps`) as a number of
*iterations* and translates it into optimizer steps (`budget.py`): `trainer.max_steps=5000` runs
exactly 5000 batches whatever `n_critic` is. Logging steps and `self.iteration` also count iterations.

Stability switches (all config values): an EMA copy of the generator (used for sampling and
evaluation), the R1 penalty, the WGAN gradient penalty, DiffAugment on everything D sees, spectral
norm in D (a net option), gradient clipping (`gradient_clip_val` here, since Lightning refuses
`Trainer(gradient_clip_val=...)` under manual optimization), separate optimizers and schedulers
for G and D (two learning rates = TTUR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from cnngan.checkpoints.hparams import to_plain_hparams
from cnngan.models import optimization as optim
from cnngan.models.gan import ema
from cnngan.models.gan.budget import StepBudget
from cnngan.models.gan.checks import check_gan_config, check_real_range
from cnngan.models.gan.diffaugment import DiffAugment
from cnngan.models.gan.losses import get_loss
from cnngan.models.gan.regularizers import regularized_d_loss
from cnngan.models.gan.sampling import decode_in_chunks, sample_labels

# nets and partials: not plain data, so not hyperparameters (checkpoints load weights_only)
OBJECTS = ["generator", "discriminator", "g_optimizer", "d_optimizer", "g_scheduler", "d_scheduler"]


class GAN(L.LightningModule):
    """Args:
    generator: maps (z (N, latent_dim), labels (N,) or None) to images (N, C, H, W) in [-1, 1].
    discriminator: maps (images, labels or None) to one raw output per image, shape (N,).
    g_optimizer, d_optimizer: partials taking `params`.
    latent_dim, image_shape, num_classes: must match the nets (checked).
    conditional: feed class labels to both nets (the nets must be built conditional).
    loss: minimax | non_saturating | hinge | wasserstein | lsgan (see gan_losses).
    n_critic: discriminator steps per iteration (all on the same real batch, fresh noise each).
    reuse_fake: the G step reuses the last D step's fakes (made once, with their graph): one G
        forward less per iteration (the PyTorch DCGAN example's scheme). Off: fresh noise for G.
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
    compile: torch.compile G and D in place for fitting (not with r1_gamma / gp_weight: compiled
        graphs do not support their double backward).
    val_seed: seed of the fixed noise used by validation/test steps (comparable across epochs).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        g_optimizer: optim.OptimizerFactory,
        d_optimizer: optim.OptimizerFactory,
        latent_dim: int,
        image_shape: Sequence[int],
        num_classes: int,
        conditional: bool = False,
        loss: str = "non_saturating",
        n_critic: int = 1,
        reuse_fake: bool = False,
        g_scheduler: optim.SchedulerFactory | None = None,
        d_scheduler: optim.SchedulerFactory | None = None,
        scheduler_interval: str = "step",
        r1_gamma: float = 0.0,
        gp_weight: float = 0.0,
        diffaugment: str | Sequence[str] | None = None,
        ema_decay: float | None = 0.999,
        ema_start: int = 0,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        channels_last: bool = False,
        compile: bool = False,
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
        self.step_budget = StepBudget()
        self._grad_norms: dict[str, torch.Tensor] = {}
        self._range_checked = False

    # ------------------------------------------------------------------ setup
    @property
    def steps_per_iteration(self) -> int:
        """Optimizer steps per training iteration (n_critic D steps + 1 G step)."""
        return self.hparams.n_critic + 1

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed, from Lightning's optimizer-step counter."""
        return self.global_step // self.steps_per_iteration

    @property
    def has_ema(self) -> bool:
        return self.generator_ema is not None

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)  # G, D and the EMA copy
        if self.hparams.compile and stage == "fit":
            for net in (self.generator, self.discriminator):
                net.compile()  # in place: parameter names (checkpoints) stay the eager ones

    def on_fit_start(self) -> None:
        self.step_budget.translate(self.trainer, self.steps_per_iteration)

    def configure_optimizers(self) -> Any:
        nets = {"g": self.generator, "d": self.discriminator}
        opts = {k: self.optimizer_factories[k](params=net.parameters()) for k, net in nets.items()}
        interval = self.hparams.scheduler_interval
        schedulers = [
            optim.scheduler_config(factory, opts[k], self.trainer, interval, name=f"lr-{k}")
            for k, factory in self.scheduler_factories.items()
            if factory is not None
        ]
        return ([opts["g"], opts["d"]], schedulers) if schedulers else [opts["g"], opts["d"]]

    # ------------------------------------------------------------------ training
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = batch
        if not self._range_checked:
            check_real_range(real)
            self._range_checked = True
        labels = labels if self.hparams.conditional else None
        g_opt, d_opt = self.optimizers()
        n, n_critic = real.shape[0], self.hparams.n_critic
        # with reuse_fake: generated before any toggling, so its graph reaches G's parameters
        shared_fake = self.generator(self._noise(n), labels) if self.hparams.reuse_fake else None
        fakes = [None] * (n_critic - 1) + [shared_fake]  # the last D step sees the shared fakes
        d_logs = [self._discriminator_step(real, labels, d_opt, fake) for fake in fakes]
        g_loss = self._generator_step(n, labels, g_opt, shared_fake)
        if self.generator_ema is not None:
            decay = ema.decay_at(self.iteration, self.hparams.ema_decay, self.hparams.ema_start)
            ema.update_ema(self.generator_ema, self.generator, decay)
        if self.hparams.scheduler_interval == "step":
            optim.step_schedulers(self.lr_schedulers())
        d_mean = {f"train/{k}": torch.stack([d[k] for d in d_logs]).mean() for k in d_logs[0]}
        losses = {"train/d_loss": d_mean.pop("train/d_loss"), "train/g_loss": g_loss}
        self.log_dict(losses, on_step=True, on_epoch=False, prog_bar=True)
        norms = {f"train/{k}_grad_norm": v for k, v in self._grad_norms.items()}
        self.log_dict(d_mean | norms, on_step=True, on_epoch=False)

    def _discriminator_step(
        self,
        real: torch.Tensor,
        labels: torch.Tensor | None,
        opt: Any,
        fake: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        hp = self.hparams
        with self.toggled_optimizer(opt):
            if fake is None:
                with torch.no_grad():
                    fake = self.generator(self._noise(real.shape[0]), labels)
            fake = fake.detach()
            real_in, fake_in = self.augment(real), self.augment(fake)
            if hp.r1_gamma > 0:
                real_in = real_in.detach().requires_grad_(True)
            real_out = self.discriminator(real_in, labels).float()
            fake_out = self.discriminator(fake_in, labels).float()
            total, logs = regularized_d_loss(
                self.loss_fn.discriminator(real_out, fake_out),
                lambda x: self.discriminator(x, labels),
                real_in,
                real_out,
                fake_in,
                hp.r1_gamma,
                hp.gp_weight,
            )
            self._step(opt, total)
        return {k: v.detach() for k, v in logs.items()} | self.loss_fn.scores(real_out, fake_out)

    def _generator_step(
        self, n: int, labels: torch.Tensor | None, opt: Any, fake: torch.Tensor | None = None
    ) -> torch.Tensor:
        with self.toggled_optimizer(opt):
            if fake is None:
                fake = self.generator(self._noise(n), labels)
            loss = self.loss_fn.generator(self.discriminator(self.augment(fake), labels).float())
            self._step(opt, loss)
        return loss.detach()

    def _step(self, opt: Any, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        opt.zero_grad(set_to_none=True)  # no stale gradients lie around during the other step

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Called by the precision plugin after AMP unscaling: the right place to measure and clip."""
        g_opt, _ = self.optimizers()
        name = "g" if optimizer is getattr(g_opt, "optimizer", g_opt) else "d"
        norm = optim.gradient_norm(optimizer)
        if norm is not None:
            self._grad_norms[name] = norm
        hp = self.hparams
        optim.clip_in_step(self, optimizer, hp.gradient_clip_val, hp.gradient_clip_algorithm)

    def on_train_epoch_end(self) -> None:
        if self.hparams.scheduler_interval == "epoch":
            optim.step_schedulers(self.lr_schedulers())

    # ------------------------------------------------------------------ validation / test
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    def _eval_step(self, batch: Any, batch_idx: int, stage: str) -> None:
        """D's view of held-out real images and of fixed-noise fakes: d_real on val/test against
        train/d_real shows D overfitting the training set (Karras et al. 2020)."""
        real, labels = batch
        labels = labels if self.hparams.conditional else None
        rng = torch.Generator().manual_seed(self.hparams.val_seed + batch_idx)
        z = torch.randn(real.shape[0], self.hparams.latent_dim, generator=rng).to(self.device)
        real_out = self.discriminator(real, labels).float()
        fake_out = self.discriminator(self.generator(z, labels), labels).float()
        values = {
            "d_loss": self.loss_fn.discriminator(real_out, fake_out),
            "g_loss": self.loss_fn.generator(fake_out),
            **self.loss_fn.scores(real_out, fake_out),
        }
        self.log_dict(
            {f"{stage}/{k}": v for k, v in values.items()},
            on_epoch=True,
            batch_size=real.shape[0],
            sync_dist=True,
        )

    # ------------------------------------------------------------------ sampling
    def sampling_generator(self, use_ema: bool = True) -> nn.Module:
        """The EMA generator when there is one and `use_ema`, else the trained generator."""
        return self.generator_ema if use_ema and self.has_ema else self.generator

    def sample_labels(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor | None:
        """Labels for n samples: None for an unconditional model; balanced (i % num_classes)
        when not given; else the given ones, checked."""
        hp = self.hparams
        return sample_labels(n, labels, hp.conditional, hp.num_classes, self.device)

    @torch.no_grad()
    def decode(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        batch_size: int = 1000,
    ) -> torch.Tensor:
        """Images in [-1, 1] (float32, on the module's device) for given latent vectors, with the
        generator in eval mode (its previous mode is restored afterwards)."""
        net, shape = self.sampling_generator(use_ema), self.hparams.image_shape
        labels = self.sample_labels(z.shape[0], labels)
        return decode_in_chunks(net, z.to(self.device), labels, batch_size, shape)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """n images (n, C, H, W) in [-1, 1] on the module's device. With a conditional model and no
        labels, labels are balanced (i % num_classes). `generator` makes the noise reproducible."""
        device = generator.device if generator is not None else self.device
        z = torch.randn(n, self.hparams.latent_dim, generator=generator, device=device)
        return self.decode(z, labels, use_ema)
