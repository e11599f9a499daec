"""Run folders and crash-safe checkpoints. Nothing is ever unpickled: tensors are safetensors, the rest JSON.

    RUN/config.json            the RunConfig and the corpus fingerprint (written at the start; the
                               run's source of truth; see lm/runs.py)
    RUN/vocab.json             the vocabulary
    RUN/model.safetensors      parameters at the last checkpoint (canonical names, see lm/engines/base.py)
    RUN/optimizer.safetensors  optimizer buffers, the carried recurrent state ("carry.h", "carry.c")
                               and the weight average ("ema.<name>"): see pack_optimizer
    RUN/trainer_state.json     step, counters, RNG state, and the SHA-256 of the two files above
    RUN/best/model.safetensors the parameters with the best validation loss so far
    RUN/metrics.jsonl          one JSON row per evaluation (and per skipped step)
    RUN/curves.png             the plot of metrics.jsonl (lm/plots.py)
    RUN/.lock                  while a training runs: its PID, and the lock (lm/lock.py)

This module owns those names: everything else refers to them through the constants below.

Every file is written to a temporary name and moved into place with os.replace, so each file is
always whole. The three checkpoint files must also agree with each other; trainer_state.json is
written last and records the checksums of the other two. While a new checkpoint is moved in, the
previous one is kept as hard links (``*.prev``); if a kill lands between the moves, loading finds a
checksum mismatch and falls back to the previous checkpoint. So a kill at any moment leaves a
loadable, consistent checkpoint.

Every safetensors file also records the SHA-256 of its tensors in its own metadata ("tensors_sha256",
over names, shapes, dtypes and bytes), checked whenever it is loaded: a damaged best/model.safetensors
is found as surely as a damaged checkpoint. Files written before that was recorded load unchecked.
What kills leave behind (``.*.tmp-PID``, ``.*.new``, and ``*.prev`` once the checkpoint they back up
is whole again) is removed when a training next locks the folder (remove_stale_files).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DeeprnnError
from .divergence import DivergenceError, check_weights, nonfinite

MODEL, OPTIM, STATE = "model.safetensors", "optimizer.safetensors", "trainer_state.json"
CONFIG, VOCAB = "config.json", "vocab.json"
METRICS, CURVES, BEST = "metrics.jsonl", "curves.png", "best"  # BEST is a folder holding a MODEL
LOCK = ".lock"  # held by the training that writes the folder (lm/lock.py)
TENSORS_SHA256 = "tensors_sha256"  # safetensors metadata: params_digest of the file's tensors
CARRY, EMA = "carry.", "ema."  # key prefixes of the extra entries in OPTIM (see pack_optimizer)
MODEL_FORMAT, OPTIM_FORMAT, STATE_FORMAT = "deeprnn-model/1", "deeprnn-optimizer/1", "deeprnn-trainer/1"


class CheckpointError(DeeprnnError):
    """A run folder or file that is missing, damaged or not deeprnn's."""


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then move it over ``path`` in one step."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8"))


def read_json(path: Path, what: str) -> dict:
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: expected the {what}, got no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: expected the {what} as JSON, got a damaged file ({e})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected the {what} as a JSON object, got {type(obj).__name__}")
    return obj


def save_tensors(path: Path, tensors: dict, fmt: str, meta: dict | None = None) -> None:
    """A deeprnn tensor file: ``fmt`` and ``meta`` in its metadata, with the SHA-256 of its tensors, which
    load_tensors checks."""
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {"format": fmt, **{k: str(v) for k, v in (meta or {}).items()}, TENSORS_SHA256: params_digest(arrays)}
    write_safetensors(path, arrays, metadata)


def write_safetensors(path: Path, tensors: dict, metadata: dict) -> None:
    """The one writer of tensor files (checkpoints, best model, export): atomic, and never with a
    tensor that is not finite (DivergenceError; the file on disk stays as it was)."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    _require_finite(arrays, path)

    def write(tmp: Path) -> None:
        try:
            save_file(arrays, str(tmp), metadata=metadata)
        except SafetensorError as e:  # an I/O error, in safetensors' own type
            raise CheckpointError(f"{path}: could not write it ({e})") from None

    atomic_write(path, write)


def _require_finite(tensors: dict, path: Path) -> None:
    bad = nonfinite(tensors)
    if bad:
        raise DivergenceError(f"{path}: refusing to write non-finite values in {bad}; the file on disk is unchanged")


def load_tensors(path: Path, fmt: str) -> tuple[dict, dict]:
    """(tensors, metadata) from a safetensors file written by save_tensors with this ``fmt``."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: expected a {fmt} file, got no such file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: expected a safetensors file, got a damaged or foreign file ({e})") from None
    if meta.get("format") != fmt:
        raise CheckpointError(f"{path}: expected format {fmt!r}, got {meta.get('format')!r}")
    expected = meta.get(TENSORS_SHA256)
    if expected is not None and expected != (actual := params_digest(tensors)):
        raise CheckpointError(f"{path}: expected tensors with SHA-256 {expected[:16]}… (recorded when it was written), "
                              f"got {actual[:16]}…: the file is damaged")
    return tensors, meta


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def params_digest(params: dict) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of a parameter dict (to compare processes)."""
    h = hashlib.sha256()
    for k in sorted(params):
        a = np.ascontiguousarray(params[k])
        h.update(f"{k}{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class Checkpoint:
    model: dict  # canonical parameter name -> array
    optimizer: dict  # the entries of optimizer.safetensors: optimizer buffers, carry.*, ema.* (unpack_optimizer)
    state: dict  # trainer_state.json


def pack_optimizer(optimizer: dict, carry: dict | None = None, average: dict | None = None) -> dict:
    """The entries of optimizer.safetensors: the optimizer's buffers, the weight average as
    "ema.<parameter>" and the carried recurrent state as "carry.h" (and "carry.c")."""
    entries = dict(optimizer)
    for prefix, extra in ((EMA, average), (CARRY, carry)):
        entries.update({prefix + k: v for k, v in (extra or {}).items()})
    return entries


def unpack_optimizer(entries: dict) -> tuple[dict, dict, dict]:
    """(optimizer buffers, carry, average) from the entries pack_optimizer made; carry and average are
    empty when the run saved none."""
    optimizer, carry, average = {}, {}, {}
    for k, v in entries.items():
        if k.startswith(CARRY):
            carry[k[len(CARRY):]] = v
        elif k.startswith(EMA):
            average[k[len(EMA):]] = v
        else:
            optimizer[k] = v
    return optimizer, carry, average


def save_checkpoint(run: Path, model: dict, optimizer: dict, state: dict) -> None:
    """Write the three checkpoint files so that a kill at any moment leaves one consistent checkpoint."""
    run = Path(run)
    _require_finite(model, run / MODEL)  # before anything is written
    _require_finite(optimizer, run / OPTIM)
    tmp_model, tmp_optim = run / f".{MODEL}.new", run / f".{OPTIM}.new"
    save_tensors(tmp_model, model, MODEL_FORMAT, {"step": state.get("step", 0)})
    save_tensors(tmp_optim, optimizer, OPTIM_FORMAT)
    state = {**state, "format": STATE_FORMAT, "sha256": {MODEL: sha256(tmp_model), OPTIM: sha256(tmp_optim)}}
    tmp_state = run / f".{STATE}.new"
    write_json(tmp_state, state)
    names = (MODEL, OPTIM, STATE)
    if _consistent(run):  # keep the previous checkpoint reachable while the new one moves in
        for name in names:
            _link(run / name, run / f"{name}.prev")
    # else the last write was cut short and *.prev holds the last consistent checkpoint: keep it
    for tmp, name in zip((tmp_model, tmp_optim, tmp_state), names):
        os.replace(tmp, run / name)
    _fsync_dir(run)
    for name in names:
        (run / f"{name}.prev").unlink(missing_ok=True)


def _consistent(run: Path) -> bool:
    """Whether the current checkpoint files agree with the checksums in trainer_state.json."""
    try:
        sums = read_json(run / STATE, "trainer state").get("sha256", {})
        return all(sums.get(name) == sha256(run / name) for name in (MODEL, OPTIM))
    except (CheckpointError, OSError, AttributeError):
        return False


def _link(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # file systems without hard links
        import shutil

        shutil.copy2(src, dst)


def load_checkpoint(run: Path) -> Checkpoint:
    """The last consistent checkpoint of a run folder (falling back to the previous one if the last
    write was cut short)."""
    run = Path(run)
    if not (run / STATE).exists() and not (run / f"{STATE}.prev").exists():
        raise CheckpointError(f"{run}: expected a run folder with {STATE}, got none (nothing to resume)")
    problems = []
    for suffix in ("", ".prev"):
        paths = [run / (n + suffix) for n in (MODEL, OPTIM, STATE)]
        if not all(p.exists() for p in paths):
            continue
        try:
            return _load_set(*paths)
        except CheckpointError as e:
            problems.append(str(e))
    raise CheckpointError("; ".join(problems) or f"{run}: expected a complete checkpoint, got missing files")


def _load_set(model_path: Path, optim_path: Path, state_path: Path) -> Checkpoint:
    state = read_json(state_path, "trainer state")
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{state_path}: expected format {STATE_FORMAT!r}, got {state.get('format')!r}")
    sums = state.get("sha256", {})
    for path, name in ((model_path, MODEL), (optim_path, OPTIM)):
        if sums.get(name) != sha256(path):
            raise CheckpointError(f"{path}: expected SHA-256 {sums.get(name)} from {state_path.name}, got a different "
                                  "file (an interrupted write)")
    model, _ = load_tensors(model_path, MODEL_FORMAT)
    optim, _ = load_tensors(optim_path, OPTIM_FORMAT)
    if state_path.name.endswith(".prev"):
        warnings.warn(f"the last checkpoint write in {state_path.parent} was interrupted; using the previous "
                      f"checkpoint (step {state.get('step')})", stacklevel=3)
    return Checkpoint(model, optim, state)


def load_model(run: Path, which: str = "best") -> tuple[dict, dict]:
    """Parameters for evaluation or generation: (tensors, metadata). ``which`` is "best" (falling back
    to "last" when no validation has run yet) or "last"."""
    run = Path(run)
    tensors, meta, path = _load_model(run, which)
    check_weights(tensors, path)  # a diverged model is an error, not "perplexity nan"
    return tensors, meta


def _load_model(run: Path, which: str) -> tuple[dict, dict, Path]:
    if which == "best" and (run / BEST / MODEL).exists():
        try:
            return *load_tensors(run / BEST / MODEL, MODEL_FORMAT), run / BEST / MODEL
        except CheckpointError as e:
            raise CheckpointError(f"{e}; the last checkpoint may still be good: use --last") from None
    try:
        c = load_checkpoint(run)
        return c.model, {"which": "last", "step": c.state.get("progress", {}).get("step")}, run / MODEL
    except CheckpointError:
        if (run / MODEL).exists() and not (run / STATE).exists():  # a bare exported model folder
            return *load_tensors(run / MODEL, MODEL_FORMAT), run / MODEL
        raise


def save_best_model(run: Path, model: dict, step: int, val_loss: float) -> None:
    """Keep ``model`` as the run's best weights (RUN/best/model.safetensors)."""
    (Path(run) / BEST).mkdir(exist_ok=True)
    save_tensors(Path(run) / BEST / MODEL, model, MODEL_FORMAT, {"step": step, "val_loss": val_loss})


def remove_outputs(run: Path) -> None:
    """Delete what training writes (checkpoint, best model, metrics, plot) before a run starts afresh;
    the folder itself, and anything else in it, stays."""
    for name in (STATE, MODEL, OPTIM, METRICS, CURVES, f"{BEST}/{MODEL}"):
        (Path(run) / name).unlink(missing_ok=True)


def remove_stale_files(run: Path, fresh: bool = False) -> list[Path]:
    """Delete what interrupted writes left in ``run`` and ``run/best`` (call it only while holding the
    folder's lock): temporary files of atomic_write (``.NAME.tmp-PID``), unfinished new checkpoint
    files (``.NAME.new``), and the previous checkpoint (``NAME.prev``) when the current one loads, or
    when ``fresh`` (a new run replaces everything). Returns the paths removed."""
    run = Path(run)
    stale = [p for folder in (run, run / BEST) for p in folder.glob(".*.tmp-*") if p.name.rpartition("-")[2].isdigit()]
    stale += [run / f".{name}.new" for name in (MODEL, OPTIM, STATE)]
    prev = [run / f"{name}.prev" for name in (MODEL, OPTIM, STATE)]
    if any(p.exists() for p in prev) and (fresh or _loads(run)):
        stale += prev
    removed = [p for p in stale if p.is_file()]
    for p in removed:
        p.unlink()
    return removed


def _loads(run: Path) -> bool:
    """Whether the current checkpoint (not its *.prev backup) is complete and loads."""
    try:
        _load_set(*(run / name for name in (MODEL, OPTIM, STATE)))
        return True
    except (CheckpointError, OSError):
        return False


def append_metrics(run: Path, row: dict) -> None:
    with open(Path(run) / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def truncate_metrics(run: Path, step: int) -> None:
    """Drop metric rows logged after the checkpoint we resume from (a crash between log and save)."""
    path = Path(run) / METRICS
    if not path.exists():
        return
    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [r for r in rows if json.loads(r).get("step", 0) <= step]
    if len(kept) != len(rows):
        atomic_write(path, lambda tmp: tmp.write_text("".join(r + "\n" for r in kept), encoding="utf-8"))
