"""Open a trained run for evaluation or generation, from Python or the command line.

    from deeprnn.lm.runs import open_run
    run = open_run("runs/demo")                 # best weights (or last, which="last")
    run.engine, run.cfg, run.vocab
    data = run.load_data()                      # its corpus, checked against the one it was trained on

config.json holds the RunConfig and, under "corpus_sha256", the fingerprint of the text the run was
trained on (LMData.fingerprint); write_config and read_run_config are its only writer and reader.
Corpus paths are stored absolute (portable_corpus), so a run evaluates, generates and resumes from any
directory; when the text moved, ``--corpus PATH`` points at it (eval, train --resume) and the
fingerprint still checks that it is the same text. Older runs stored paths as given, relative to the
directory they were trained in; they keep working from there.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..data import CorpusError, Vocab
from ..data.corpora import absolute_spec, resolve_spec
from ..errors import ConfigError, DeeprnnError
from . import checkpoint as ck
from .config import RunConfig, merge
from .data import LMData, prepare_data
from .engines import LMEngine, make_engine
from .memory import check_memory
from .requirements import check_requirements

CORPUS_SHA256 = "corpus_sha256"  # config.json: the fingerprint of the corpus the run was trained on


@dataclass
class OpenRun:
    path: Path
    cfg: RunConfig
    vocab: Vocab
    engine: LMEngine
    which: str  # "best" or "last": the weights loaded
    step: int | None  # the training step those weights come from
    corpus_sha256: str | None = None  # fingerprint of the training corpus (config.json); None if not recorded

    def load_data(self) -> LMData:
        """The run's corpus, encoded with its vocabulary; raises CorpusError if the text changed since
        the run was trained."""
        check_corpus_present(self.path, self.cfg.data.corpus)
        data = prepare_data(self.cfg.data, self.cfg.train, vocab=self.vocab)
        check_corpus(self.path, self.corpus_sha256, data)
        return data


def portable_corpus(specs: list) -> list:
    """Corpus specs as config.json keeps them: names as they are, paths and globs absolute."""
    return [absolute_spec(s) for s in specs]


def check_corpus_present(run: Path, specs: list) -> None:
    """Fail, saying how to point at the text, if a corpus file of ``run`` is not where it was."""
    for spec in specs:
        try:
            resolve_spec(spec)
        except CorpusError as e:
            raise CorpusError(f"{run}: the corpus it was trained on is not there ({e}); if the text moved, point at "
                              "it with --corpus PATH (its checksum is still checked)") from None


def write_config(run: Path, cfg: RunConfig, data: LMData) -> None:
    ck.write_json(Path(run) / ck.CONFIG, {**cfg.to_dict(), CORPUS_SHA256: data.fingerprint})


def read_run_config(run: Path) -> tuple[RunConfig, str | None]:
    """(config, fingerprint of the training corpus or None) from RUN/config.json."""
    raw = ck.read_json(Path(run) / ck.CONFIG, "run config")
    fingerprint = raw.pop(CORPUS_SHA256, None)
    source = str(Path(run) / ck.CONFIG)
    try:
        return RunConfig.from_dict(raw, source=source), fingerprint
    except ConfigError as e:  # a damaged or foreign config.json: the run folder's problem, named
        raise ck.CheckpointError(str(e) if str(e).startswith(source) else f"{source}: {e}") from None


def read_config(run: Path) -> RunConfig:
    return read_run_config(run)[0]


def check_corpus(run: Path, expected: str | None, data: LMData) -> None:
    """Fail unless ``data`` is the text the run was trained on (``expected``: the saved fingerprint;
    runs that recorded none are not checked)."""
    if expected and expected != data.fingerprint:
        raise CorpusError(f"{run}: expected the corpus the run was trained on (SHA-256 {expected[:12]}…), "
                          f"got a different text for {', '.join(data.cfg.corpus)} ({data.fingerprint[:12]}…)")


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
    cfg, fingerprint = read_run_config(run)
    cfg.train.distributed = False  # evaluation and generation run in one process, whoever trained the run
    if train_overrides:
        merge(cfg, {"train": train_overrides}, "options")
    check_requirements(cfg.train)
    vocab = Vocab.from_json(run / ck.VOCAB)
    check_memory(cfg.model, cfg.train, len(vocab))
    tensors, meta = ck.load_model(run, which)
    engine = make_engine(cfg.model, cfg.train, len(vocab))
    with fitting_config(run):
        engine.load_state_dict(tensors)
    step = meta.get("step")
    return OpenRun(run, cfg, vocab, engine, "best" if "val_loss" in meta else "last",
                   int(step) if step is not None else None, fingerprint)
