"""Crash-safety soak: SIGKILL a training at random moments, many times over.

After every kill the run folder must load (the tests' assert_loadable: the checkpoint files agree
with each other and open as a run), and resuming a copy of it to the end must give, bit for bit, the
weights, optimizer state, RNG state and best model of an uninterrupted run. ``--save-every 1`` makes
the training write a checkpoint after every step, so most kills land inside a write; the script counts
how many left temporary files behind (killed mid-write). Not a CI test (CI keeps the three-kill test
of tests/test_lm_resume.py): a check to run by hand, in the dev environment (it uses tests/lm_helpers.py).

    .venv/bin/python scripts/soak_kill.py                 # 20 kills, seed 0
    .venv/bin/python scripts/soak_kill.py --kills 50 --seed 3
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprnn.lm import checkpoint as ck

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lm_helpers import TINY_FLAGS, assert_loadable, write_corpus  # noqa: E402 - the tests' own checks

# The tests' tiny run, deeper, with dropout and a weight average, so that more state must survive a kill
FLAGS = [*TINY_FLAGS, "--layers", "2", "--dropout", "0.2", "--ema", "0.9", "--eval-every", "25"]


def deeprnn(*argv, wait: bool = True):
    cmd = [sys.executable, "-m", "deeprnn", *map(str, argv)]
    if wait:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
        return done
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def step_of(run: Path) -> int:
    try:
        return json.loads((run / ck.STATE).read_text())["step"]
    except (OSError, ValueError, KeyError):
        return -1


def identical(a: Path, b: Path) -> list[str]:
    """What differs between two finished runs (empty: bit-identical)."""
    ca, cb = ck.load_checkpoint(a), ck.load_checkpoint(b)
    diffs = [f"{what}:{k}" for what, x, y in (("model", ca.model, cb.model), ("optimizer", ca.optimizer, cb.optimizer))
             for k in sorted(set(x) | set(y)) if k not in x or k not in y or not np.array_equal(x[k], y[k])]
    if ca.state["rng"] != cb.state["rng"]:
        diffs.append("rng")
    best_a, _ = ck.load_tensors(a / ck.BEST / ck.MODEL, ck.MODEL_FORMAT)
    best_b, _ = ck.load_tensors(b / ck.BEST / ck.MODEL, ck.MODEL_FORMAT)
    diffs += [f"best:{k}" for k in best_a if not np.array_equal(best_a[k], best_b[k])]
    rows = [json.loads(line) for line in (a / ck.METRICS).read_text().splitlines() if line.strip()]
    for kind in ("val_loss", "loss"):
        steps = [r["step"] for r in rows if kind in r]
        if steps != sorted(set(steps)):
            diffs.append(f"metrics.jsonl: repeated {kind} rows")
    return diffs


def leftovers(run: Path) -> list[str]:
    return sorted(p.name for folder in (run, run / ck.BEST) if folder.is_dir() for p in folder.iterdir()
                  if p.name.endswith((".new", ".prev")) or ".tmp-" in p.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=150, help="max_steps of the run (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="deeprnn-soak-"))
    corpus = write_corpus(root, 1500)
    flags = [*FLAGS, "--corpus", corpus, "--max-steps", args.steps, "--save-every", 1]
    t0 = time.perf_counter()
    deeprnn("train", *flags, "--out", root / "straight")
    print(f"uninterrupted run: {args.steps} steps in {time.perf_counter() - t0:.1f} s", flush=True)

    run, results, mid_write = root / "run", [], 0
    while len(results) < args.kills:
        kill = len(results) + 1
        resume = step_of(run) >= 1
        proc = deeprnn("train", *(["--resume", run] if resume else [*flags, "--out", run, "--overwrite"]), wait=False)
        before, end = max(step_of(run), 0), time.monotonic() + 120
        while step_of(run) <= before and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)  # until this process has written a checkpoint of its own
        time.sleep(rng.uniform(0.0, 0.4))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        err = proc.communicate()[1].decode()
        if finished:  # it reached max_steps before the kill: start a new run and try again
            if proc.returncode:
                sys.exit(f"training failed:\n{err[-3000:]}")
            shutil.rmtree(run)
            print("the run had finished before the kill; starting over", flush=True)
            continue
        left = leftovers(run)
        mid_write += bool(left)
        try:
            step = assert_loadable(run)
        except Exception as e:  # noqa: BLE001 - the soak reports every failure
            results.append((kill, False, f"not loadable: {e}"))
            print(f"kill {kill:2d}: NOT LOADABLE: {e}", flush=True)
            continue
        copy = root / f"resumed-{kill}"
        shutil.copytree(run, copy)
        deeprnn("train", "--resume", copy)
        diffs = identical(copy, root / "straight")
        shutil.rmtree(copy)
        results.append((kill, not diffs, ", ".join(diffs)))
        print(f"kill {kill:2d}: at step {step:3d}, loadable, resumed to {args.steps}: "
              f"{'bit-identical' if not diffs else 'DIFFERS: ' + ', '.join(diffs)}"
              f"{'  (left ' + ', '.join(left) + ')' if left else ''}", flush=True)

    good = sum(ok for _, ok, _ in results)
    print(f"\n{good} of {len(results)} kills loadable and bit-identical after resume "
          f"({mid_write} of them landed inside a write, leaving temporary files); {time.perf_counter() - t0:.0f} s")
    if not args.keep:
        shutil.rmtree(root)
    else:
        print(f"kept {root}")
    return 0 if good == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
