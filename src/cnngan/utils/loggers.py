"""Logger factories referenced by conf/logger/*.yaml."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def wandb_has_credentials() -> bool:
    """True when W&B could log online: an API key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return netrc.netrc(netrc_path).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str = "auto") -> str:
    """'auto' -> WANDB_MODE if set, else 'online' for a logged-in user, else 'offline'."""
    if mode not in {"auto", "online", "offline", "disabled"}:
        raise ValueError(f"logger.wandb.mode={mode!r}; choose auto, online, offline or disabled")
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_has_credentials() else "offline"


def wandb_logger(mode: str = "auto", save_dir: str = ".", **kwargs: Any):  # noqa: ANN201
    """A Lightning WandbLogger that works without an account: offline unless credentials exist.

    Offline runs are written to `<save_dir>/wandb/offline-run-*`; upload them later with
    `wandb sync <that folder>`.
    """
    from lightning.pytorch.loggers import WandbLogger

    resolved = resolve_wandb_mode(mode)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    return WandbLogger(save_dir=save_dir, mode=resolved, **kwargs)
