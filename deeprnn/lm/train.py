"""The training loop. It speaks only the LMEngine interface, so every engine trains the same way.

One step: batch -> forward + backward -> clip -> (skip if not finite) -> optimizer step at the
scheduled learning rate. Every ``log_every`` steps: a training row in metrics.jsonl (with the step's
per-layer gradient norms, lm/gradnorms.py, which the evaluation rows also carry). Every
``eval_every`` steps: validation over the whole split, metrics to metrics.jsonl, the plot, the best
model, and a checkpoint; ``save_every`` steps and ``save_every_seconds`` add checkpoints without
validation. A run stops at ``max_steps``, at the time budget, on early stopping, or on Ctrl-C or
SIGTERM (after finishing the current step and saving: lm/signals.py); ``resume`` continues from the
checkpoint and ends with exactly the weights an uninterrupted run would have. The run folder is locked
for the whole training (lm/lock.py).
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import contextmanager
from pathlib import Path

from .. import blas_core
from . import checkpoint as ck
from .average import WeightAverage
from .baselines import baselines, describe
from .config import RunConfig
from .data import LMData, prepare_data
from .divergence import bad_loss, bad_step, bad_weights, loss_limit, quiet_numerics, stop_message
from .engines import LMEngine, make_engine
from .evaluate import Score
from .gradnorms import layer_grad_norms
from .lock import check_unlocked, open_for_writing
from .memory import check_memory
from .meter import StepMeter
from .progress import log_line, progress_bar
from .runs import fitting_config, portable_corpus
from .budget import GRACE, BudgetPlanner, describe_fit
from .schedule import learning_rate
from .signals import graceful_stop
from .tally import LossWindow, Progress
from .trainer_files import RunFolder, TrainingError
from .threads import LoadProbe, resolve_threads, using_threads


PLOT_EVERY = 30.0  # seconds between redraws of curves.png during training (drawing takes ~1 s)


class Trainer(RunFolder):
    def __init__(self, cfg: RunConfig, run_dir, *, resume: bool = False, overwrite: bool = False,
                 progress_bar: bool = True, log=None):
        cfg = copy.deepcopy(cfg)  # the caller's stays as it was: fitting a time budget changes max_steps
        self.cfg, self.run = cfg, Path(run_dir)
        self.progress_bar = progress_bar
        self._log = log or log_line
        self._stop = ""  # why a stop was requested ("interrupted", "terminated"); "" = none
        self._probe = LoadProbe()  # the machine's load while we set up: how many threads to use (auto)
        self._lock = None
        if self.run.is_dir():
            check_unlocked(self.run)  # another training holds it: say so before any work
        cfg.data.corpus = portable_corpus(cfg.data.corpus)  # config.json works from any directory
        cfg.data.val_corpus = portable_corpus(cfg.data.val_corpus)
        if resume:
            self.data: LMData = self._open_existing()
        else:
            self._check_fresh(overwrite)
            self.data = prepare_data(self.cfg.data, self.cfg.train)
        # Creating the engine joins the process group when distributed: every process has passed the
        # checks above before rank 0 writes anything below.
        check_memory(cfg.model, cfg.train, len(self.data.vocab), self.data)  # before anything large is allocated
        self.engine: LMEngine = make_engine(cfg.model, cfg.train, len(self.data.vocab))
        self.is_main = self.engine.rank == 0
        if self.is_main:  # held until fit() ends; also removes what killed writers left
            self._lock = open_for_writing(self.run, fresh=not resume)
        try:
            self._set_up(resume)
        except BaseException:
            self._unlock()
            raise

    def _set_up(self, resume: bool) -> None:
        cfg = self.cfg
        self.prog = Progress()
        self.carry = None  # recurrent state carried into the next batch; None means zeros
        self.ema = WeightAverage(self.engine.state_dict(), cfg.train.ema) if cfg.train.ema else None
        self.threads, self._recorded_threads = None, None  # threads used (None: as they were); from the checkpoint
        if resume:
            with fitting_config(self.run):  # a config.json edited since: one line naming the run
                self._restore(ck.load_checkpoint(self.run))
        self._saved_step = self.prog.step if resume else None  # the step of the checkpoint on disk, if any
        self._loss_limit = loss_limit(len(self.data.vocab))  # losses above it are absurd (lm/divergence.py)
        if self.is_main:
            self._write_run_files(fresh=not resume)
        self.batcher = self.data.train_batcher(cfg.train)  # checks that the text holds its batches
        self.baselines = baselines(self.data, cfg.train)  # uniform and unigram (lm/baselines.py)
        # One training session (one fit() call); _start_session sets these.
        self._t0 = time.perf_counter()  # when the session started
        self._base_seconds = self.prog.seconds  # training time of the sessions before
        self._start_step = self.prog.step  # the step the session started at
        self._window = LossWindow()  # training loss since the last evaluation
        self._meter = StepMeter(cfg.train)  # gradient norms and tokens/s since the last log row and evaluation
        self._norm = math.nan  # the global gradient norm of the last step, before clipping
        self._layer_norms: tuple[int, dict] = (-1, {})  # (step, per-layer gradient norms before clipping)
        self._bad_in_row = 0  # consecutive steps skipped by the NaN/Inf guard
        self._last_plot, self._plotted_step = -math.inf, None  # when curves.png was drawn, at which step
        self._last_val: Score | None = None  # the last validation score
        self._last_train: Score | None = None  # the training loss over the last evaluation window
        self._last_save = time.perf_counter()  # when the last checkpoint was written (save_every_seconds)

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
            self._unlock()
            self.engine.close(clean)

    def _fit(self) -> dict:
        t = self.cfg.train
        self._start_session()
        bar = progress_bar(self.progress_bar and self.is_main, t.max_steps, self.prog.step)
        batches = self.batcher.iterate(start_step=self.prog.step)
        last_eval = self.prog.step
        with using_threads(self.engine, self.threads), graceful_stop(self), quiet_numerics():  # the guard reports
            while self.prog.step < t.max_steps and not self._should_stop():
                started = time.perf_counter()
                batch = next(batches)
                self._train_step(batch)
                self._measure(batch.x.size, time.perf_counter() - started)
                if self._planner is not None:
                    self._fit_to_budget(bar, batch.x.size)
                self._show_progress(bar, batch.x.size)
                if self._log_due():
                    self._metric({"step": self.prog.step, **self._training_row()})
                if self.prog.step % t.eval_every == 0:
                    self._checkpoint()
                    last_eval = self.prog.step
                    if self._early_stop():
                        break
                elif self._save_due():
                    self.save()
            bar.close()
            self._finish_session(last_eval)
        if not self.prog.stop_reason:
            fitted = " (fitted to the time budget)" if self.prog.planned_steps else ""
            self.prog.stop_reason = f"max_steps={t.max_steps} reached{fitted}"
        return self.summary()

    def _start_session(self) -> None:
        t = self.cfg.train
        self._t0, self._base_seconds, self._start_step = time.perf_counter(), self.prog.seconds, self.prog.step
        self._window, self._bad_in_row, self._meter = LossWindow(), 0, StepMeter(t)
        self._last_plot, self._plotted_step = -math.inf, None
        self._planner = None
        if self.prog.planned_steps:  # fitted by an earlier session: keep it, so the schedule stays exact
            t.max_steps = self.prog.planned_steps
        elif t.time_budget and t.fit_budget and self.prog.step < t.max_steps:
            self._planner = BudgetPlanner(t.time_budget)
        self.threads, threads_note = resolve_threads(t.threads, self._probe, self._recorded_threads)
        self.log(f"[train] {self.data.describe()} | {self.engine.name} engine, {self.cfg.model.cell.upper()} "
                 f"{self.cfg.model.num_layers}x{self.cfg.model.hidden_size}, {self.num_parameters():,} parameters, "
                 f"{threads_note}" + (f", {blas_core.note()}" if blas_core.note() else ""))
        self.log(f"[train] {describe(self.baselines, self.data.unit)}")
        if self.prog.step >= t.max_steps:
            self.log(f"[train] already at step {self.prog.step} of max_steps={t.max_steps}; nothing to do")

    def _should_stop(self) -> bool:
        """Whether the time budget is spent or a stop was requested (Ctrl-C), on any process: every
        process stops at the same step."""
        t = self.cfg.train
        over_budget = self._budget_spent()
        if not self.engine.any_rank(over_budget or bool(self._stop)):
            return False
        self.prog.stop_reason = (f"time budget of {t.time_budget:g} s reached" if over_budget
                                 else self._stop or "interrupted")
        return True

    def _budget_spent(self) -> bool:
        """Whether this session's time budget is spent; a run fitted to it (lm/budget.py) stops at its
        steps, and at the budget only once it overruns by GRACE."""
        t = self.cfg.train
        budget = t.time_budget * (GRACE if self.prog.planned_steps else 1.0)
        return bool(t.time_budget) and time.perf_counter() - self._t0 >= budget

    def _train_step(self, batch) -> None:
        """One step: forward + backward -> clip -> if loss and gradient are sound, the optimizer step
        at the scheduled learning rate (and the weight average); otherwise skip it and reset the state.
        Weights that the step made non-finite or absurd stop the run (lm/divergence.py)."""
        t = self.cfg.train
        loss, final = self.engine.forward_backward(batch.x, batch.y, self.carry if batch.carry else None)
        if self._layer_norms_due(self.prog.step + 1):  # before the clip scales the gradients
            self._layer_norms = (self.prog.step + 1, layer_grad_norms(self.engine.gradients()))
        norm = self.engine.clip(t.clip, t.clip_value)
        self._norm = norm
        self.prog.step += 1
        self.prog.tokens += batch.x.size
        why = bad_step(loss, norm, self._loss_limit)
        if why:
            self._skip_step(loss, norm, why)
            return
        self.engine.optimizer_step(learning_rate(self.prog.step - 1, t))
        why = bad_weights(self.engine.max_abs_weight())
        if why:
            raise TrainingError(self._diverged(f"the optimizer step gave {why}"))
        if self.ema is not None:
            self.ema.update(self.engine.state_dict())
        self.carry = final
        self._window.add(loss, batch.x.size)
        self._bad_in_row = 0

    def _skip_step(self, loss: float, norm: float, why: str) -> None:
        """The NaN/Inf guard: log the skipped step; stop after train.max_bad_steps in a row."""
        self.carry, self._bad_in_row = None, self._bad_in_row + 1
        self.prog.skipped += 1
        self._metric({"step": self.prog.step, "skipped": True, "loss": loss, "grad_norm": norm, **self._step_norms()})
        self.log(f"[train] step {self.prog.step}: {why}; step skipped, state reset")
        if self._bad_in_row >= self.cfg.train.max_bad_steps:
            raise TrainingError(self._diverged(f"{self._bad_in_row} steps in a row were skipped, the last for {why}"))

    def _diverged(self, what: str) -> str:
        return stop_message(what, self.prog.step, self.run, self._saved_step, self.prog.best_step, self.cfg)

    def _measure(self, tokens: int, seconds: float) -> None:
        """The step's time and gradient norm into the meter (lm/meter.py)."""
        self.prog.train_seconds += seconds
        if self._planner is not None:
            self._planner.add(seconds)
        self._meter.add(tokens, seconds, self._norm)

    def _fit_to_budget(self, bar, batch_tokens: int) -> None:
        """Once the first steps are timed, fix max_steps to what fits in the time budget (lm/budget.py),
        the same on every process, and record it at once with a checkpoint."""
        t, elapsed = self.cfg.train, time.perf_counter() - self._t0
        if not self.engine.any_rank(self._planner.ready(elapsed)):
            return
        planned = self._planner.fit(self.prog.step, elapsed, t.max_steps, batch_tokens,
                                    len(self.data.split("val")), t.eval_every)
        planned = min(self.engine.gather(planned))
        self.log(describe_fit(planned, t.max_steps, self._planner.step_seconds, t.time_budget))
        self.prog.planned_steps, t.max_steps, self._planner = planned, planned, None
        bar.total = planned
        self.save()

    def _show_progress(self, bar, batch_tokens: int) -> None:
        last = self._window.last
        tok_s = (self.prog.step - self._start_step) * batch_tokens / (time.perf_counter() - self._t0)
        bar.update(1)
        bar.set_postfix(loss=f"{last:.3f}", ppl=f"{math.exp(min(last, 50)):.2f}", tok_s=f"{tok_s:,.0f}",
                        refresh=False)

    def _log_due(self, step: int | None = None) -> bool:
        step = self.prog.step if step is None else step
        return bool(self.cfg.train.log_every) and step % self.cfg.train.log_every == 0

    def _layer_norms_due(self, step: int) -> bool:
        """Whether step ``step`` measures its per-layer gradient norms: with train.log_grad_norms, when a
        training row or an evaluation follows it (also the closing one: at max_steps, after Ctrl-C or
        SIGTERM, when the time budget is spent)."""
        t = self.cfg.train
        return t.log_grad_norms and (self._log_due(step) or step % t.eval_every == 0 or step >= t.max_steps
                                     or bool(self._stop) or self._budget_spent())

    def _step_norms(self) -> dict:
        """The per-layer gradient norms of the step just taken (lm/gradnorms.py), if it measured them."""
        step, norms = self._layer_norms
        return norms if step == self.prog.step else {}

    def _training_row(self) -> dict:
        """The fields of a training row of metrics.jsonl (every log_every steps): "loss" is the mean
        training loss since the row before (absent if every step since was skipped)."""
        loss = self._window.take_recent()
        row = {"tokens": self.prog.tokens, "seconds": round(self._base_seconds + time.perf_counter() - self._t0, 2),
               "lr": learning_rate(max(0, self.prog.step - 1), self.cfg.train), **self._meter.take("log"),
               **self._step_norms()}
        return row if loss is None else {**row, "loss": loss}

    def _save_due(self) -> bool:
        """A checkpoint without validation: every save_every steps, or save_every_seconds after the last."""
        t = self.cfg.train
        due = bool(t.save_every) and self.prog.step % t.save_every == 0
        if t.save_every_seconds:  # every process decides alike (saving gathers from all of them)
            due = self.engine.any_rank(due or time.perf_counter() - self._last_save >= t.save_every_seconds)
        return due

    def _early_stop(self) -> bool:
        patience = self.cfg.train.patience
        if patience and self.prog.bad_evals >= patience:
            self.prog.stop_reason = f"early stopping: no improvement in {patience} evaluations"
            return True
        return False

    def _finish_session(self, last_eval: int) -> None:
        """The closing evaluation and checkpoint (unless the last step had them), and the final plot."""
        if self.prog.step == self._start_step > 0:  # a resumed run with nothing left to do: report, change nothing
            with self._averaged_weights():
                self._last_val = self.data.score(self.engine, "val", self.cfg.train)
        elif self.prog.step != last_eval or self.prog.step == self._start_step:
            self._checkpoint()
        if self.is_main and self._plotted_step != self.prog.step and (self.run / ck.METRICS).exists():
            self._draw()  # the final picture

    def _checkpoint(self) -> None:
        """Validate, log, plot, keep the best model, and save a checkpoint."""
        with self._averaged_weights():
            val = self.data.score(self.engine, "val", self.cfg.train)
            why = bad_loss(val.loss, self._loss_limit)
            if why:  # nothing is saved from these weights
                raise TrainingError(self._diverged(f"the validation gave {why}"))
            best_weights = self.engine.state_dict() if val.loss < self.prog.best_val_loss else None
        self.prog.seconds = self._base_seconds + time.perf_counter() - self._t0  # wall time, evaluation included
        row = {"step": self.prog.step, "tokens": self.prog.tokens, "seconds": round(self.prog.seconds, 2),
               "lr": learning_rate(max(0, self.prog.step - 1), self.cfg.train), **self._window.as_dict(),
               **self._meter.take("eval"), **self._step_norms(), **val.as_dict("val")}
        self._last_train = self._window.score()
        self._window.reset()
        if val.loss < self.prog.best_val_loss:
            self.prog.best_val_loss, self.prog.best_step, self.prog.bad_evals = val.loss, self.prog.step, 0
        else:
            self.prog.bad_evals += 1
        if self.is_main and self.prog.bad_evals == 0:
            ck.save_best_model(self.run, best_weights, self.prog.step, val.loss)
        self._metric(row)
        train = "every step since the last evaluation skipped" if self._last_train is None else \
            f"{self._last_train.perplexity:.3f}"
        self.log(f"[eval] step {self.prog.step}: validation perplexity {val.perplexity:.3f} ({val.bits:.3f} "
                 f"bits/{self.data.unit}), training {train}" + (" | best so far" if self.prog.bad_evals == 0 else ""))
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
        if self.is_main:
            self._log(msg)

    def _metric(self, row: dict) -> None:
        if self.is_main:
            ck.append_metrics(self.run, row)

    def num_parameters(self) -> int:
        return sum(v.size for v in self.engine.state_dict().values())

    def summary(self) -> dict:
        val, train = self._last_val, self._last_train
        V, p = len(self.data.vocab), self.prog
        speed = round(p.tokens / p.train_seconds, 1) if p.train_seconds else None  # tokens/s of training time
        out = {"run": str(self.run), "steps": p.step, "tokens": p.tokens, "threads": self.threads,
               "seconds": round(p.seconds, 2), "train_seconds": round(p.train_seconds, 6), "tokens_per_s": speed,
               "stop_reason": p.stop_reason, "vocab_size": V, **self.baselines, "best_step": self.prog.best_step}
        if train is not None:
            out.update(train_ppl=train.perplexity, train_bpc=train.bits)
        if val is not None:
            scope = "the d2l validation windows" if self.cfg.data.protocol == "d2l" else "the whole split"
            out.update(val_ppl=val.perplexity, val_bpc=val.bits, val_tokens=val.tokens, val_scope=scope)
        return out

    def request_stop(self, reason: str = "interrupted") -> None:
        """Stop after the current step, with a checkpoint (what the first Ctrl-C or SIGTERM does)."""
        self._stop = reason

    @property
    def stop_requested(self) -> bool:
        return bool(self._stop)


def _plot(run: Path) -> None:
    try:
        from .plots import plot_curves
    except ImportError:  # matplotlib not installed: metrics.jsonl still has everything
        return
    plot_curves(run / ck.METRICS, run / ck.CURVES)
