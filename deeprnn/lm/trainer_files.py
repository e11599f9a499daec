"""The Trainer's run folder: refusing to overwrite a run, writing its files, reopening it for a resume,
restoring and saving checkpoints (the file formats are in checkpoint.py and runs.py)."""

from __future__ import annotations

import time

from ..errors import DeeprnnError
from . import checkpoint as ck
from .data import LMData, prepare_data
from .runs import check_corpus, check_corpus_present, read_run_config, write_config
from .tally import Progress


class TrainingError(DeeprnnError):
    """Training cannot go on (for example, the loss keeps diverging)."""


class RunFolder:
    """The run-folder half of train.Trainer (it provides cfg, run, data, engine, prog, ema and carry)."""

    def _check_fresh(self, overwrite: bool) -> None:
        if ((self.run / ck.STATE).exists() or (self.run / ck.CONFIG).exists()) and not overwrite:
            raise TrainingError(f"{self.run} already holds a run; resume it with --resume {self.run} "
                                "or replace it with --overwrite")
        if self.run.exists() and not self.run.is_dir():
            raise TrainingError(f"{self.run}: expected a folder for the run, got a file")

    def _write_run_files(self, fresh: bool) -> None:
        if fresh:
            ck.remove_outputs(self.run)
            self.run.mkdir(parents=True, exist_ok=True)
            self.data.vocab.to_json(self.run / ck.VOCAB)
        write_config(self.run, self.cfg, self.data)

    def _open_existing(self) -> LMData:
        from ..data import Vocab

        _, fingerprint = read_run_config(self.run)
        check_corpus_present(self.run, self.cfg.data.corpus + self.cfg.data.val_corpus)
        data = prepare_data(self.cfg.data, self.cfg.train, vocab=Vocab.from_json(self.run / ck.VOCAB))
        check_corpus(self.run, fingerprint, data)
        return data

    def _restore(self, c: ck.Checkpoint) -> None:
        known = Progress.__dataclass_fields__
        self.prog = Progress(**{k: v for k, v in c.state.get("progress", {}).items() if k in known})
        self.prog.stop_reason = ""
        self.engine.load_state_dict(c.model)
        optimizer, carry, average = ck.unpack_optimizer(c.optimizer)
        self.engine.load_optimizer_state_dict(optimizer)
        if self.ema is not None:
            self.ema.load(average, self.prog.ema_updates)
        self.engine.set_rng_state(c.state["rng"])
        self._recorded_threads = c.state.get("threads")
        self.carry = self.engine.carry_from_numpy(carry) if carry else None
        if self.is_main:
            ck.truncate_metrics(self.run, self.prog.step)

    def save(self) -> None:
        """Every process gathers its part (collective calls); rank 0 writes."""
        optimizer, average = self.engine.optimizer_state_dict(), None
        if self.ema is not None:
            average, self.prog.ema_updates = self.ema.params, self.ema.n
        carry = self.engine.carry_to_numpy(self.carry) if self.carry is not None else None
        optim = ck.pack_optimizer(optimizer, carry, average)
        self.prog.seconds = self._base_seconds + time.perf_counter() - self._t0
        state = {"step": self.prog.step, "progress": self.prog.__dict__, "rng": self.engine.rng_state(),
                 "threads": self.threads}
        if self.is_main:
            ck.save_checkpoint(self.run, self.engine.state_dict(), optim, state)
        self._saved_step = self.prog.step
        self._last_save = time.perf_counter()
