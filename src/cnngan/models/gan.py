"""GAN: a generator and a discriminator trained with manual optimization.

One training iteration = one batch of real images = `n_critic` discriminator steps followed by one
generator step. Lightning's `global_step` counts optimizer steps (n_critic + 1 per iteration in
manual optimization), so this module reads `trainer.max_steps` (and `min_steps`) as a number of
*iterations* and translates the loop's limit into optimizer steps when fitting starts:
`trainer.max_steps=5000` runs exactly 5000 batches whatever `n_critic` is. Logging steps and
`self.iteration` also count iterations.

Stability switches (all config values): an EMA copy of the generator (used for sampling and
evaluation), the R1 penalty, the WGAN gradient penalty, DiffAugment on everything D sees, spectral
norm in D (a net option), gradient clipping (`gradient_clip_val` here, since Lightning refuses
`Trainer(gradient_clip_val=...)` under manual optimization), separate optimizers and schedulers
for G and D (two learning rates = TTUR).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch import nn

from cnngan.models.classifier import build_scheduler
from cnngan.models.diffaugment import DiffAugment
from cnngan.models.gan_losses import get_loss
from cnngan.models.gan_regularizers import gradient_penalty, r1_penalty
from cnngan.utils.checkpoint import to_plain_hparams
from cnngan.utils.rank import log

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]
RNG_KEY = "cnngan_rng_states"


class GAN(L.LightningModule):
    """Args:
    generator: maps (z (N, latent_dim), labels (N,) or None) to images (N, C, H, W) in [-1, 1].
    discriminator: maps (images, labels or None) to one raw output per image, shape (N,).
    g_optimizer, d_optimizer: partials taking `params`.
    latent_dim, image_shape, num_classes: must match the nets (checked).
    conditional: feed class labels to both nets (the nets must be built conditional).
    loss: minimax | non_saturating | hinge | wasserstein | lsgan (see gan_losses).
    n_critic: discriminator steps per iteration (all on the same real batch, fresh noise each).
    g_scheduler, d_scheduler: optional partials taking the optimizer; stepped every iteration
        (`scheduler_interval="step"`) or every epoch ("epoch").
    r1_gamma: weight gamma of the R1 penalty (gamma / 2 * E||grad D(x)||^2); 0 = off.
    gp_weight: weight of the WGAN-GP gradient penalty; 0 = off.
    diffaugment: DiffAugment policy, e.g. "color,translation,cutout" or a list of those names;
        null/"" = off.
    ema_decay: decay of the generator's exponential moving average; null = no EMA copy.
    ema_start: iteration from which the EMA averages; before it, it copies the generator.
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
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        latent_dim: int,
        image_shape: Sequence[int],
        num_classes: int,
        conditional: bool = False,
        loss: str = "non_saturating",
        n_critic: int = 1,
        g_scheduler: SchedulerFactory | None = None,
        d_scheduler: SchedulerFactory | None = None,
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
        self.save_hyperparameters(
            ignore=[
                "generator",
                "discriminator",
                "g_optimizer",
                "d_optimizer",
                "g_scheduler",
                "d_scheduler",
            ],
            logger=False,
        )
        to_plain_hparams(self.hparams)
        self.hparams.image_shape = [int(s) for s in image_shape]
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer_factory, self.d_optimizer_factory = g_optimizer, d_optimizer
        self.g_scheduler_factory, self.d_scheduler_factory = g_scheduler, d_scheduler
        self.loss_fn = get_loss(loss)
        self.augment = DiffAugment(diffaugment)
        self._check_config()
        self.generator_ema: nn.Module | None = None
        if ema_decay is not None:
            self.generator_ema = copy.deepcopy(generator).requires_grad_(False)
        self._grad_norms: dict[str, torch.Tensor] = {}
        self._budget_for: tuple[int, int] | None = None
        self._range_checked = False

    # ------------------------------------------------------------------ checks
    def _check_config(self) -> None:
        hp = self.hparams
        if hp.n_critic < 1:
            raise ValueError(f"n_critic={hp.n_critic} must be at least 1")
        if hp.compile and (hp.r1_gamma > 0 or hp.gp_weight > 0):
            raise ValueError("model.compile=true cannot run gradient penalties (double backward)")
        if hp.ema_decay is not None and not 0.0 <= hp.ema_decay < 1.0:
            raise ValueError(f"ema_decay={hp.ema_decay} must be in [0, 1) (or null for no EMA)")
        if hp.scheduler_interval not in ("step", "epoch"):
            raise ValueError(
                f"scheduler_interval={hp.scheduler_interval!r}; choose 'step' or 'epoch'"
            )
        for name, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            for attr in ("image_shape", "conditional", "num_classes"):
                expected = tuple(hp.image_shape) if attr == "image_shape" else hp[attr]
                found = getattr(net, attr, expected)
                if attr == "num_classes" and not hp.conditional:
                    continue
                if found != expected:
                    raise ValueError(
                        f"model.{name}.{attr}={found} but model.{attr}={expected}; they must agree"
                    )
        found_dim = getattr(self.generator, "latent_dim", hp.latent_dim)
        if found_dim != hp.latent_dim:
            raise ValueError(
                f"model.generator.latent_dim={found_dim} but model.latent_dim={hp.latent_dim}"
            )
        if (hp.gp_weight > 0 or hp.r1_gamma > 0) and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.discriminator.modules()
        ):
            raise ValueError(
                "gradient penalties (gp_weight, r1_gamma) need a discriminator without batch norm "
                "(it mixes the samples of a batch): set model.discriminator.norm=layer or none"
            )

    def _check_real_range(self, real: torch.Tensor) -> None:
        """Once: real images must be in the generator's range [-1, 1] (tanh output)."""
        self._range_checked = True
        low, high = float(real.min()), float(real.max())
        if low < -1.01 or high > 1.01:
            raise ValueError(
                f"real images span [{low:.2f}, {high:.2f}] but the generator outputs [-1, 1]: "
                "normalize the data with mean = std = 0.5 (GAN experiments set data.normalize=null)"
            )

    # ------------------------------------------------------------------ setup
    @property
    def steps_per_iteration(self) -> int:
        """Optimizer steps per training iteration (n_critic D steps + 1 G step)."""
        return self.hparams.n_critic + 1

    @property
    def iteration(self) -> int:
        """Training iterations (batches) completed, from Lightning's optimizer-step counter."""
        return self.global_step // self.steps_per_iteration

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last:
            for net in self._nets():
                net.to(memory_format=torch.channels_last)
        if self.hparams.compile and stage == "fit":
            for net in (self.generator, self.discriminator):
                net.compile()  # in place: parameter names (checkpoints) stay the eager ones

    def _nets(self) -> list[nn.Module]:
        nets = [self.generator, self.discriminator]
        return nets + ([self.generator_ema] if self.generator_ema is not None else [])

    def on_fit_start(self) -> None:
        self._translate_step_budget()

    def _translate_step_budget(self) -> None:
        """Make trainer.max_steps / min_steps count iterations (see the module docstring)."""
        trainer, k = self.trainer, self.steps_per_iteration
        loop = trainer.fit_loop.epoch_loop
        if self._budget_for == (id(trainer), loop.max_steps):
            return  # already translated for this trainer
        if loop.max_steps > 0:
            iterations = loop.max_steps
            loop.max_steps = iterations * k
            log.info(
                "GAN: trainer.max_steps=%d counts iterations (batches); Lightning counts %d optimizer "
                "steps per iteration, so the loop stops after %d optimizer steps.",
                iterations,
                k,
                loop.max_steps,
            )
        if loop.min_steps:
            loop.min_steps = loop.min_steps * k
        self._budget_for = (id(trainer), loop.max_steps)
        for callback in trainer.checkpoint_callbacks:
            every = getattr(callback, "_every_n_train_steps", 0)
            if every and every % k:
                log.warning(
                    "ModelCheckpoint(every_n_train_steps=%d) counts optimizer steps (%d per GAN "
                    "iteration); use a multiple of %d or every_n_epochs.",
                    every,
                    k,
                    k,
                )

    def configure_optimizers(self) -> Any:
        g_opt = self.g_optimizer_factory(params=self.generator.parameters())
        d_opt = self.d_optimizer_factory(params=self.discriminator.parameters())
        interval = self.hparams.scheduler_interval
        total = (
            self.trainer.estimated_stepping_batches
            if interval == "step"
            else self.trainer.max_epochs
        )
        schedulers = []
        for name, factory, opt in (
            ("g", self.g_scheduler_factory, g_opt),
            ("d", self.d_scheduler_factory, d_opt),
        ):
            if factory is not None:
                scheduler = build_scheduler(factory, opt, int(total))
                schedulers.append(
                    {"scheduler": scheduler, "interval": interval, "name": f"lr-{name}"}
                )
        return ([g_opt, d_opt], schedulers) if schedulers else [g_opt, d_opt]

    # ------------------------------------------------------------------ training
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        real, labels = batch
        if not self._range_checked:
            self._check_real_range(real)
        labels = labels if self.hparams.conditional else None
        g_opt, d_opt = self.optimizers()
        d_logs = [
            self._discriminator_step(real, labels, d_opt) for _ in range(self.hparams.n_critic)
        ]
        g_logs = self._generator_step(real.shape[0], labels, g_opt)
        self._update_ema()
        if self.hparams.scheduler_interval == "step":
            self._step_schedulers()
        logs = {k: torch.stack([d[k] for d in d_logs]).mean() for k in d_logs[0]}
        logs.update(g_logs)
        shown = {f"train/{k}": logs.pop(k) for k in ("d_loss", "g_loss")}
        self.log_dict(shown, on_step=True, on_epoch=False, prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in logs.items()}, on_step=True, on_epoch=False)
        self.log_dict(
            {f"train/{k}_grad_norm": v for k, v in self._grad_norms.items()},
            on_step=True,
            on_epoch=False,
        )
        logs.update({k.removeprefix("train/"): v for k, v in shown.items()})
        return {k: v for k, v in logs.items() if k not in ("d_real", "d_fake")}

    def _discriminator_step(
        self, real: torch.Tensor, labels: torch.Tensor | None, opt: Any
    ) -> dict[str, torch.Tensor]:
        hp = self.hparams
        with self.toggled_optimizer(opt):
            with torch.no_grad():
                fake = self.generator(self._noise(real.shape[0]), labels)
            real_in, fake_in = self.augment(real), self.augment(fake)
            if hp.r1_gamma > 0:
                real_in = real_in.detach().requires_grad_(True)
            real_out = self.discriminator(real_in, labels).float()
            fake_out = self.discriminator(fake_in, labels).float()
            loss = self.loss_fn.discriminator(real_out, fake_out)
            logs = {"d_loss": loss.detach()}
            total = loss
            if hp.r1_gamma > 0:
                r1 = r1_penalty(real_out, real_in)
                total = total + 0.5 * hp.r1_gamma * r1
                logs["r1"] = r1.detach()
            if hp.gp_weight > 0:
                gp = gradient_penalty(lambda x: self.discriminator(x, labels), real_in, fake_in)
                total = total + hp.gp_weight * gp
                logs["gp"] = gp.detach()
            opt.zero_grad(set_to_none=True)
            self.manual_backward(total)
            opt.step()
            opt.zero_grad(set_to_none=True)  # no stale gradients lie around during the other step
        logs["d_real"] = self.loss_fn.score(real_out.detach()).mean()
        logs["d_fake"] = self.loss_fn.score(fake_out.detach()).mean()
        return logs

    def _generator_step(
        self, n: int, labels: torch.Tensor | None, opt: Any
    ) -> dict[str, torch.Tensor]:
        with self.toggled_optimizer(opt):
            fake = self.generator(self._noise(n), labels)
            fake_out = self.discriminator(self.augment(fake), labels).float()
            loss = self.loss_fn.generator(fake_out)
            opt.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return {"g_loss": loss.detach()}

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Called by the precision plugin after AMP unscaling: the right place to measure and clip."""
        g_opt, _ = self.optimizers()
        name = "g" if optimizer is getattr(g_opt, "optimizer", g_opt) else "d"
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if grads:
            self._grad_norms[name] = torch.nn.utils.get_total_norm(grads).detach()
        if self.hparams.gradient_clip_val:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.hparams.gradient_clip_val,
                gradient_clip_algorithm=self.hparams.gradient_clip_algorithm,
            )

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema = self.generator_ema
        if ema is None:
            return
        ema_params, params = list(ema.parameters()), list(self.generator.parameters())
        if self.iteration <= self.hparams.ema_start:
            torch._foreach_copy_(ema_params, params)
        else:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.hparams.ema_decay)
        for b_ema, b in zip(ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)

    def _step_schedulers(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def on_train_epoch_end(self) -> None:
        if self.hparams.scheduler_interval == "epoch":
            self._step_schedulers()

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
        fake = self.generator(z, labels)
        real_out = self.discriminator(real, labels).float()
        fake_out = self.discriminator(fake, labels).float()
        values = {
            "d_loss": self.loss_fn.discriminator(real_out, fake_out),
            "g_loss": self.loss_fn.generator(fake_out),
            "d_real": self.loss_fn.score(real_out).mean(),
            "d_fake": self.loss_fn.score(fake_out).mean(),
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
        return self.generator_ema if use_ema and self.generator_ema is not None else self.generator

    def sample_labels(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor | None:
        """Labels for n samples: None for an unconditional model; balanced (i % num_classes)
        when not given; else the given ones, checked."""
        num_classes = self.hparams.num_classes
        if not self.hparams.conditional:
            if labels is not None:
                raise ValueError("this GAN is unconditional; do not pass labels")
            return None
        if labels is None:
            return torch.arange(n, device=self.device) % num_classes
        labels = torch.as_tensor(labels, device=self.device).long().flatten()
        if labels.numel() != n:
            raise ValueError(f"got {labels.numel()} labels for {n} samples")
        if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"labels must be in [0, {num_classes - 1}]")
        return labels

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
        net = self.sampling_generator(use_ema)
        labels = self.sample_labels(z.shape[0], labels)
        z = z.to(self.device)
        was_training = net.training
        net.eval()
        try:
            chunks = [
                net(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
                for i in range(0, z.shape[0], batch_size)
            ]
        finally:
            net.train(was_training)
        shape = (0, *self.hparams.image_shape)
        images = torch.cat(chunks) if chunks else torch.empty(shape, device=self.device)
        return images.float().clamp_(-1.0, 1.0).contiguous()

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

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the random number generators' states so a resumed run draws the same noise and
        data order as an uninterrupted one (tensors only: loads with weights_only=True)."""
        states = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            states["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint[RNG_KEY] = states

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(RNG_KEY)
        trainer = self._trainer
        if not states or (trainer is not None and trainer.world_size > 1):
            return  # DDP ranks keep their own streams (seed + rank); rank 0's state would merge them
        torch.set_rng_state(states["torch"])
        if (
            "cuda" in states
            and torch.cuda.is_available()
            and len(states["cuda"]) == torch.cuda.device_count()
        ):
            torch.cuda.set_rng_state_all(states["cuda"])
