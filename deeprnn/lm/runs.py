"""Open a trained run for evaluation or generation, from Python or the command line.

    from deeprnn.lm.runs import open_run
    run = open_run("runs/demo")                 # best weights (or last, which="last")
    run.engine, run.cfg, run.vocab
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..data import Vocab
from ..errors import ConfigError, DeeprnnError
from . import checkpoint as ck
from .config import RunConfig, merge
from .engine import LMEngine, make_engine
from .requirements import check_requirements


@dataclass
class OpenRun:
    path: Path
    cfg: RunConfig
    vocab: Vocab
    engine: LMEngine
    which: str  # "best" or "last": the weights loaded
    step: int | None  # the training step those weights come from


def read_config(run: Path) -> RunConfig:
    source = str(Path(run) / ck.CONFIG)
    raw = ck.read_json(Path(source), "run config")
    raw.pop("corpus_sha256", None)
    try:
        return RunConfig.from_dict(raw, source=source)
    except ConfigError as e:  # a damaged or foreign config.json: the run folder's problem, named
        raise ck.CheckpointError(str(e) if str(e).startswith(source) else f"{source}: {e}") from None


@contextmanager
def fitting_config(run: Path):
    """Around loading a run's tensors into an engine: the engine's key, shape and dtype checks
    (ValueError, TypeError) become a CheckpointError naming the run, whose config.json does not
    describe those tensors. deeprnn's own errors pass through."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if isinstance(e, DeeprnnError):
            raise
        raise ck.CheckpointError(f"{run}: the weights do not fit its config.json: {e}") from None


def open_run(run, which: str = "best", train_overrides: dict | None = None) -> OpenRun:
    """Load config, vocabulary and weights of ``run``; ``train_overrides`` (e.g. {"engine": "torch"})
    change how it runs, not what it is."""
    run = Path(run)
    if not run.is_dir():
        raise ck.CheckpointError(f"{run}: expected a run folder, got {'a file' if run.exists() else 'no such folder'}")
    cfg = read_config(run)
    cfg.train.distributed = False  # evaluation and generation run in one process, whoever trained the run
    if train_overrides:
        merge(cfg, {"train": train_overrides}, "options")
    check_requirements(cfg.train)
    vocab = Vocab.from_json(run / ck.VOCAB)
    tensors, meta = ck.load_model(run, which)
    engine = make_engine(cfg.model, cfg.train, len(vocab))
    with fitting_config(run):
        engine.load_state_dict(tensors)
    step = meta.get("step")
    return OpenRun(run, cfg, vocab, engine, "best" if "val_loss" in meta else "last",
                   int(step) if step is not None else None)
