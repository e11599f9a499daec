"""What a run needs from this machine, checked before any work starts: the package that reads and writes
run folders, the chosen engine's packages, a GPU for ``--device cuda``, torchrun for ``--distributed`` (and
a batch that splits evenly over its processes).

Each gap is one line that says what to do: a DependencyError (a missing package, with the ``pip install``
line) or a ConfigError (settings this machine or engine cannot run). The engines check the same things
with ValueError and ImportError, as a library does; this module gives them the user's wording before the
corpus is loaded or a process group joined.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from ..errors import ConfigError, DependencyError
from .config import TrainConfig

LM_EXTRA = "pip install 'deeprnn[lm]'"
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def require(module: str, what: str, hint: str = LM_EXTRA) -> ModuleType:
    """``module``, imported; if it is missing, a DependencyError "<what> needs <module>: <hint>"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(f"{what} needs {module}: {hint}") from None


def require_torch() -> ModuleType:
    """torch, or a DependencyError with the torch engine's install hint."""
    from ..torch_engine import INSTALL_HINT, require_torch as import_torch

    try:
        return import_torch()
    except ImportError:
        raise DependencyError(INSTALL_HINT) from None


def check_requirements(t: TrainConfig) -> None:
    """Everything ``t`` (engine, device, distributed) needs from this machine, or the first gap as a
    DependencyError or ConfigError."""
    require("safetensors", "reading and writing run folders")
    check_engine(t)


def check_engine(t: TrainConfig) -> None:
    """What the chosen engine, device and process setting need (make_engine checks this too)."""
    if t.engine == "numpy":
        if t.device == "cuda" or t.distributed:
            raise ConfigError(f"expected --engine torch for {'--device cuda' if t.device == 'cuda' else '--distributed'}, "
                              "got the numpy engine (it runs in one CPU process)")
        return
    torch = require_torch()
    if t.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("expected a CUDA GPU for --device cuda, got none (torch.cuda.is_available() is False); "
                          "use --device cpu or --device auto")
    if t.distributed:
        missing = [v for v in TORCHRUN_ENV if v not in os.environ]
        if missing:
            raise ConfigError(f"expected --distributed under torchrun (environment {', '.join(missing)}), got a plain "
                              "process; launch with: torchrun --nproc_per_node=N -m deeprnn train --engine torch "
                              "--distributed ...")
        processes = int(os.environ["WORLD_SIZE"])
        if t.batch_size % processes:  # each process takes batch_size / processes of the streams
            raise ConfigError(f"expected batch_size divisible by the {processes} processes, got {t.batch_size}")
