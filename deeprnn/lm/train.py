"""The training loop. It speaks only the LMEngine interface, so every engine trains the same way.

One step: batch -> forward + backward -> clip -> (skip if not finite) -> optimizer step at the
scheduled learning rate. Every ``eval_every`` steps: validation over the whole split, metrics to
metrics.jsonl, the plot, the best model, and a checkpoint. A run stops at ``max_steps``, at the time
budget, on early stopping, or on Ctrl-C (after finishing the current step and saving); ``resume``
continues from the checkpoint and ends with exactly the weights an uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DeeprnnError
from . import checkpoint as ck
from .average import WeightAverage
from .config import RunConfig
from .data import LMData, prepare_data
from .engine import LMEngine, make_engine
from .evaluate import Score, uniform
from .runs import fitting_config
from .schedule import learning_rate


PLOT_EVERY = 30.0  # seconds between redraws of curves.png during training (drawing takes ~1 s)


class TrainingError(DeeprnnError):
    """Training cannot go on (for example, the loss keeps diverging)."""


@dataclass
class Progress:
    """What trainer_state.json records besides the checksums and the RNG state."""

    step: int = 0  # completed training steps (batches consumed)
    tokens: int = 0  # training tokens consumed
    seconds: float = 0.0  # training wall time, summed over resumed sessions
    best_val_loss: float = math.inf
    best_step: int = -1
    bad_evals: int = 0  # evaluations in a row without improvement (early stopping)
    skipped: int = 0  # steps skipped by the NaN/Inf guard, in total
    ema_updates: int = 0  # updates of the weight average (train.ema)
    stop_reason: str = ""
    extra: dict = field(default_factory=dict)


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir, *, resume: bool = False, overwrite: bool = False,
                 progress_bar: bool = True, log=None):
        self.cfg, self.run = cfg, Path(run_dir)
        self.progress_bar = progress_bar
        self._log = log or _stderr
        self._stop = False
        if resume:
            self._open_existing()
        else:
            self._check_fresh(overwrite)
            self.data: LMData = prepare_data(self.cfg.data, self.cfg.train)
        # Creating the engine joins the process group when distributed: every process has passed the
        # checks above before rank 0 writes anything below.
        self.engine: LMEngine = make_engine(cfg.model, cfg.train, len(self.data.vocab))
        self.is_main = self.engine.rank == 0
        self.prog = Progress()
        self.carry = None  # recurrent state carried into the next batch; None means zeros
        self.ema = WeightAverage(self.engine.state_dict(), cfg.train.ema) if cfg.train.ema else None
        if resume:
            with fitting_config(self.run):  # a config.json edited since: one line naming the run
                self._restore(ck.load_checkpoint(self.run))
        if self.is_main:
            self._write_run_files(fresh=not resume)
        self.batcher = self.data.train_batcher(cfg.train)

    # -- run folder ----------------------------------------------------------------------------------
    def _check_fresh(self, overwrite: bool) -> None:
        self._overwrite = overwrite
        if ((self.run / ck.STATE).exists() or (self.run / ck.CONFIG).exists()) and not overwrite:
            raise TrainingError(f"{self.run} already holds a run; resume it with --resume {self.run} "
                                "or replace it with --overwrite")
        if self.run.exists() and not self.run.is_dir():
            raise TrainingError(f"{self.run}: expected a folder for the run, got a file")

    def _write_run_files(self, fresh: bool) -> None:
        if fresh:
            for name in (ck.STATE, ck.MODEL, ck.OPTIM, "metrics.jsonl", "curves.png", "best/" + ck.MODEL):
                (self.run / name).unlink(missing_ok=True)
            self.run.mkdir(parents=True, exist_ok=True)
            self.data.vocab.to_json(self.run / ck.VOCAB)
        ck.write_json(self.run / ck.CONFIG, {**self.cfg.to_dict(), "corpus_sha256": self.data.fingerprint})

    def _open_existing(self) -> None:
        from ..data import Vocab

        saved = ck.read_json(self.run / ck.CONFIG, "run config")
        fingerprint = saved.get("corpus_sha256")
        self.data = prepare_data(self.cfg.data, self.cfg.train, vocab=Vocab.from_json(self.run / ck.VOCAB))
        if fingerprint and fingerprint != self.data.fingerprint:
            raise TrainingError(f"{self.run}: expected the corpus it was trained on (SHA-256 {fingerprint[:12]}…), "
                                f"got a different text ({self.data.fingerprint[:12]}…)")

    def _restore(self, c: ck.Checkpoint) -> None:
        known = Progress.__dataclass_fields__
        self.prog = Progress(**{k: v for k, v in c.state.get("progress", {}).items() if k in known})
        self.prog.stop_reason = ""
        self.engine.load_state_dict(c.model)
        carry = {k[6:]: v for k, v in c.optimizer.items() if k.startswith("carry.")}
        ema = {k[4:]: v for k, v in c.optimizer.items() if k.startswith("ema.")}
        self.engine.load_optimizer_state_dict({k: v for k, v in c.optimizer.items()
                                               if not k.startswith(("carry.", "ema."))})
        if self.ema is not None:
            self.ema.load(ema, self.prog.ema_updates)
        self.engine.set_rng_state(c.state["rng"])
        self.carry = self.engine.carry_from_numpy(carry) if carry else None
        if self.is_main:
            _truncate_metrics(self.run / "metrics.jsonl", self.prog.step)

    def save(self) -> None:
        """Every process gathers its part (collective calls); rank 0 writes."""
        optim = self.engine.optimizer_state_dict()
        if self.ema is not None:
            optim.update({f"ema.{k}": v for k, v in self.ema.params.items()})
            self.prog.ema_updates = self.ema.n
        if self.carry is not None:
            optim.update({f"carry.{k}": v for k, v in self.engine.carry_to_numpy(self.carry).items()})
        state = {"step": self.prog.step, "progress": self.prog.__dict__, "rng": self.engine.rng_state()}
        if self.is_main:
            ck.save_checkpoint(self.run, self.engine.state_dict(), optim, state)

    # -- the loop ----------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until a stop condition; returns the summary (see summary())."""
        clean = False
        try:
            summary = self._fit()
            digests = self.engine.gather(ck.params_digest(self.engine.state_dict()))
            if len(digests) > 1:
                summary.update(processes=len(digests), ranks_identical=len(set(digests)) == 1)
            clean = True
            return summary
        finally:
            self.engine.close(clean)

    def _fit(self) -> dict:
        t = self.cfg.train
        self._t0, self._base_seconds, start_step = time.perf_counter(), self.prog.seconds, self.prog.step
        self._last_plot, self._plotted_step = -math.inf, None
        self.log(f"[train] {self.data.describe()} | {self.engine.name} engine, {self.cfg.model.cell.upper()} "
                 f"{self.cfg.model.num_layers}x{self.cfg.model.hidden_size}, {self.num_parameters():,} parameters")
        if self.prog.step >= t.max_steps:
            self.log(f"[train] already at step {self.prog.step} of max_steps={t.max_steps}; nothing to do")
        window = _Window()
        bar = _progress_bar(self.progress_bar and self.is_main, t.max_steps, self.prog.step)
        batches = self.batcher.iterate(start_step=self.prog.step)
        last_eval = self.prog.step
        bad_in_row = 0
        with _threads(self.engine, t.threads), _graceful_interrupt(self):
            while self.prog.step < t.max_steps:
                over_budget = bool(t.time_budget) and time.perf_counter() - self._t0 >= t.time_budget
                if self.engine.any_rank(over_budget or self._stop):  # every process stops at the same step
                    self.prog.stop_reason = f"time budget of {t.time_budget:g} s reached" if over_budget else "interrupted"
                    break
                batch = next(batches)
                state = self.carry if batch.carry else None
                loss, final = self.engine.forward_backward(batch.x, batch.y, state)
                norm = self.engine.clip(t.clip, t.clip_value)
                self.prog.step += 1
                self.prog.tokens += batch.x.size
                if math.isfinite(loss) and math.isfinite(norm):
                    self.engine.optimizer_step(learning_rate(self.prog.step - 1, t))
                    if self.ema is not None:
                        self.ema.update(self.engine.state_dict())
                    self.carry = final
                    window.add(loss, batch.x.size)
                    bad_in_row = 0
                else:
                    self.carry, bad_in_row = None, bad_in_row + 1
                    self.prog.skipped += 1
                    self._metric({"step": self.prog.step, "skipped": True, "loss": loss, "grad_norm": norm})
                    self.log(f"[train] step {self.prog.step}: non-finite loss {loss} or gradient norm {norm}; "
                             "step skipped, state reset")
                    if bad_in_row >= t.max_bad_steps:
                        raise TrainingError(
                            f"stopped: {bad_in_row} steps in a row had a non-finite loss or gradient (last at step "
                            f"{self.prog.step}); try a lower --lr or clipping. The last good checkpoint in {self.run} "
                            "is intact")
                bar.update(1)
                bar.set_postfix(loss=f"{window.last:.3f}", ppl=f"{math.exp(min(window.last, 50)):.2f}",
                                tok_s=f"{(self.prog.step - start_step) * batch.x.size / (time.perf_counter() - self._t0):,.0f}",
                                refresh=False)
                if self.prog.step % t.eval_every == 0:
                    self._checkpoint(window)
                    last_eval = self.prog.step
                    if t.patience and self.prog.bad_evals >= t.patience:
                        self.prog.stop_reason = f"early stopping: no improvement in {t.patience} evaluations"
                        break
            bar.close()
            if self.prog.step == start_step > 0:  # a resumed run with nothing left to do: report, change nothing
                with self._averaged_weights():
                    self._last_val = self.data.score(self.engine, "val", self.cfg.train)
            elif self.prog.step != last_eval or self.prog.step == start_step:
                self._checkpoint(window)
            if self.is_main and self._plotted_step != self.prog.step and (self.run / "metrics.jsonl").exists():
                self._draw()  # the final picture
        if not self.prog.stop_reason:
            self.prog.stop_reason = f"max_steps={t.max_steps} reached"
        return self.summary()

    def _checkpoint(self, window: "_Window") -> None:
        """Validate, log, plot, keep the best model, and save a checkpoint."""
        with self._averaged_weights():
            val = self.data.score(self.engine, "val", self.cfg.train)
            best_weights = self.engine.state_dict() if val.loss < self.prog.best_val_loss else None
        self.prog.seconds = self._base_seconds + time.perf_counter() - self._t0  # wall time, evaluation included
        row = {"step": self.prog.step, "tokens": self.prog.tokens, "seconds": round(self.prog.seconds, 2),
               "lr": learning_rate(max(0, self.prog.step - 1), self.cfg.train), **window.as_dict(),
               **val.as_dict("val")}
        self._last_train = window.score()
        window.reset()
        if val.loss < self.prog.best_val_loss:
            self.prog.best_val_loss, self.prog.best_step, self.prog.bad_evals = val.loss, self.prog.step, 0
        else:
            self.prog.bad_evals += 1
        if self.is_main and self.prog.bad_evals == 0:
            (self.run / "best").mkdir(exist_ok=True)
            ck.save_tensors(self.run / "best" / ck.MODEL, best_weights, ck.MODEL_FORMAT,
                            {"step": self.prog.step, "val_loss": val.loss})
        self._metric(row)
        self.log(f"[eval] step {self.prog.step}: validation perplexity {val.perplexity:.3f} ({val.bits:.3f} "
                 f"bits/{self.cfg.data.tokens}), training {self._last_train.perplexity:.3f}"
                 + (" | best so far" if self.prog.bad_evals == 0 else ""))
        self._last_val = val
        self.save()
        if self.is_main and time.perf_counter() - self._last_plot >= PLOT_EVERY:
            self._draw()

    @contextmanager
    def _averaged_weights(self):
        """Evaluate with the averaged weights when train.ema is set (the raw weights go on training)."""
        if self.ema is None:
            yield
            return
        raw = self.engine.state_dict()
        self.engine.load_state_dict(self.ema.params)
        try:
            yield
        finally:
            self.engine.load_state_dict(raw)

    def _draw(self) -> None:
        _plot(self.run)
        self._last_plot, self._plotted_step = time.perf_counter(), self.prog.step

    def log(self, msg: str) -> None:
        if getattr(self, "is_main", True):
            self._log(msg)

    def _metric(self, row: dict) -> None:
        if not self.is_main:
            return
        with open(self.run / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def num_parameters(self) -> int:
        return sum(v.size for v in self.engine.state_dict().values())

    def summary(self) -> dict:
        val = getattr(self, "_last_val", None)
        train = getattr(self, "_last_train", None)
        V = len(self.data.vocab)
        out = {"run": str(self.run), "steps": self.prog.step, "tokens": self.prog.tokens,
               "seconds": round(self.prog.seconds, 2), "stop_reason": self.prog.stop_reason, "vocab_size": V,
               "uniform_ppl": float(V), "uniform_bpc": uniform(V).bits, "best_step": self.prog.best_step}
        if train is not None:
            out.update(train_ppl=train.perplexity, train_bpc=train.bits)
        if val is not None:
            scope = "the d2l validation windows" if self.cfg.data.protocol == "d2l" else "the whole split"
            out.update(val_ppl=val.perplexity, val_bpc=val.bits, val_tokens=val.tokens, val_scope=scope)
        return out

    def request_stop(self) -> None:
        self._stop = True


class _Window:
    """Running mean of the training loss between evaluations."""

    def __init__(self):
        self.reset()
        self.last = math.nan

    def reset(self):
        self.total, self.tokens = 0.0, 0

    def add(self, loss: float, tokens: int):
        self.total += loss * tokens
        self.tokens += tokens
        self.last = loss

    def score(self) -> Score | None:
        return Score(self.total / self.tokens, self.tokens) if self.tokens else None

    def as_dict(self) -> dict:
        s = self.score()
        return {} if s is None else {"train_loss": s.loss, "train_ppl": s.perplexity, "train_bpc": s.bits}


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows logged after the checkpoint we resume from (a crash between log and save)."""
    if not path.exists():
        return
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [r for r in rows if json.loads(r).get("step", 0) <= step]
    if len(kept) != len(rows):
        ck.atomic_write(path, lambda tmp: tmp.write_text("".join(r + "\n" for r in kept), encoding="utf-8"))


def _plot(run: Path) -> None:
    try:
        from .plots import plot_curves
    except ImportError:  # matplotlib not installed: metrics.jsonl still has everything
        return
    plot_curves(run / "metrics.jsonl", run / "curves.png")


def _stderr(msg: str) -> None:
    """Print a log line on stderr, above the progress bar when one is showing."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(msg, file=sys.stderr, flush=True)
    else:
        tqdm.write(msg, file=sys.stderr)


def _progress_bar(enabled: bool, total: int, initial: int):
    try:
        from tqdm import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        return _NoBar()
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False, file=sys.stderr)


class _NoBar:
    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


@contextmanager
def _threads(engine: LMEngine, n: int):
    if n <= 0:
        yield
        return
    limiter = engine.limit_threads(n)
    try:
        yield
    finally:
        if limiter is not None:
            limiter()


@contextmanager
def _graceful_interrupt(trainer: Trainer):
    """First Ctrl-C: finish the current step, save, stop. Second Ctrl-C: stop at once."""
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:  # not the main thread
        yield
        return

    def handler(signum, frame):
        if trainer._stop:
            raise KeyboardInterrupt
        trainer.log("\n[train] interrupted: finishing this step and saving a checkpoint (Ctrl-C again to abort)")
        trainer.request_stop()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
