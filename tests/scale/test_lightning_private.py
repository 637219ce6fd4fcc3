"""The private Lightning names `cnngan.distributed.lightning_private` relies on still exist and behave as
it expects, and no other module of cnngan imports a private Lightning name.

When a Lightning release breaks one of these, the failure names the private name and the installed
version: update `lightning_private.py` (and the bound in pyproject.toml), not its callers.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import lightning
import pytest
import torch
from lightning.fabric.plugins.environments import LightningEnvironment
from lightning.pytorch.strategies import DDPStrategy as LightningDDPStrategy

from cnngan.distributed.launcher import HydraSubprocessLauncher
from cnngan.distributed.strategy import DDPStrategy

SRC = Path(__file__).resolve().parents[2] / "src" / "cnngan"
SHIM = SRC / "distributed" / "lightning_private.py"
PRIVATE_SIGNATURES = {  # (module, qualified name): parameters as cnngan calls or overrides them
    ("lightning.pytorch.strategies.launchers.launcher", "_Launcher.launch"): [
        "self",
        "function",
        "args",
        "kwargs",
    ],
    ("lightning.pytorch.strategies.launchers.launcher", "_Launcher.kill"): ["self", "signum"],
    ("lightning.pytorch.strategies", "DDPStrategy._configure_launcher"): ["self"],
    ("lightning.pytorch.strategies", "DDPStrategy._setup_model"): ["self", "model"],
}


def broken(name: str, problem: str) -> str:
    return (
        f"Lightning {lightning.__version__}: private `{name}` {problem}. "
        "cnngan.distributed.lightning_private needs updating (tested with Lightning 2.6.6)."
    )


def resolve(module: str, qualname: str) -> Callable:
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        if not hasattr(obj, part):
            pytest.fail(broken(f"{module}.{qualname}", "is gone"))
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(("where", "expected"), PRIVATE_SIGNATURES.items(), ids=str)
def test_private_signature_unchanged(where: tuple[str, str], expected: list[str]) -> None:
    found = list(inspect.signature(resolve(*where)).parameters)
    assert found == expected, broken(".".join(where), f"now takes {found}, not {expected}")


def test_launcher_base_asks_for_what_our_launcher_implements() -> None:
    base = resolve("lightning.pytorch.strategies.launchers.launcher", "_Launcher")
    abstract = set(base.__abstractmethods__)
    implemented = {"is_interactive_compatible", "launch", "kill"}
    assert abstract <= implemented, broken("_Launcher", f"has abstract methods {sorted(abstract)}")
    launcher = HydraSubprocessLauncher(LightningEnvironment(), num_processes=2, num_nodes=1)
    assert isinstance(launcher, base) and launcher.is_interactive_compatible is False


def test_trainer_takes_the_launcher_from_the_hook() -> None:
    """The Trainer calls `_configure_launcher()`, and `Strategy.launcher` returns `_launcher`."""
    trainer = lightning.Trainer(
        strategy=DDPStrategy(process_group_backend="gloo"),
        accelerator="cpu",
        devices=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert isinstance(trainer.strategy.launcher, HydraSubprocessLauncher), broken(
        "Strategy._configure_launcher / Strategy._launcher",
        f"no longer sets the launcher (got {type(trainer.strategy.launcher).__name__})",
    )
    launcher = trainer.strategy.launcher
    assert (launcher.num_processes, launcher.num_nodes) == (2, 1)


def test_ddp_kwargs_are_where_we_set_them() -> None:
    strategy = LightningDDPStrategy(find_unused_parameters=False, static_graph=True)
    kwargs = getattr(strategy, "_ddp_kwargs", None)
    assert kwargs == {"find_unused_parameters": False, "static_graph": True}, broken(
        "DDPStrategy._ddp_kwargs", f"no longer holds the DDP arguments (found {kwargs!r})"
    )


class _TinyModule(lightning.LightningModule):
    def __init__(self, automatic: bool) -> None:
        super().__init__()
        self.automatic_optimization = automatic
        self.layer = torch.nn.Linear(2, 2)


@pytest.mark.parametrize("automatic", [True, False])
def test_find_unused_parameters_reaches_ddp(tmp_path: Path, automatic: bool) -> None:
    """`find_unused_parameters="auto"` set late through `_ddp_kwargs` reaches the real
    DistributedDataParallel (a 1-process gloo group): True exactly for manual optimization."""
    assert not torch.distributed.is_initialized()
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        strategy = DDPStrategy(process_group_backend="gloo", parallel_devices=[torch.device("cpu")])
        strategy.connect(_TinyModule(automatic))
        strategy.configure_ddp()
        ddp = strategy.model
        assert isinstance(ddp, torch.nn.parallel.DistributedDataParallel)
        assert ddp.find_unused_parameters is (not automatic), broken(
            "DDPStrategy._setup_model", "no longer passes `_ddp_kwargs` to DistributedDataParallel"
        )
    finally:
        torch.distributed.destroy_process_group()


def _private_lightning_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lightning"):
            names = [a.name for a in node.names if a.name.startswith("_")]
            if "._" in f".{node.module}" or names:
                found.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.module} {names}")
        elif isinstance(node, ast.Import):
            found += [
                f"{path.relative_to(SRC.parent)}:{node.lineno} {a.name}"
                for a in node.names
                if a.name.startswith("lightning") and "._" in a.name
            ]
    return found


def test_private_lightning_imports_only_in_the_shim() -> None:
    offenders = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if path != SHIM
        for hit in _private_lightning_imports(path)
    ]
    assert not offenders, f"private Lightning imports outside lightning_private.py: {offenders}"
    assert _private_lightning_imports(SHIM), "the shim imports no private name: test is blind"
