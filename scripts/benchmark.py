"""Side-by-side training-speed benchmark: a plain PyTorch loop against cnngan (`make bench`).

For the classifier (default experiment: CNN on Fashion-MNIST) and the GAN (experiment gan_dcgan:
DCGAN, non-saturating loss, 1 D step + 1 G step per iteration, EMA of G), in ONE process:

  plain    a hand-written PyTorch loop over the data already in memory (uint8 tensors, a random
           permutation per epoch, each batch converted to float and normalized, NCHW float32,
           torch's default optimizer implementation), with the same nets (built from the same
           config), optimizer, scheduler, batch size and number of steps;
  cnngan   the project's config composition, `ImageDataModule` and `lightning.Trainer.fit` with
           the model's own training_step (metrics, self.log, grad norms, ...). The trainer runs
           WITHOUT progress bar, checkpointing, logger, model summary and validation, so the
           figure is the training loop; start-up measures the rest;
  cnngan+X the same with one speed switch (a config override) on; cnngan+fast the
           experiment=<name>_fast config that turns on every switch that helped here.

Each contender runs `--warmup` steps (not timed: first-call allocation, compilation) then `--steps`
timed steps. In each of `--rounds` rounds every cnngan contender runs back to back with a plain
run (which one goes first alternates, the contenders' order rotates); a ratio is the median over
rounds of (contender / its paired plain run), so load changes on a shared machine hit both sides
of a pair. images/s are medians over rounds. Torch threads are pinned (`--threads`). The same
ratios of images per CPU second of the process are reported too: on a busy machine they move far
less than wall-clock ones.

Peak memory: the plain loop and the `--rss-switches` contenders also run once alone in a fresh
subprocess each (`--probe`), which reports its own peak RSS (VmHWM; in one process the peak never
goes down, so it would only show the largest contender; the plain one imports no Lightning).
Start-up: a real `cnngan-train` subprocess of each experiment with the first_step_timer callback
prints the seconds from process start to its first optimizer step.

    python scripts/benchmark.py                          # everything (~15 min on 2 quiet cores)
    python scripts/benchmark.py --tasks classifier --switches default,fast --rounds 3
    python scripts/benchmark.py --profile                # + pyinstrument/cProfile of cnngan
Results: logs/bench/<timestamp>/results.json (+ profiles).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO / "src"))

from cnngan.utils.speed import machine_info, peak_rss_mb, pin_threads  # noqa: E402

SEED = 42


@dataclass(frozen=True)
class Task:
    experiment: str
    callbacks: str  # the callbacks group of the experiment (for the start-up run)
    switches: dict[str, list[str]]  # name -> config overrides


def _both_optimizers(key: str, value: str) -> list[str]:
    return [f"++model.g_optimizer.{key}={value}", f"++model.d_optimizer.{key}={value}"]


TASKS: dict[str, Task] = {
    "classifier": Task(
        experiment="classifier_cnn",
        callbacks="default",
        switches={
            "default": [],
            "nchw": ["data.channels_last=false"],
            "channels_last": ["data.channels_last=true"],
            "compile": ["model.compile=true"],
            "bf16": ["trainer.precision=bf16-mixed"],
            "foreach": ["++model.optimizer.foreach=true"],
            "fused": ["++model.optimizer.fused=true"],
            "augment": ["data.augment.crop_padding=2", "data.augment.hflip=true"],
            "fast": ["experiment=classifier_cnn_fast"],
        },
    ),
    "gan": Task(
        experiment="gan_dcgan",
        callbacks="gan",
        switches={
            "default": [],
            "nchw": ["data.channels_last=false"],
            "channels_last": ["data.channels_last=true"],
            "compile": ["model.compile=true"],
            "bf16": ["trainer.precision=bf16-mixed"],
            # the default config uses the fused kernel: foreach turns it off
            "foreach": _both_optimizers("foreach", "true") + _both_optimizers("fused", "false"),
            "fused": _both_optimizers("fused", "true"),
            "fast": ["experiment=gan_dcgan_fast"],
        },
    ),
}
DEFAULT_SWITCHES = "default,nchw,compile,bf16,foreach,fused,augment,fast"


# ----------------------------------------------------------------------------- configs and data
def compose(task: str, overrides: list[str], out_dir: Path) -> Any:
    """The run config exactly as `cnngan-train experiment=... <overrides>` would compose it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from cnngan import config_dir

    experiment = [o for o in overrides if o.startswith("experiment=")]
    overrides = (experiment or [f"experiment={TASKS[task].experiment}"]) + [
        o for o in overrides if not o.startswith("experiment=")
    ]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = hydra_compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(REPO)
        cfg.paths.output_dir = cfg.paths.log_dir = str(out_dir)
        cfg.hydra.runtime.output_dir = str(out_dir)
    HydraConfig().set_config(cfg)
    return cfg


_ARRAYS: dict[str, Any] = {}


def load_arrays(cfg: Any) -> Any:
    """The dataset as uint8 tensors, loaded once per process (loading is not what we measure)."""
    from cnngan.data.sources import SOURCES

    if cfg.data.name not in _ARRAYS:
        _ARRAYS[cfg.data.name] = SOURCES[cfg.data.name](
            cfg.data.data_dir, download=cfg.data.download
        )
    return _ARRAYS[cfg.data.name]


def _device() -> Any:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Batches:
    """Plain-loop batching: a fresh random permutation every epoch, uint8 -> normalized float."""

    def __init__(self, cfg: Any, device: Any) -> None:
        import torch

        arrays = load_arrays(cfg)
        self.images, self.labels = arrays.train_x.to(device), arrays.train_y.to(device)
        norm = cfg.data.normalize or {}
        channels = self.images.shape[1]
        self.mean = torch.tensor(norm.get("mean", [0.5] * channels), device=device).view(
            1, -1, 1, 1
        )
        self.std = torch.tensor(norm.get("std", [0.5] * channels), device=device).view(1, -1, 1, 1)
        self.batch_size, self.device = int(cfg.data.batch_size), device
        self.perm, self.pos = torch.randperm(len(self.labels), device=device), 0

    def next(self) -> tuple[Any, Any]:
        import torch

        if self.pos + self.batch_size > len(self.perm):
            self.perm, self.pos = torch.randperm(len(self.labels), device=self.device), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        x = (self.images[idx].float().div_(255.0) - self.mean) / self.std
        return x, self.labels[idx]


def _clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time barely changes when other processes
    take the cores, wall time does."""
    return time.perf_counter(), time.process_time()


def _elapsed(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _timed_loop(
    step: Callable[[], None], warmup: int, steps: int, device: Any
) -> tuple[float, float]:
    """(wall, CPU) seconds taken by `steps` calls of step() after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    _sync(device)
    start = _clock()
    for _ in range(steps):
        step()
    _sync(device)
    return _elapsed(start)


# ----------------------------------------------------------------------------- plain loops
def plain_classifier(cfg: Any, warmup: int, steps: int) -> tuple[float, float]:
    """Hand-written loop: forward, cross-entropy, backward, optimizer and scheduler step."""
    import hydra
    import torch
    import torch.nn.functional as F

    device = _device()
    torch.manual_seed(SEED)
    batches = _Batches(cfg, device)
    net = hydra.utils.instantiate(cfg.model.net).to(device).train()
    opt = hydra.utils.instantiate(default_implementation(cfg.model.optimizer))(
        params=net.parameters()
    )
    sched = None
    if cfg.model.get("scheduler"):
        sched = hydra.utils.instantiate(cfg.model.scheduler)(opt, total_steps=warmup + steps)
    smoothing = float(cfg.model.get("label_smoothing", 0.0))

    def step() -> None:
        x, y = batches.next()
        loss = F.cross_entropy(net(x), y, label_smoothing=smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()

    return _timed_loop(step, warmup, steps, device)


def default_implementation(optimizer_cfg: Any) -> Any:
    """The optimizer config without `fused`/`foreach`: the plain loop always uses torch's default
    implementation, whatever the project's default config turns on."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(optimizer_cfg)
    for key in ("fused", "foreach"):
        plain.pop(key, None)
    return OmegaConf.create(plain)


def plain_gan(cfg: Any, warmup: int, steps: int) -> tuple[float, float]:
    """Hand-written DCGAN iteration: one D step (non-saturating loss on real and detached fake),
    one G step with D frozen, then the EMA of G (as the default GAN config does)."""
    import hydra
    import torch
    import torch.nn.functional as F

    device = _device()
    torch.manual_seed(SEED)
    batches = _Batches(cfg, device)
    m = cfg.model
    if m.loss != "non_saturating" or m.n_critic != 1 or m.r1_gamma or m.gp_weight or m.diffaugment:
        raise ValueError("the plain GAN loop implements only the default recipe of gan_dcgan")
    gen = hydra.utils.instantiate(m.generator).to(device).train()
    disc = hydra.utils.instantiate(m.discriminator).to(device).train()
    ema = copy.deepcopy(gen).requires_grad_(False) if m.ema_decay is not None else None
    g_opt = hydra.utils.instantiate(default_implementation(m.g_optimizer))(params=gen.parameters())
    d_opt = hydra.utils.instantiate(default_implementation(m.d_optimizer))(params=disc.parameters())
    latent = int(m.latent_dim)
    iteration = [0]

    def step() -> None:
        real, _ = batches.next()
        n = real.shape[0]
        with torch.no_grad():
            fake = gen(torch.randn(n, latent, device=device))
        d_loss = F.softplus(-disc(real)).mean() + F.softplus(disc(fake)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        disc.requires_grad_(False)
        g_loss = F.softplus(-disc(gen(torch.randn(n, latent, device=device)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        disc.requires_grad_(True)
        iteration[0] += 1
        if ema is not None:
            with torch.no_grad():
                ema_p, p = list(ema.parameters()), list(gen.parameters())
                if iteration[0] <= m.ema_start:
                    torch._foreach_copy_(ema_p, p)
                else:
                    torch._foreach_lerp_(ema_p, p, 1.0 - m.ema_decay)
                for b_ema, b in zip(ema.buffers(), gen.buffers(), strict=True):
                    b_ema.copy_(b)

    return _timed_loop(step, warmup, steps, device)


PLAIN = {"classifier": plain_classifier, "gan": plain_gan}


# ----------------------------------------------------------------------------- cnngan
def _window_timer(warmup: int, steps: int, device: Any) -> Any:
    import lightning as L

    class WindowTimer(L.Callback):
        """Times training batches warmup+1 .. warmup+steps (end of batch to end of batch, so
        each timed batch includes its data fetch, transfer and transform)."""

        def __init__(self) -> None:
            self.batches, self.start, self.seconds = 0, (0.0, 0.0), None

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            self.batches += 1
            if self.batches == warmup:
                _sync(device)
                self.start = _clock()
            elif self.batches == warmup + steps:
                _sync(device)
                self.seconds = _elapsed(self.start)

    return WindowTimer()


def cnngan_fit(cfg: Any, warmup: int, steps: int, profiler: Any = None) -> tuple[float, float]:
    """cnngan's data module + model + Lightning Trainer; the timed window's (wall, CPU) seconds."""
    import hydra
    import lightning as L

    device = _device()
    L.seed_everything(SEED, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.arrays = load_arrays(cfg)  # skip re-reading the files (not part of the loop)
    model = hydra.utils.instantiate(cfg.model)
    timer = _window_timer(warmup, steps, device)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_steps=warmup + steps,  # GAN: iterations (the GAN module translates them)
        max_epochs=-1,
        min_epochs=None,
        max_time=None,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        profiler=profiler,
    )
    trainer.fit(model, datamodule=datamodule)
    if timer.seconds is None:
        raise RuntimeError(f"training stopped after {timer.batches} of {warmup + steps} batches")
    return timer.seconds


# ----------------------------------------------------------------------------- one measurement
def measure(
    task: str, contender: str, args: argparse.Namespace, out_dir: Path
) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of one contender run, warm-up excluded."""
    switch = (
        "default"
        if contender == "plain"
        else contender.removeprefix("cnngan").lstrip("+") or "default"
    )
    cfg = compose(task, TASKS[task].switches[switch] + _data_override(args), out_dir)
    gc.collect()
    if contender == "plain":
        wall, cpu = PLAIN[task](cfg, args.warmup, args.steps)
    else:
        wall, cpu = cnngan_fit(cfg, args.warmup, args.steps)
    images = args.steps * int(cfg.data.batch_size)
    return images / wall, images / max(cpu, 1e-9)


def _data_override(args: argparse.Namespace) -> list[str]:
    return [f"data={args.data}"] if getattr(args, "data", None) else []


def contender_names(task: str, switches: list[str]) -> list[str]:
    names = ["plain"]
    for s in switches:
        if s not in TASKS[task].switches:
            continue
        names.append("cnngan" if s == "default" else f"cnngan+{s}")
    return names


def run_rounds(
    task: str, switches: list[str], args: argparse.Namespace, out_dir: Path
) -> dict[str, Any]:
    """Every cnngan contender runs side by side with its own plain run, in every round: the pair
    is measured back to back (plain first in even rounds, second in odd ones) and its ratio is
    taken, so that a load change on a shared machine between pairs cancels out. The contenders'
    order rotates from round to round. Ratios of images per CPU second are kept too: they hardly
    move when other processes take the cores."""
    names = contender_names(task, switches)[1:]
    runs: dict[str, list[tuple[float, float]]] = {n: [] for n in ["plain", *names]}
    ratios: dict[str, list[tuple[float, float]]] = {n: [] for n in names}

    def run(name: str, r: int) -> tuple[float, float]:
        wall, cpu = measure(task, name, args, out_dir)
        print(
            f"  [{task} round {r + 1}/{args.rounds}] {name:<22} {wall:8.0f} img/s"
            f" {cpu:8.0f} img/CPU-s",
            flush=True,
        )
        runs[name].append((wall, cpu))
        return wall, cpu

    for r in range(args.rounds):
        shift = r % max(len(names), 1)
        for name in names[shift:] + names[:shift]:
            if r % 2 == 0:
                plain = run("plain", r)
                value = run(name, r)
            else:
                value = run(name, r)
                plain = run("plain", r)
            ratios[name].append((value[0] / plain[0], value[1] / plain[1]))
    result: dict[str, Any] = {}
    for name in ["plain", *names]:
        walls, cpus = [w for w, _ in runs[name]], [c for _, c in runs[name]]
        pairs = ratios.get(name, [(1.0, 1.0)])
        result[name] = {
            "imgs_per_s": statistics.median(walls),
            "ratio": statistics.median(w for w, _ in pairs),
            "imgs_per_cpu_s": statistics.median(cpus),
            "cpu_ratio": statistics.median(c for _, c in pairs),
            "runs_imgs_per_s": [round(v, 1) for v in walls],
            "overrides": []
            if name == "plain"
            else TASKS[task].switches[name.partition("+")[2] or "default"],
        }
        if name in ratios:
            result[name]["ratios"] = [round(w, 3) for w, _ in pairs]
            result[name]["cpu_ratios"] = [round(c, 3) for _, c in pairs]
    return result


# ----------------------------------------------------------------------------- subprocesses
def probe(task: str, contender: str, args: argparse.Namespace, out_dir: Path) -> dict[str, float]:
    """Run one contender alone in this (fresh) process; report its speed and peak RSS."""
    rss_imports = peak_rss_mb()
    imgs, _ = measure(task, contender, args, out_dir)
    return {
        "imgs_per_s": imgs,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_before_run_mb": rss_imports,
        "imported_lightning": "lightning" in sys.modules,
    }


def run_probe(task: str, contender: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--probe", task, contender, "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads), "--out", str(out_dir)]
    cmd += ["--data", args.data] if args.data else []
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=args.timeout)
    for line in done.stdout.splitlines()[::-1]:
        if line.startswith("PROBE "):
            return json.loads(line[len("PROBE ") :])
    return {"error": (done.stderr or done.stdout)[-2000:]}


def run_startup(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Seconds from process start to the first optimizer step of a real `cnngan-train` run of the
    task's experiment (its own callbacks, logger, config printing), read from the line that the
    first_step_timer callback prints; the process is stopped there."""
    from cnngan.callbacks.timing import MARKER

    t = TASKS[task]
    cmd = [sys.executable, "-m", "cnngan.train", f"experiment={t.experiment}"]
    cmd += [f"callbacks=[{t.callbacks},first_step_timer]", f"paths.root_dir={REPO}"]
    cmd += [f"paths.log_dir={out_dir / 'startup'}", *_data_override(args)]
    src = str(REPO / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
    }
    runs = []
    for _ in range(args.startup_runs):
        seconds, tail = _first_step_seconds(cmd, env, MARKER, args.timeout)
        if seconds is None:
            return {"error": tail, "command": " ".join(cmd[1:])}
        runs.append(seconds)
        print(f"  [{task} start-up] {seconds:.2f} s to the first optimizer step", flush=True)
    return {"startup_s": statistics.median(runs), "runs_s": runs, "command": " ".join(cmd[1:])}


def _first_step_seconds(
    cmd: list[str], env: dict[str, str], marker: str, timeout: float
) -> tuple[float | None, str]:
    """Start cmd, wait for `marker <seconds>` on its output, stop it; (seconds, last output)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    try:
        for line in proc.stdout:
            lines = (lines + [line])[-40:]
            if line.startswith(marker):
                return float(line[len(marker) :].strip()), ""
            if time.monotonic() > deadline:
                break
        return None, "".join(lines)[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- augmentation
def augment_micro(n: int = 8192, batch: int = 128) -> dict[str, float]:
    """Crop (padding 2) + flip + normalize of Fashion-MNIST-sized images: cnngan's batched
    transform against torchvision's per-image transforms (what a Dataset.__getitem__ does)."""
    import torch

    from cnngan.data.transforms import BatchTransform

    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8)
    batched = BatchTransform([0.286], [0.353], crop_padding=2, hflip=True)
    start = time.perf_counter()
    for i in range(0, n, batch):
        batched(images[i : i + batch], train=True)
    batched_s = time.perf_counter() - start
    out: dict[str, float] = {"batched_imgs_per_s": n / batched_s}
    try:
        from torchvision.transforms import v2
    except ImportError:
        return out
    per_image = v2.Compose(
        [
            v2.RandomCrop(28, padding=2),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.286], [0.353]),
        ]
    )
    m = n // 4  # per-image work is slow; a quarter of the images is enough to time it
    start = time.perf_counter()
    for i in range(0, m, batch):
        torch.stack([per_image(img) for img in images[i : i + batch]])
    out["per_image_imgs_per_s"] = m / (time.perf_counter() - start)
    out["speedup"] = out["batched_imgs_per_s"] / out["per_image_imgs_per_s"]
    return out


# ----------------------------------------------------------------------------- profiling
def profile_cnngan(task: str, args: argparse.Namespace, out_dir: Path) -> dict[str, str]:
    """Profile the default cnngan contender (pyinstrument when installed, else cProfile)."""
    cfg = compose(task, [], out_dir)
    cnngan_fit(cfg, args.warmup, args.steps)  # warm caches first, as in the timed runs
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        cnngan_fit(cfg, args.warmup, args.steps)
        profiler.stop()
        path = out_dir / f"profile_{task}.txt"
        path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        (out_dir / f"profile_{task}.html").write_text(profiler.output_html())
        return {"tool": "pyinstrument", "text": str(path)}
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    cnngan_fit(cfg, args.warmup, args.steps)
    prof.disable()
    stream = io.StringIO()
    pstats.Stats(prof, stream=stream).sort_stats("cumulative").print_stats(60)
    path = out_dir / f"profile_{task}.txt"
    path.write_text(stream.getvalue())
    return {"tool": "cProfile", "text": str(path)}


# ----------------------------------------------------------------------------- report
def print_table(results: dict[str, Any]) -> None:
    m = results["machine"]
    print("\n" + "=" * 78)
    print(
        f"cnngan benchmark  |  {m['cpu_model']}, {m['usable_cores']} cores, torch {m['torch']}, "
        f"{m['torch_threads']} threads, GPU: {m['gpu'] or 'none'}"
    )
    s = results["settings"]
    print(
        f"{s['rounds']} rounds x {s['steps']} timed steps (+{s['warmup']} warm-up) per contender; medians"
    )
    print("=" * 78)
    print(
        f"{'task':<11}{'contender':<24}{'img/s':>9}{'x plain':>9}{'x plain':>9}{'peak RSS':>10}\n"
        f"{'':<35}{'':>9}{'':>9}{'CPU time':>9}{'MiB':>10}"
    )
    for task in ("classifier", "gan"):
        if task not in results:
            continue
        part = results[task]
        for name, c in part["contenders"].items():
            rss = part["peak_rss_mb"].get(name)
            rss_s = f"{rss:10.0f}" if isinstance(rss, float | int) else f"{'-':>10}"
            print(
                f"{task:<11}{name:<24}{c['imgs_per_s']:9.0f}{c['ratio']:9.3f}"
                f"{c['cpu_ratio']:9.3f}{rss_s}"
            )
        if "startup_s" in part:
            print(f"{task:<11}{'start-up to 1st step':<24}{part['startup_s']:>9.2f}s")
    aug = results.get("augment")
    if aug and "speedup" in aug:
        print(
            f"augment    crop+flip+normalize: batched {aug['batched_imgs_per_s']:.0f} img/s, per-image "
            f"torchvision {aug['per_image_imgs_per_s']:.0f} img/s ({aug['speedup']:.0f}x)"
        )
    print(f"GPU run: {results['gpu_run']}")
    print(f"results: {results['path']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", default="classifier,gan", help="comma-separated: classifier,gan")
    p.add_argument(
        "--switches", default=DEFAULT_SWITCHES, help="cnngan contenders (config switches)"
    )
    p.add_argument("--steps", type=int, default=50, help="timed steps (GAN: iterations) per run")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps before the timed ones")
    p.add_argument("--rounds", type=int, default=3, help="rounds of side-by-side pairs")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: every usable core)")
    p.add_argument(
        "--data", default=None, help="data config for every contender (default: the experiments')"
    )
    p.add_argument(
        "--startup-runs", type=int, default=2, help="cnngan-train start-ups per task (0: skip)"
    )
    p.add_argument(
        "--no-rss", action="store_true", help="skip the per-contender peak-RSS subprocesses"
    )
    p.add_argument(
        "--rss-switches", default="default,fast", help="cnngan contenders probed for RSS"
    )
    p.add_argument(
        "--profile", action="store_true", help="profile the cnngan contender of each task"
    )
    p.add_argument(
        "--out", default=str(REPO / "logs" / "bench"), help="parent folder of the run folder"
    )
    p.add_argument(
        "--augment-images", type=int, default=8192, help="augmentation micro-benchmark size"
    )
    p.add_argument("--timeout", type=int, default=1800, help="seconds per subprocess")
    p.add_argument("--probe", nargs=2, metavar=("TASK", "CONTENDER"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _quiet() -> None:
    """Lightning's per-fit info lines (GPU available, max_steps reached, ...) would bury the table."""
    import logging
    import warnings

    import lightning  # noqa: F401  (sets its loggers to INFO on import: import first)

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(LeafSpec|does not have many workers|TF32).*")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.threads = pin_threads(args.threads or None)
    if args.warmup < 1 or args.steps < 1:
        raise SystemExit("--warmup and --steps must be at least 1")
    if args.probe:  # a fresh process measuring one contender's peak RSS: import nothing extra
        print("PROBE " + json.dumps(probe(*args.probe, args, Path(args.out))), flush=True)
        return {}
    _quiet()
    out_dir = Path(args.out) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5 * args.threads:
        print(
            f"warning: load average {load:.1f} with {args.threads} torch threads: other processes "
            "share the cores, so absolute numbers are low and noisy (ratios of one run still "
            "compare like with like; fewer --threads than busy cores avoids OpenMP stalls)",
            flush=True,
        )
    tasks = [t for t in args.tasks.split(",") if t]
    switches = [s for s in args.switches.split(",") if s]
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            k: getattr(args, k)
            for k in ("steps", "warmup", "rounds", "threads", "startup_runs", "data")
        },
        "path": str(out_dir / "results.json"),
    }
    for task in tasks:
        print(f"== {task}: {', '.join(contender_names(task, switches))}", flush=True)
        contenders = run_rounds(task, switches, args, out_dir / "runs")
        part: dict[str, Any] = {"contenders": contenders, "peak_rss_mb": {}}
        default = contenders.get("cnngan") or next(iter(contenders.values()))
        part["imgs_per_s"], part["ratio"] = default["imgs_per_s"], default["ratio"]
        part["cpu_ratio"] = default["cpu_ratio"]
        part["plain_imgs_per_s"] = contenders["plain"]["imgs_per_s"]
        best = max(
            (n for n in contenders if n != "plain"),
            key=lambda n: contenders[n]["ratio"],
            default=None,
        )
        if best:
            part["best"] = {
                "contender": best,
                **{k: contenders[best][k] for k in ("imgs_per_s", "ratio")},
            }
        if not args.no_rss:
            probed = ["plain"] + [
                n
                for n in contender_names(task, args.rss_switches.split(","))[1:]
                if n in contenders
            ]
            for name in probed:
                found = run_probe(task, name, args, out_dir / "runs")
                part["peak_rss_mb"][name] = found.get("peak_rss_mb", found.get("error"))
                print(f"  [{task} peak RSS] {name:<22} {found}", flush=True)
        if args.startup_runs > 0:
            part["startup"] = run_startup(task, args, out_dir)
            if "startup_s" in part["startup"]:
                part["startup_s"] = part["startup"]["startup_s"]
        if args.profile:
            part["profile"] = profile_cnngan(task, args, out_dir)
        results[task] = part
    results["startup_s"] = results.get("classifier", {}).get("startup_s")
    results["augment"] = augment_micro(args.augment_images) if args.augment_images else {}
    results["gpu_run"] = "done" if results["machine"]["gpu"] else "not done: no GPU on this machine"
    if hasattr(os, "getloadavg"):
        results["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return results


if __name__ == "__main__":
    main()
