"""The results of a comparison, read from its run folders: one row per run, as Markdown and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .. import checkpoint as ck
from .grid import Cell


@dataclass
class Row:
    cell: Cell
    run: Path
    status: str  # "done", "interrupted at step 300", "failed: ...", "not run"
    unit: str = "char"  # what a token is ("char", "word")
    vocab_size: int | None = None
    parameters: int | None = None
    steps: int | None = None
    seconds: float | None = None  # wall time, evaluation and checkpoints included
    train_seconds: float | None = None  # of which in training steps
    tokens: int | None = None
    best_loss: float | None = None  # best validation loss, nats per token
    best_step: int | None = None
    curve: list = field(default_factory=list)  # [(step, seconds, validation perplexity), ...]
    load: tuple | None = None  # (start, end) 1-minute load average of the latest session

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.train_seconds if self.tokens and self.train_seconds else None

    @property
    def best_ppl(self) -> float | None:
        return math.exp(self.best_loss) if self.best_loss is not None else None

    @property
    def best_bits(self) -> float | None:
        return self.best_loss / math.log(2) if self.best_loss is not None else None


def read_row(cell: Cell, run: Path, status: str, load: tuple | None = None) -> Row:
    """What the run folder says about the run (the fields stay None for a run that saved nothing)."""
    row = Row(cell, run, status, load=load)
    if (run / ck.VOCAB).exists():
        vocab = json.loads((run / ck.VOCAB).read_text(encoding="utf-8"))
        row.unit, row.vocab_size = vocab.get("level", "char"), len(vocab.get("idx_to_token", [])) or None
    try:
        state = ck.read_json(run / ck.STATE, "trainer state")
    except ck.CheckpointError:
        return row
    p = state.get("progress", {})
    row.steps, row.tokens, row.seconds = p.get("step"), p.get("tokens"), p.get("seconds")
    row.train_seconds = p.get("train_seconds")
    if math.isfinite(p.get("best_val_loss", math.inf)):
        row.best_loss, row.best_step = p["best_val_loss"], p.get("best_step")
    row.parameters = count_parameters(run / ck.MODEL)
    if (run / ck.METRICS).exists():
        lines = (run / ck.METRICS).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        row.curve = [(r["step"], r["seconds"], r["val_ppl"]) for r in rows if "val_ppl" in r]
    return row


def count_parameters(path: Path) -> int | None:
    """The number of parameters in a safetensors file, from its header (no tensor is read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    except Exception:  # noqa: BLE001 - a damaged file: the count is unknown, the row still shows
        return None


def columns(rows: list[Row]) -> list[str]:
    """The varied settings, then the measurements."""
    names = [axis.name for axis, _ in rows[0].cell.settings] if rows else []
    units = {r.unit for r in rows}
    bits = f"bits/{units.pop()}" if len(units) == 1 else "bits/token"
    extra = ["status"] if any(r.status != "done" for r in rows) else []
    return [*names, "parameters", "steps", "seconds", "tokens/s", "best val ppl", bits, "load", *extra]


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _cells(row: Row, best: float | None) -> list[str]:
    ppl = _fmt(row.best_ppl, ".3f")
    if ppl and best is not None and row.best_ppl == best:
        ppl = f"**{ppl}**"
    load = f"{row.load[0]:.1f} → {row.load[1]:.1f}" if row.load and None not in row.load else ""
    return [*row.cell.labels().values(), _fmt(row.parameters, ",d"), _fmt(row.steps, ",d"), _fmt(row.seconds, ".0f"),
            _fmt(row.tokens_per_s, ",.0f"), ppl, _fmt(row.best_bits, ".3f"), load]


def markdown(rows: list[Row]) -> str:
    """The table in Markdown, the best validation perplexity in bold."""
    head = columns(rows)
    best = min((r.best_ppl for r in rows if r.best_ppl is not None), default=None)
    text = len(rows[0].cell.settings) if rows else 0  # the settings (and the status) align left, numbers right
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i < text or h == "status" else "---:" for i, h in enumerate(head)) + "|"]
    for r in rows:
        cells = _cells(r, best) + ([r.status] if "status" in head else [])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


CSV_FIELDS = ("run", "status", "parameters", "steps", "seconds", "train_seconds", "tokens_per_s", "best_val_ppl",
              "best_val_bits", "unit", "best_step", "load_start", "load_end")


def to_csv(rows: list[Row]) -> str:
    """The table with full precision: the varied settings, then CSV_FIELDS."""
    names = [axis.name for axis, _ in rows[0].cell.settings] if rows else []
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([*names, *CSV_FIELDS])
    for r in rows:
        load = r.load or (None, None)
        values = [r.run.name, r.status, r.parameters, r.steps, r.seconds, r.train_seconds, r.tokens_per_s,
                  r.best_ppl, r.best_bits, r.unit, r.best_step, *load]
        out.writerow([*r.cell.labels().values(), *("" if v is None else v for v in values)])
    return buf.getvalue()
